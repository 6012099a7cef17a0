"""Card changes on PostgreSQL in two statements: read a snapshot, then write if unchanged.

The locked path (BEGIN, lock the card, look up the Idempotency-Key, write, COMMIT,
plus the pool's ping) costs six round trips through SQLAlchemy, and on the stamp
hot path that was most of a stamp's cost. Here each statement is a transaction of
its own on a raw asyncpg connection: the snapshot reads the card, the change its
Idempotency-Key made before and, for capped programs, today's stamps; the write
appends the event, moves the card and queues its pushes only if the card's version
is still the snapshot's (compare-and-set). When it is not, the caller reads again,
and after a few lost races takes the locked path, which queues on the row lock.

Both statements take many requests at once (store/batches.py): under load, the
stamps that arrive during one round trip share the next one and its commit.

A card this process read or wrote a moment ago is remembered, and the next change
of it skips the read: the write's compare-and-set catches a card changed elsewhere
meanwhile, and an Idempotency-Key the card's ledger already holds (a client's retry)
fails the write on the unique index, so a remembered card can cost a lost race but
never a wrong or doubled change. The retry then reads the first answer afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import (
    TIMESTAMP,
    BigInteger,
    Integer,
    String,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import CTE, TableValuedAlias

from passes.errors import Unavailable, UnknownCard
from passes.store.batches import Batcher
from passes.store.card_changes import CARD_MOVES, EVENT_AS_MOVE, PG_TAG
from passes.store.cards import CardRow
from passes.store.ledger import Change, last_stamp_query, stamped_since_query
from passes.store.outbox import build_enqueue
from passes.store.tables import (
    card_events,
    cards,
)
from passes.store.writers import RememberedCards, Snapshot

# What a dropped or restarting database looks like to asyncpg.
CONNECTION_LOST = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InternalClientError,
)
Req = TypeVar("Req")
Res = TypeVar("Res")
DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Statement:
    """SQLAlchemy Core compiled once for asyncpg: SQL text and the order of its parameters."""

    sql: str
    names: tuple[str, ...]
    # Values of the statement's own literals ("stamp", 0, ...), bound like parameters.
    literals: Mapping[str, Any]

    @classmethod
    def of(cls, clause: ClauseElement) -> Statement:
        compiled = clause.compile(dialect=DIALECT)
        assert isinstance(compiled, SQLCompiler)
        literals = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
        return cls(compiled.string, tuple(compiled.positiontup or ()), literals)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """Positional arguments for asyncpg; a missing parameter is a KeyError, not NULL."""
        return [params[name] if name in params else self.literals[name] for name in self.names]


def _unnest(name: str, fields: Mapping[str, Any]) -> TableValuedAlias:
    """Parallel arrays as rows, one per request, numbered `i` from 1 (see Statement.args)."""
    arrays = [bindparam(field, type_=ARRAY(kind)) for field, kind in fields.items()]
    return func.unnest(*arrays).table_valued(*fields, with_ordinality="i").render_derived(name=name)


def _snapshots_statement() -> Statement:
    """Many cards by serial at once, each with its earlier change by key, today's stamps and
    its last stamp (for a cooldown)."""
    moments = {"since": TIMESTAMP(True), "stamped_from": TIMESTAMP(True)}
    asked = _unnest("asked", {"serial": String(), "key": String(), **moments})
    # LATERAL with LIMIT (the key is unique per card anyway) keeps PostgreSQL from turning
    # this into a join that finds the card's events by card alone and filters on the key.
    earlier = (
        select(card_events)
        .where(card_events.c.card_id == cards.c.id, card_events.c.idempotency_key == asked.c.key)
        .limit(1)
        .lateral("earlier")
    )
    columns = [column.label(f"earlier_{column.name}") for column in earlier.c]
    # Without a daily cap `since` is NULL and the count is never run (CASE is lazy).
    today = stamped_since_query(cards.c.id, asked.c.since).scalar_subquery()
    stamped_today = case((asked.c.since.is_(None), 0), else_=today)
    # Likewise without a cooldown: `stamped_from` is NULL.
    last = last_stamp_query(cards.c.id, asked.c.stamped_from).scalar_subquery()
    last_stamp = case((asked.c.stamped_from.is_(None), null()), else_=last)
    joined = asked.join(cards, cards.c.serial == asked.c.serial).outerjoin(earlier, true())
    query = select(
        asked.c.i,
        *cards.c,
        *columns,
        stamped_today.label("stamped_today"),
        last_stamp.label("last_stamp"),
    ).select_from(joined)
    return Statement.of(query)


def _array_fields() -> dict[str, Any]:
    """Every parameter of change_params a write needs, with its column's type."""
    events = {
        f"e_{c.name}": c.type
        for c in card_events.c
        if c.name != "id" and c.name not in EVENT_AS_MOVE
    }
    moves = {param: cards.c[column].type for column, param in CARD_MOVES.items()}
    return {**events, **moves, "m_card_id": BigInteger(), "m_expected_version": Integer()}


