"""A shop's people: staff accounts with their own PINs, a role and optionally a branch.

`staff` may stamp, redeem and undo; `manager` may also change the rules, read the figures,
manage people and open the counter page. Once a shop has people, each signs in with their
name and PIN, and the shared PIN of older shops no longer does.
"""

from __future__ import annotations

from datetime import UTC, datetime

from passes.errors import InvalidInput
from passes.sessions import STAFF
from passes.staff import check_pin_format, hash_pin
from passes.store import Store
from passes.store.people import (
    MANAGER_ROLE,
    ROLES,
    STAFF_ROLE,
    Person,
    add_person,
    end_shared_sessions,
    has_people,
    name_key,
    people_of,
    person_named,
    remove_person,
)
from passes.store.shops import ShopRow

NAME_LENGTH = 80

__all__ = [
    "MANAGER_ROLE",
    "ROLES",
    "STAFF_ROLE",
    "People",
    "Person",
    "check_name",
    "check_role",
]


def check_name(name: str) -> str:
    """A person's name: 1 to 80 printable characters, spaces collapsed."""
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > NAME_LENGTH or not cleaned.isprintable():
        raise InvalidInput(f"a name has 1 to {NAME_LENGTH} printable characters")
    if not name_key(cleaned):
        raise InvalidInput("a name needs at least one letter or digit")
    return cleaned


def check_role(role: str) -> str:
    """`staff` or `manager`."""
    if role not in ROLES:
        raise InvalidInput(f"the role is one of {', '.join(ROLES)}")
    return role


class People:
    """Adding, listing and removing the shop's people."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(
        self,
        shop: ShopRow,
        name: str,
        pin: str,
        role: str = STAFF_ROLE,
        branch_id: int | None = None,
    ) -> Person:
        """Add a person with their own PIN; Conflict when the name is taken. Staff devices
        signed in with the shared PIN are signed out (it no longer signs in)."""
        name, role = check_name(name), check_role(role)
        pin_hash = hash_pin(check_pin_format(pin))  # scrypt outside the transaction
        async with self.store.transaction() as conn:
            await add_person(conn, shop.id, name, pin_hash, role, branch_id, datetime.now(UTC))
            await end_shared_sessions(conn, shop.id, STAFF)
            added = await person_named(conn, shop.id, name)
        assert added is not None  # added in this transaction
        return added

    async def list(self, shop: ShopRow) -> list[Person]:
        """The shop's people by name."""
        async with self.store.reading() as conn:
            return await people_of(conn, shop.id)

    async def remove(self, shop: ShopRow, name: str) -> Person:
        """Remove a person: their devices are signed out at once; the ledger keeps their name."""
        async with self.store.transaction() as conn:
            return await remove_person(conn, shop.id, name, datetime.now(UTC))

    async def any(self, shop: ShopRow) -> bool:
        """Whether the shop has people (then each signs in by name; the shared PIN no longer)."""
        async with self.store.reading() as conn:
            return await has_people(conn, shop.id)
