"""Pass reads and key lookups (store/pass_reads.py) on SQLite: a plain sqlite3 connection,
read in the loop.

A point read on an index takes microseconds and WAL readers never wait for the writer, while
a trip through aiosqlite's thread (and SQLAlchemy's transaction around it) cost more than the
read itself. So the reads run right in the event loop, on a connection of their own, the
fetches waiting at that moment together in one statement. It never waits for a lock there
(busy timeout 0): should SQLite answer busy (not in WAL mode, say), the batch goes through
the async engine, which may wait.
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
from sqlalchemy import Boolean, Select, bindparam, func, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.batches import Batcher
from passes.store.pass_reads import (
    BATCH_PATIENCE_SECONDS,
    BATCH_SIZE,
    PassRow,
    ShopParts,
    pass_columns,
    pass_row,
    shop_columns,
    with_key_holder,
    with_shop,
)
from passes.store.shops import ShopRow
from passes.store.tables import UtcDateTime, api_keys, cards

Row = Mapping[str, Any]


def _asked() -> Select[Any]:
    """The values of the JSON array :values."""
    return select(func.json_each(bindparam("values")).table_valued("value").c.value)


def _batch_query(by: str) -> Select[Any]:
    """The cards whose `by` column is one of the JSON array :values, with shop and places."""
    query = select(*pass_columns(postgres=False)).select_from(with_shop(cards))
    return query.where(cards.c[by].in_(_asked()))


def _key_query() -> Select[Any]:
    """The shops holding the live keys whose hashes are in the JSON array :values."""
    holders = with_key_holder(api_keys, api_keys.c.shop_id)
    query = select(api_keys.c.key_hash, *shop_columns()).select_from(holders)
    return query.where(api_keys.c.key_hash.in_(_asked()), api_keys.c.revoked_at.is_(None))


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
class _Query:
    """A batch query, compiled for sqlite3 too, with its column names and value converters."""

    by: str
    query: Select[Any]
    sql: str
    names: tuple[str, ...]
    converters: Mapping[str, Callable[[Any], Any]]

    @classmethod
    def of(cls, by: str, query: Select[Any]) -> _Query:
        """`query`, whose rows answer the value in their column `by`."""
        sql = str(query.compile(dialect=sqlite.dialect()))
        return cls(by, query, sql, tuple(query.selected_columns.keys()), _converters(query))

    def row(self, values: Sequence[Any]) -> Row:
        row = dict(zip(self.names, values, strict=True))
        for name, convert in self.converters.items():
            if row[name] is not None:
                row[name] = convert(row[name])
        return row


BY_SERIAL = _Query.of("serial", _batch_query("serial"))
BY_SECRET = _Query.of("page_secret", _batch_query("page_secret"))
BY_KEY = _Query.of("key_hash", _key_query())


class SqlitePassReads:
    """Cards with shop, program and places by serial or page secret, and shops by API key,
    batched, on sqlite3."""

    def __init__(
        self,
        path: Path | None,
        reading: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
    ) -> None:
        self._path = path
        self._reading = reading
        self._connection: sqlite3.Connection | None = None
        self._shops = ShopParts()
        self._by_serial = self._batcher(BY_SERIAL)
        self._by_secret = self._batcher(BY_SECRET)
        self._by_key = self._batcher(BY_KEY)

    async def by_serial(self, serial: str) -> PassRow | None:
        """The card `serial` (any shop) with its shop and places, or None."""
        row = await self._by_serial(serial)
        return None if row is None else pass_row(self._shops, row)

    async def by_secret(self, page_secret: str) -> PassRow | None:
        """The card behind a card-page secret with its shop and places, or None."""
        row = await self._by_secret(page_secret)
        return None if row is None else pass_row(self._shops, row)

    async def shop_by_key_hash(self, key_hash: str) -> ShopRow | None:
        """The shop owning the live API key with this hash, or None."""
        row = await self._by_key(key_hash)
        return None if row is None else self._shops.shop(row)

    def _batcher(self, query: _Query) -> Batcher[str, Row | None]:
        async def run(values: Sequence[str]) -> list[Row | None]:
            asked = orjson.dumps(list(values)).decode()
            try:
                rows = self._read_now(query, asked)
            except sqlite3.OperationalError:
                # Busy or locked (no waiting in the event loop), or anything odd: the async way.
                async with self._reading() as conn:
                    rows = list((await conn.execute(query.query, {"values": asked})).mappings())
            found = {row[query.by]: row for row in rows}
            return [found.get(value) for value in values]

        # One lane: a batch is read without a pause, so whatever waits goes in the next one.
        return Batcher(run, size=BATCH_SIZE, lanes=1, patience=BATCH_PATIENCE_SECONDS)

    def _read_now(self, query: _Query, asked: str) -> list[Row]:
        if self._path is None:
            raise sqlite3.OperationalError("an in-memory database has no second connection")
        if self._connection is None:
            self._connection = _open_reader(self._path)
        return [query.row(found) for found in self._connection.execute(query.sql, (asked,))]

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