def _event_value(changes: CTE, column: str) -> Any:
    """A ledger column's value in a batch: its own array, or the card move's that holds it."""
    return changes.c[EVENT_AS_MOVE.get(column, f"e_{column}")]


def _writes_statement() -> Statement:
    """Many changes in one statement: each card moves only if still at its expected version,
    and only the changes that moved it are appended to the ledger and queue pushes."""
    # Unnested once: each CTE below that named the unnest ran it again (4 times a statement).
    changes = select(_unnest("unnested", _array_fields())).cte("changes")
    # The BIGSERIAL's own sequence, named as PostgreSQL names it; a constant, so the
    # plan resolves it once (pg_get_serial_sequence would search the catalog each time).
    next_id = func.nextval(literal_column("'card_events_id_seq'::regclass"))
    ids = select(changes.c.i, next_id.label("id")).cte("ids")
    # Rows are locked in id order, so two batches sharing cards queue instead of deadlocking.
    locked = (
        select(cards.c.id)
        .where(cards.c.id.in_(select(changes.c.m_card_id)))
        .order_by(cards.c.id)
        .with_for_update(key_share=True)
        .cte("locked")
    )
    moved = (
        update(cards)
        .where(
            cards.c.id == locked.c.id,
            cards.c.id == changes.c.m_card_id,
            cards.c.version == changes.c.m_expected_version,
            ids.c.i == changes.c.i,
        )
        .values(
            **{column: changes.c[param] for column, param in CARD_MOVES.items()},
            last_event_id=ids.c.id,
            update_tag=PG_TAG,
        )
        .returning(changes.c.i, cards.c.id.label("card_id"))
        .cte("moved")
    )
    names = [column.name for column in card_events.c if column.name != "id"]
    appended = (
        insert(card_events)
        .from_select(
            ["id", *names],
            select(ids.c.id, *[_event_value(changes, name) for name in names])
            .join_from(changes, ids, ids.c.i == changes.c.i)
            .join(moved, moved.c.i == changes.c.i),
        )
        .returning(card_events.c.id)
        .cte("appended")
    )
    queued = build_enqueue(locking=True, moved=moved).cte("queued")
    query = (
        select(
            moved.c.i,
            ids.c.id,
            select(func.count()).select_from(queued).scalar_subquery().label("queued"),
        )
        .join_from(moved, ids, ids.c.i == moved.c.i)
        .add_cte(appended)
    )
    return Statement.of(query)


SNAPSHOTS = _snapshots_statement()
WRITES = _writes_statement()
ARRAY_FIELDS = tuple(_array_fields())
# Batches: up to this many requests in one statement, up to this many statements at
# once, another one only when a batch in flight takes longer than this (store/batches.py).
BATCH_SIZE = 64
BATCH_LANES = 4
BATCH_PATIENCE_SECONDS = 0.02
# One connection per batch in flight: reads and writes.
POOL_SIZE = 2 * BATCH_LANES
# Cards remembered after a read or write: a café's busy hour fits, and an entry
# older than this is read again rather than risk a lost race on a stale version.


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """Our statements leave no session state (no SET, LISTEN or advisory lock), so the
    pool's default reset, a round trip per release, would buy nothing."""


