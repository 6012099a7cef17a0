"""Queries about a shop's people: add, list, find by name, remove (kept for the ledger)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.errors import Conflict, NotFound
from passes.store.tables import sessions, shop_locations, staff_members

STAFF_ROLE = "staff"
MANAGER_ROLE = "manager"
ROLES = (STAFF_ROLE, MANAGER_ROLE)


@dataclass(frozen=True)
class Person:
    """One of the shop's people as stored; the PIN hash never shows in a repr."""

    id: int
    shop_id: int
    name: str
    role: str
    branch_id: int | None
    branch_name: str | None
    pin_hash: str = field(repr=False)


def name_key(name: str) -> str:
    """The name as compared: trimmed and case-folded, inner spaces collapsed."""
    return " ".join(name.split()).casefold()


_PEOPLE = (
    select(
        staff_members.c.id,
        staff_members.c.shop_id,
        staff_members.c.name,
        staff_members.c.role,
        staff_members.c.branch_id,
        func.coalesce(shop_locations.c.name, shop_locations.c.address).label("branch_name"),
        staff_members.c.pin_hash,
    )
    .select_from(
        staff_members.outerjoin(shop_locations, shop_locations.c.id == staff_members.c.branch_id)
    )
    .where(staff_members.c.removed_at.is_(None))
)


async def add_person(
    conn: AsyncConnection,
    shop_id: int,
    name: str,
    pin_hash: str,
    role: str,
    branch_id: int | None,
    now: datetime,
) -> int:
    """Add a person; Conflict when the shop has someone of that name already."""
    if branch_id is not None:
        owned = select(shop_locations.c.id).where(
            shop_locations.c.id == branch_id, shop_locations.c.shop_id == shop_id
        )
        if (await conn.execute(owned)).first() is None:
            raise NotFound(f"no branch {branch_id} at this shop")
    values = dict(
        shop_id=shop_id,
        name=" ".join(name.split()),
        name_key=name_key(name),
        pin_hash=pin_hash,
        role=role,
        branch_id=branch_id,
        created_at=now,
    )
    try:
        async with conn.begin_nested():
            added = await conn.execute(insert(staff_members).values(values))
    except IntegrityError:
        raise Conflict(f"the shop has someone called {name!r} already", "name_taken") from None
    return int(added.inserted_primary_key[0])  # type: ignore[index]


async def end_shared_sessions(conn: AsyncConnection, shop_id: int, kind: str) -> None:
    """End the shop's sessions of `kind` signed in with the shared PIN (no person): once the
    shop has people, the shared PIN no longer signs in, and devices it signed in stop too."""
    await conn.execute(
        sessions.delete().where(
            sessions.c.shop_id == shop_id, sessions.c.kind == kind, sessions.c.staff_id.is_(None)
        )
    )


async def people_of(conn: AsyncConnection, shop_id: int) -> list[Person]:
    """The shop's people (not removed), by name."""
    query = _PEOPLE.where(staff_members.c.shop_id == shop_id).order_by(staff_members.c.name_key)
    return [Person(**row) for row in (await conn.execute(query)).mappings()]


async def person_named(conn: AsyncConnection, shop_id: int, name: str) -> Person | None:
    """The shop's person of that name (any case), or None."""
    query = _PEOPLE.where(
        staff_members.c.shop_id == shop_id, staff_members.c.name_key == name_key(name)
    )
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else Person(**row)


async def has_people(conn: AsyncConnection, shop_id: int) -> bool:
    """Whether the shop has added people (then the shared PIN no longer signs in)."""
    query = select(staff_members.c.id).where(
        staff_members.c.shop_id == shop_id, staff_members.c.removed_at.is_(None)
    )
    return (await conn.execute(query.limit(1))).first() is not None


async def remove_person(conn: AsyncConnection, shop_id: int, name: str, now: datetime) -> Person:
    """Remove a person and end their sessions on every device; NotFound when there is none."""
    person = await person_named(conn, shop_id, name)
    if person is None:
        raise NotFound(f"no one called {name!r} at this shop")
    await conn.execute(
        update(staff_members).where(staff_members.c.id == person.id).values(removed_at=now)
    )
    await conn.execute(sessions.delete().where(sessions.c.staff_id == person.id))
    return person


async def names_of(conn: AsyncConnection, staff_ids: set[int]) -> dict[int, str]:
    """People's names by id, removed people included (the ledger names them still)."""
    if not staff_ids:
        return {}
    query = select(staff_members.c.id, staff_members.c.name).where(
        staff_members.c.id.in_(sorted(staff_ids))
    )
    return {int(row.id): str(row.name) for row in await conn.execute(query)}
