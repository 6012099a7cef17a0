"""Staff PINs: scrypt hashes, constant-time checks, and a lock after repeated wrong tries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from passes.errors import InvalidInput, PassesError, Unauthorized
from passes.store import Store
from passes.store.shops import ShopRow
from passes.store.staff import PinRow, pin_of, save_attempts, save_pin

MAX_TRIES = 5
LOCK_TIME = timedelta(minutes=15)
PIN_LENGTH = (4, 12)
# scrypt at n=2**14, r=8 takes ~16 MiB and a few tens of milliseconds: cheap for one
# sign-in, expensive for someone trying every four-digit PIN offline.
_N, _R, _P = 2**14, 8, 1


class NoPin(PassesError):
    """The shop has no staff PIN yet."""


class WrongPin(Unauthorized):
    """The PIN does not match; `tries_left` before the lock."""

    def __init__(self, tries_left: int) -> None:
        super().__init__(f"wrong PIN ({tries_left} tries left)")
        self.tries_left = tries_left


class PinLocked(PassesError):
    """Too many wrong PINs: no sign-in until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"too many wrong PINs: locked until {until:%H:%M} UTC")
        self.until = until


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


@dataclass(frozen=True)
class Attempt:
    """The failed-try count and lock to store, before and after checking one PIN."""

    failed: int
    locked_until: datetime | None


def reserve(row: PinRow, now: datetime) -> Attempt:
    """Count this try as failed up front, or refuse while the lock holds."""
    if row.locked_until is not None and row.locked_until > now:
        raise PinLocked(row.locked_until)
    failed = 0 if row.locked_until is not None else row.failed_attempts
    return Attempt(failed + 1, None)


def settle(reserved: Attempt, correct: bool, now: datetime) -> Attempt:
    """A right PIN clears the count; the last allowed wrong one starts the lock."""
    if correct:
        return Attempt(0, None)
    if reserved.failed >= MAX_TRIES:
        return Attempt(0, now + LOCK_TIME)
    return reserved


class StaffPins:
    """Setting and checking shops' staff PINs."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def set_pin(self, shop: ShopRow, pin: str) -> None:
        """Set or replace the shop's PIN (signs every staff device out)."""
        pin_hash = hash_pin(check_pin_format(pin))
        async with self.store.transaction() as conn:
            await save_pin(conn, shop.id, pin_hash, datetime.now(UTC))

    async def sign_in(self, shop: ShopRow, pin: str) -> int:
        """The PIN's version for the session, or WrongPin / PinLocked / NoPin."""
        now = datetime.now(UTC)
        async with self.store.transaction() as conn:
            row = await pin_of(conn, shop.id, lock=True)
            if row is None:
                raise NoPin(f"no staff PIN set: run `passes shop pin --shop {shop.slug}`")
            reserved = reserve(row, now)
            await save_attempts(conn, shop.id, reserved.failed, None)
        # Hash outside the transaction: SQLite's single writer should not wait on scrypt.
        correct = pin_matches(pin, row.pin_hash)
        result = settle(reserved, correct, now)
        if result != reserved:
            async with self.store.transaction() as conn:
                await save_attempts(conn, shop.id, result.failed, result.locked_until)
        if result.locked_until is not None:
            raise PinLocked(result.locked_until)
        if not correct:
            raise WrongPin(MAX_TRIES - result.failed)
        return row.version

    async def version(self, shop: ShopRow) -> int | None:
        """The current PIN version (None without a PIN), to check a staff session against."""
        async with self.store.reading() as conn:
            row = await pin_of(conn, shop.id)
        return None if row is None else row.version
