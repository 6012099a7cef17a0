"""What serving a pass needs, in one round trip: the card, its shop and program, its places.

A phone fetching its pass after a push, and the Add-to-Wallet link, used to read the card,
the shop and the locations in three statements, each a transaction through SQLAlchemy (on
PostgreSQL also a pool ping): the round trips and their overhead cost far more than the
pass's signature. Here one statement answers all of it, the places as a JSON array.

On PostgreSQL it runs on a small raw asyncpg pool (as the stamp path does, see
store/optimistic.py). On SQLite it runs on a plain sqlite3 connection of its own, right in
the event loop: a point read on an index takes microseconds and WAL readers never wait for
the writer, while a trip through aiosqlite's thread cost more than the read itself. It never
waits for a lock there (busy timeout 0): should SQLite answer busy (not in WAL mode, say),
the read goes through the async engine instead.

The shop part of a row is kept, keyed by its own values: equal values give the same ShopRow,
whose program rules are then worked out once, and a changed program or place is a new key,
so it shows at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    ColumnElement,
    FromClause,
    Join,
    Select,
    Text,
    bindparam,
    func,
    select,
    type_coerce,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.cards import _CARD_COLUMNS, CardRow, card_from
from passes.store.shops import _SHOP_COLUMNS, Location, ShopRow, _shop
from passes.store.tables import UtcDateTime, cards, programs, shop_locations, shops

SHOP_PREFIX = "s_"
PLACES = "places"
# Distinct shop parts kept; a process serves a few shops, each changing now and then.
SHOPS_KEPT = 256


@dataclass(frozen=True)
class PassRow:
    """A card with everything its pass shows of the shop."""

    card: CardRow
    shop: ShopRow
    places: tuple[Location, ...]


def _places_json(postgres: bool) -> ColumnElement[str]:
    """The shop's places as one JSON array of [id, address, latitude, longitude]."""
    place = shop_locations.c
    if postgres:
        entry = func.json_build_array(place.id, place.address, place.latitude, place.longitude)
        array = func.json_agg(entry)
    else:
        array = func.json_group_array(
            func.json_array(place.id, place.address, place.latitude, place.longitude)
        )
    found = select(array).where(place.shop_id == cards.c.shop_id).scalar_subquery()
    return type_coerce(found, Text).label(PLACES)


def pass_columns(postgres: bool) -> list[ColumnElement[Any]]:
    """The card's columns, the shop's and program's (prefixed) and the places."""
    shop_columns = [column.label(SHOP_PREFIX + column.name) for column in _SHOP_COLUMNS]
    return [*_CARD_COLUMNS, *shop_columns, _places_json(postgres)]


def with_shop(cards_joined: FromClause) -> Join:
    """`cards_joined` (cards, or cards joined to something) joined to the shop and program."""
    return cards_joined.join(shops, shops.c.id == cards.c.shop_id).join(
        programs, programs.c.shop_id == cards.c.shop_id
    )


def pass_query(by: ColumnElement[str], postgres: bool) -> Select[Any]:
    """The card whose `by` column equals :value, with its shop, program and places."""
    query = select(*pass_columns(postgres)).select_from(with_shop(cards))
    return query.where(by == bindparam("value"))


SHOP_KEYS = (*(SHOP_PREFIX + column.name for column in _SHOP_COLUMNS), PLACES)