class RawPool:
    """A small asyncpg pool opened on first use, for the hot paths that skip SQLAlchemy."""

    def __init__(self, dsn: str, max_size: int) -> None:
        self.dsn = dsn
        self.max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def get(self) -> asyncpg.Pool:
        """The pool, opened now if it is not yet; Unavailable when the server is not there."""
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._pool is None:
                try:
                    self._pool = await asyncpg.create_pool(
                        self.dsn,
                        min_size=0,
                        max_size=self.max_size,
                        max_inactive_connection_lifetime=300,
                        reset=_nothing_to_reset,
                        # The same few statements all day: plan them once per connection.
                        server_settings={"plan_cache_mode": "force_generic_plan"},
                    )
                except CONNECTION_LOST as exc:
                    raise Unavailable("the database is briefly unavailable; retry") from exc
            return self._pool

    async def close(self) -> None:
        """Close the pool's connections."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


@dataclass(frozen=True)
class _Read:
    serial: str
    key: str | None
    since: datetime | None
    stamped_from: datetime | None = None


@dataclass(frozen=True)
class _Write:
    params: dict[str, Any]


def _batcher(run: Callable[[Sequence[Req]], Awaitable[Sequence[Res]]]) -> Batcher[Req, Res]:
    return Batcher(run, size=BATCH_SIZE, lanes=BATCH_LANES, patience=BATCH_PATIENCE_SECONDS)


class OptimisticCards:
    """Snapshot reads and compare-and-set writes of cards, batched, over a small asyncpg pool."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool = RawPool(dsn, POOL_SIZE)
        self._reads = _batcher(self._read_batch)
        self._writes = _batcher(self._write_batch)
        self._remembered = RememberedCards()

    async def snapshot(
        self,
        shop_id: int,
        serial: str,
        key: str | None,
        since: datetime | None,
        *,
        fresh: bool = False,
        stamped_from: datetime | None = None,
    ) -> Snapshot:
        """The shop's card `serial` now; NotFound for another shop's card too.

        Unless `fresh`, a card remembered from this process's last read or write of it
        is answered without a round trip, but not when today's stamps must be counted
        (`since`) or its last stamp found (`stamped_from`). Reading changes nothing, so a
        connection found dead is replaced and the read asked once more (what a pool ping
        would do, without its round trip).
        """
        recall = self._remembered.recall
        remembered = recall(shop_id, serial, since, fresh=fresh, stamped_from=stamped_from)
        if remembered is not None:
            return remembered
        read = _Read(serial, key, since, stamped_from)
        try:
            row = await self._reads(read)
        except CONNECTION_LOST:
            try:
                row = await self._reads(read)
            except CONNECTION_LOST as exc:
                raise Unavailable("the database is briefly unavailable; retry") from exc
        if row is None or row["shop_id"] != shop_id:
            raise UnknownCard(serial)
        return self._remembered.remember(row)

    async def apply_if_unchanged(
        self, card: CardRow, change: Change, now: datetime
    ) -> tuple[CardRow, int] | None:
        """Write `change` if the card is still at the snapshot's version.

        Returns the moved card and the number of pushes its batch queued, or None
        when another change came first (read again). A connection lost here leaves
        the outcome unknown, so it is answered as Unavailable: the client's retry
        with the same Idempotency-Key then applies it once.
        """
        return await self._remembered.write(
            card, change, now, lambda params: self._writes(_Write(params)), CONNECTION_LOST
        )

    def forget(self, shop_id: int, serial: str) -> None:
        """The card is about to change another way: read it afresh next time."""
        self._remembered.drop(shop_id, serial)

    async def _read_batch(self, reads: Sequence[_Read]) -> list[asyncpg.Record | None]:
        arrays = {
            "serial": [read.serial for read in reads],
            "key": [read.key for read in reads],
            "since": [read.since for read in reads],
            "stamped_from": [read.stamped_from for read in reads],
        }
        async with self._connection() as conn:
            rows = await conn.fetch(SNAPSHOTS.sql, *SNAPSHOTS.args(arrays))
        found = {row["i"]: row for row in rows}
        return [found.get(number) for number in range(1, len(reads) + 1)]

    async def _write_batch(self, writes: Sequence[_Write]) -> list[tuple[int, int] | None]:
        """(event id, pushes queued) per write that moved its card, None for a lost race.

        The batch is one statement, so an Idempotency-Key the ledger holds already
        (a client retrying, decided on a remembered card or at the same moment as
        the first) fails all of it: then each write goes alone, and the retry finds
        the first one's event when it reads again. (A NOT EXISTS probe instead would
        be planned once per connection, while the ledger is small, as a scan of it.)
        """
        arrays = {name: [write.params[name] for write in writes] for name in ARRAY_FIELDS}
        try:
            async with self._connection() as conn:
                rows = await conn.fetch(WRITES.sql, *WRITES.args(arrays))
        except asyncpg.DeadlockDetectedError:
            return [None] * len(writes)  # (should not happen, see "locked") read and try again
        except asyncpg.UniqueViolationError:
            if len(writes) == 1:
                return [None]
            return [(await self._write_batch([write]))[0] for write in writes]
        moved = {row["i"]: (int(row["id"]), int(row["queued"])) for row in rows}
        return [moved.get(number) for number in range(1, len(writes) + 1)]

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        pool = await self._pool.get()
        async with pool.acquire() as conn:
            try:
                yield conn
            except CONNECTION_LOST:
                # The server may have said goodbye mid-query while the socket is still
                # open: never hand such a connection to the next request.
                conn.terminate()
                raise

    async def close(self) -> None:
        """Close the pool's connections."""
        await self._pool.close()
