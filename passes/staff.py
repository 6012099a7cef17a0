"""Staff PINs: scrypt hashes, constant-time checks, sign-in within the lock-out limits.

A shop with people (people.py) signs each in by name and their own PIN; a shop without keeps
its one shared PIN (the migration path of older shops)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from sqlalchemy.ext.asyncio import AsyncConnection

from passes.errors import Forbidden, InvalidInput, PassesError, Unauthorized
from passes.lockout import (
    LOCK_TIME,
    SHOP_BUCKET,
    SHOP_WINDOW,
    Client,
    PinLocked,
    Tries,
    after_wrong_pin,
    client_verdict,
    shop_verdict,
)
from passes.sessions import STAFF, open_session
from passes.store import Store
from passes.store.people import MANAGER_ROLE, Person, has_people, person_named
from passes.store.sessions import end_sessions
from passes.store.shops import ShopRow
from passes.store.sign_in_limits import count_try, lift_locks, signed_in
from passes.store.staff import pin_of, save_pin

PIN_LENGTH = (4, 12)
# scrypt at n=2**14, r=8 takes ~16 MiB and a few tens of milliseconds: cheap for one
# sign-in, expensive for someone trying every four-digit PIN offline.
_N, _R, _P = 2**14, 8, 1


class NoPin(PassesError):
    """The shop has no staff PIN yet."""


class NameNeeded(PassesError):
    """The shop has people: sign in with a name and that person's PIN."""


class NotManager(Forbidden):
    """Signed in right, but this place (dashboard, counter page) is for managers."""


class WrongPin(Unauthorized):
    """The PIN does not match; `tries_left` before the lock."""

    def __init__(self, tries_left: int) -> None:
        super().__init__(f"wrong PIN ({tries_left} tries left)")
        self.tries_left = tries_left


def check_pin_format(pin: str) -> str:
    """A PIN is 4 to 12 digits."""
    low, high = PIN_LENGTH
    if not (pin.isascii() and pin.isdigit() and low <= len(pin) <= high):
        raise InvalidInput(f"the staff PIN must be {low} to {high} digits")
    return pin


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash`, all we need to check the PIN later."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def pin_matches(pin: str, stored: str) -> bool:
    """True when `pin` hashes to `stored`, compared in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            pin.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@cache
def _nobody() -> str:
    """Checked against when no one has the name typed, so an unknown name costs the same
    scrypt (made on first use: importing should not cost a hash)."""
    return hash_pin("0000", b"passes-no-person")


@dataclass(frozen=True)
class _Holder:
    """Whose PIN a sign-in checks: a person's, or the shop's shared one at `version`."""

    pin_hash: str
    person: Person | None = None
    version: int | None = None


class StaffPins:
    """Setting and checking shops' staff PINs."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def set_pin(self, shop: ShopRow, pin: str) -> None:
        """Set or replace the shop's PIN: signs every staff device out and lifts every lock."""
        pin_hash = hash_pin(check_pin_format(pin))
        async with self.store.transaction() as conn:
            await save_pin(conn, shop.id, pin_hash, datetime.now(UTC))
            await end_sessions(conn, shop.id, STAFF)
            await lift_locks(conn, shop.id)

    async def sign_in(
        self,
        shop: ShopRow,
        pin: str,
        client: Client,
        *,
        name: str = "",
        kind: str = STAFF,
        branch_id: int | None = None,
    ) -> str:
        """A session's token, or WrongPin / PinLocked / PinsSlowed / NoPin / NameNeeded /
        NotManager. `kind` other than STAFF (the dashboard, the counter page) takes a manager;
        the session works for `branch_id`, else for the person's branch.

        The try is counted (and refused past the limits) in the database before the PIN is
        hashed, so no number of parallel tries gets more than the allowed checks.
        """
        tries, holder = await self._count(shop, client, name, kind)
        # Hash outside the transaction: SQLite's single writer should not wait on scrypt.
        if pin_matches(pin, holder.pin_hash):
            async with self.store.transaction() as conn:
                if await _still_holds(conn, shop.id, holder):
                    person = holder.person
                    if kind != STAFF and (person is None or person.role != MANAGER_ROLE):
                        raise NotManager("only a manager signs in here")
                    if client.device_bucket is not None:
                        await signed_in(conn, shop.id, client.device_bucket)
                    return await open_session(
                        conn,
                        shop.id,
                        kind,
                        staff_id=None if person is None else person.id,
                        branch_id=branch_id if person is None else branch_id or person.branch_id,
                    )
        left, locked_until = after_wrong_pin(tries)
        if locked_until is not None:
            raise PinLocked(locked_until)
        raise WrongPin(left)

    async def _count(
        self, shop: ShopRow, client: Client, name: str, kind: str
    ) -> tuple[Tries, _Holder]:
        now = datetime.now(UTC)
        ends = now + LOCK_TIME
        async with self.store.transaction() as conn:
            holder = await _holder(conn, shop, name, kind)
            device = client.device_bucket
            count = None if device is None else await count_try(conn, shop.id, device, now, ends)
            address = None
            if count is None or not count.known:
                address = await count_try(conn, shop.id, client.address_bucket, now, ends)
            tries = Tries(count, address)
            refusal: PassesError | None = client_verdict(tries)
            if refusal is None and not tries.known:
                window = now + SHOP_WINDOW
                refusal = shop_verdict(await count_try(conn, shop.id, SHOP_BUCKET, now, window))
        if refusal is not None:
            raise refusal
        return tries, holder


async def _holder(conn: AsyncConnection, shop: ShopRow, name: str, kind: str) -> _Holder:
    """Whose PIN to check: the named person's, else (a shop without people) the shared one."""
    if await has_people(conn, shop.id):
        if not name.strip():
            raise NameNeeded("sign in with your name and your own PIN")
        person = await person_named(conn, shop.id, name)
        return _Holder(_nobody()) if person is None else _Holder(person.pin_hash, person)
    if kind != STAFF:
        raise NotManager(
            f"add a manager first: passes staff add --shop {shop.slug} --name … --role manager"
        )
    row = await pin_of(conn, shop.id)
    if row is None:
        raise NoPin(f"no staff PIN set: run `passes shop pin --shop {shop.slug}`")
    return _Holder(row.pin_hash, version=row.version)


async def _still_holds(conn: AsyncConnection, shop_id: int, holder: _Holder) -> bool:
    """Whether the PIN checked is still the one in force (not changed or removed since)."""
    if holder.person is not None:
        now = await person_named(conn, shop_id, holder.person.name)
        return now is not None and now.id == holder.person.id
    if holder.version is None:
        return False  # the name matched no one
    row = await pin_of(conn, shop_id, lock=True)
    return row is not None and row.version == holder.version