class ShopParts:
    """Shop, program and places of a row, made once per distinct value (see the module)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], tuple[ShopRow, tuple[Location, ...]]] = {}

    def of(self, row: Mapping[str, Any]) -> tuple[ShopRow, tuple[Location, ...]]:
        key = tuple([row[name] for name in SHOP_KEYS])
        found = self._kept.get(key)
        if found is None:
            if len(self._kept) >= SHOPS_KEPT:
                self._kept.clear()
            shop = _shop({name: row[SHOP_PREFIX + name] for name in _shop_names()})
            found = self._kept[key] = (shop, _places(row[PLACES]))
        return found


def _shop_names() -> list[str]:
    return [column.name for column in _SHOP_COLUMNS]


def _places(stored: str | None) -> tuple[Location, ...]:
    """The JSON array back as places, in the order they were added."""
    if not stored:
        return ()
    entries = sorted(orjson.loads(stored))
    return tuple(Location(address, float(lat), float(lon)) for _, address, lat, lon in entries)


# --- SQLite: a plain connection, read in the event loop -------------------------------------


def _converters(query: Select[Any]) -> dict[str, Callable[[Any], Any]]:
    """What SQLAlchemy's types would do to the raw sqlite3 values, by column."""
    found: dict[str, Callable[[Any], Any]] = {}
    for name, column in query.selected_columns.items():
        if isinstance(column.type, UtcDateTime):
            found[name] = _sqlite_datetime
        elif isinstance(column.type, Boolean):
            found[name] = bool
    return found


def _sqlite_datetime(stored: str) -> datetime:
    """SQLAlchemy's stored text ("2025-01-31 12:00:00.000000", UTC) as an aware datetime."""
    return datetime.fromisoformat(stored).replace(tzinfo=UTC)


@dataclass(frozen=True)
class _SqliteQuery:
    """One pass query compiled for sqlite3, with its column names and value converters."""

    query: Select[Any]
    sql: str
    names: tuple[str, ...]
    converters: Mapping[str, Callable[[Any], Any]]

    @classmethod
    def of(cls, query: Select[Any]) -> _SqliteQuery:
        sql = str(query.compile(dialect=sqlite.dialect()))
        return cls(query, sql, tuple(query.selected_columns.keys()), _converters(query))

    def row(self, values: Sequence[Any]) -> dict[str, Any]:
        row = dict(zip(self.names, values, strict=True))
        for name, convert in self.converters.items():
            if row[name] is not None:
                row[name] = convert(row[name])
        return row


BY_SERIAL = pass_query(cards.c.serial, postgres=False)
BY_SECRET = pass_query(cards.c.page_secret, postgres=False)
SQLITE_BY_SERIAL = _SqliteQuery.of(BY_SERIAL)
SQLITE_BY_SECRET = _SqliteQuery.of(BY_SECRET)


class SqlitePassReads:
    """Pass reads on SQLite: a sqlite3 connection of its own, the async engine as fallback."""

    def __init__(
        self,
        path: Path | None,
        reading: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
    ) -> None:
        self._path = path
        self._reading = reading
        self._connection: sqlite3.Connection | None = None
        self._shops = ShopParts()

    async def by_serial(self, serial: str) -> PassRow | None:
        """The card `serial` (any shop) with its shop and places, or None."""
        return await self._one(SQLITE_BY_SERIAL, serial)

    async def by_secret(self, page_secret: str) -> PassRow | None:
        """The card behind a card-page secret with its shop and places, or None."""
        return await self._one(SQLITE_BY_SECRET, page_secret)

    async def _one(self, query: _SqliteQuery, value: str) -> PassRow | None:
        try:
            row = self._read_now(query, value)
        except sqlite3.OperationalError:
            # Busy or locked (no waiting in the event loop), or anything odd: the async way.
            async with self._reading() as conn:
                row = (await conn.execute(query.query, {"value": value})).mappings().first()
        if row is None:
            return None
        return PassRow(card_from(row), *self._shops.of(row))

    def _read_now(self, query: _SqliteQuery, value: str) -> Mapping[str, Any] | None:
        if self._path is None:
            raise sqlite3.OperationalError("an in-memory database has no second connection")
        if self._connection is None:
            self._connection = _open_reader(self._path)
        found = self._connection.execute(query.sql, (value,)).fetchone()
        return None if found is None else query.row(found)

    async def close(self) -> None:
        """Close the connection (it opens again when asked)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _open_reader(path: Path) -> sqlite3.Connection:
    # Autocommit: each read is its own snapshot, no transaction is left open between reads.
    connection = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA query_only=ON")
    return connection
