"""Queries about a shop's places, which are its branches too: add, list, rename, remove,
and find one by id, name or address."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.errors import Conflict, NotFound
from passes.store.tables import shop_locations

MAX_LOCATIONS = 10


@dataclass(frozen=True)
class Location:
    """A place of the shop; the pass surfaces near it. It is a branch too: staff and stamps
    may belong to it (`id`, shop_locations.id, None before it is stored), called by its
    `name` (None: by its address). Passes show only the address and coordinates."""

    address: str
    latitude: float
    longitude: float
    name: str | None = None
    id: int | None = None

    @property
    def label(self) -> str:
        """What the branch is called: its name, else its address."""
        return self.name or self.address


async def add_location(conn: AsyncConnection, shop_id: int, location: Location) -> None:
    """Add a place; a shop has at most MAX_LOCATIONS (Apple Wallet shows no more)."""
    count = (
        select(func.count()).select_from(shop_locations).where(shop_locations.c.shop_id == shop_id)
    )
    if (await conn.execute(count)).scalar_one() >= MAX_LOCATIONS:
        raise Conflict(f"a shop has at most {MAX_LOCATIONS} locations", "too_many_locations")
    if location.name is not None:
        await _check_name_free(conn, shop_id, location.name)
    place = {key: value for key, value in location.__dict__.items() if key != "id"}
    await conn.execute(insert(shop_locations).values(shop_id=shop_id, **place))


async def _check_name_free(
    conn: AsyncConnection, shop_id: int, name: str, branch_id: int | None = None
) -> None:
    """Conflict when another branch of the shop is called `name` (any case): the API and the
    CLI find a branch by its name."""
    query = select(shop_locations.c.id, shop_locations.c.name).where(
        shop_locations.c.shop_id == shop_id
    )
    for row_id, other in (await conn.execute(query)).all():
        if row_id != branch_id and (other or "").casefold() == name.casefold():
            raise Conflict(f"another branch is called {name!r} already", "branch_name_taken")


async def rename_location(
    conn: AsyncConnection, shop_id: int, branch_id: int, name: str | None
) -> None:
    """Name the shop's branch (None: called by its address again)."""
    if name is not None:
        await _check_name_free(conn, shop_id, name, branch_id)
    await conn.execute(
        shop_locations.update()
        .where(shop_locations.c.shop_id == shop_id, shop_locations.c.id == branch_id)
        .values(name=name)
    )


async def locations_of(conn: AsyncConnection, shop_id: int) -> list[Location]:
    """The shop's places, in the order they were added."""
    query = (
        select(*_PLACE_COLUMNS)
        .where(shop_locations.c.shop_id == shop_id)
        .order_by(shop_locations.c.id)
    )
    return [Location(*row) for row in (await conn.execute(query)).all()]


_PLACE_COLUMNS = (
    shop_locations.c.address,
    shop_locations.c.latitude,
    shop_locations.c.longitude,
    shop_locations.c.name,
    shop_locations.c.id,
)


async def remove_location(
    conn: AsyncConnection, shop_id: int, position: int, address: str | None = None
) -> Location:
    """Remove the shop's place at `position` (1-based, in the order listed); NotFound when
    there is none, Conflict when `address` is given and the place there is another (the list
    changed since it was shown)."""
    places = await locations_of(conn, shop_id)
    if not 1 <= position <= len(places):
        raise NotFound(f"no location {position} (the shop has {len(places)})")
    found = places[position - 1]
    if address is not None and found.address != address:
        raise Conflict("the locations changed since they were shown", "locations_changed")
    # The branch's people keep working without it (staff_members.branch_id SET NULL); the
    # ledger keeps its id (no foreign key), shown as a removed branch.
    await conn.execute(shop_locations.delete().where(shop_locations.c.id == found.id))
    return found


async def find_branch(conn: AsyncConnection, shop_id: int, named: str) -> int:
    """The id of the shop's branch (location) given by id, name or address (any case);
    NotFound when the shop has none such."""
    query = select(shop_locations.c.id, shop_locations.c.name, shop_locations.c.address).where(
        shop_locations.c.shop_id == shop_id
    )
    wanted = named.strip().casefold()
    for row_id, name, address in (await conn.execute(query)).all():
        if wanted in (str(row_id), (name or "").casefold(), address.casefold()):
            return int(row_id)
    raise NotFound(f"no branch {named!r} at this shop")


@dataclass(frozen=True)
class Branch:
    """A branch (location) of the shop: its id and the name shown, coalesce(name, address)."""

    id: int
    name: str


_BRANCH_NAME = func.coalesce(shop_locations.c.name, shop_locations.c.address)


async def branches_of(conn: AsyncConnection, shop_id: int) -> list[Branch]:
    """The shop's branches in the order they were added."""
    query = (
        select(shop_locations.c.id, _BRANCH_NAME)
        .where(shop_locations.c.shop_id == shop_id)
        .order_by(shop_locations.c.id)
    )
    return [Branch(int(row[0]), str(row[1])) for row in (await conn.execute(query)).all()]


async def branch_named(conn: AsyncConnection, shop_id: int, branch_id: int | None) -> str | None:
    """The shown name of the shop's branch `branch_id`; None for none (or one removed)."""
    if branch_id is None:
        return None
    query = select(_BRANCH_NAME).where(
        shop_locations.c.id == branch_id, shop_locations.c.shop_id == shop_id
    )
    found = (await conn.execute(query)).scalar_one_or_none()
    return None if found is None else str(found)
