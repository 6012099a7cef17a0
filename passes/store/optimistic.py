"""Card changes on PostgreSQL in two round trips: read a snapshot, then write if unchanged.

The locked path (BEGIN, lock the card, look up the Idempotency-Key, write, COMMIT,
plus the pool's ping) costs six round trips through SQLAlchemy, and on the stamp
hot path that was most of a stamp's cost. Here each statement is a transaction of
its own on a raw asyncpg connection: the snapshot reads the card, the change its
Idempotency-Key made before and, for capped programs, today's stamps; the write
appends the event, moves the card and queues its pushes only if the card's version
is still the snapshot's (compare-and-set). When it is not, the caller reads again,
and after a few lost races takes the locked path, which queues on the row lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import (
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from passes.errors import NotFound, Unavailable
from passes.store.cards import (
    PG_TAG,
    CardRow,
    Change,
    PastChange,
    card_from,
    card_move,
    change_params,
    moved_card,
    past_change,
    stamped_since_query,
)
from passes.store.outbox import build_enqueue
from passes.store.tables import card_events, cards

# What a dropped or restarting database looks like to asyncpg.
CONNECTION_LOST = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InternalClientError,
)
POOL_SIZE = 20
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


@dataclass(frozen=True)
class Snapshot:
    """A card as read, the change its Idempotency-Key made before, today's stamps."""

    card: CardRow
    earlier: PastChange | None
    stamped_today: int


def _snapshot_statement() -> Statement:
    earlier = card_events.alias("earlier")
    since = bindparam("since", type_=card_events.c.created_at.type)
    # Without a daily cap `since` is NULL, and this one-time filter skips the count.
    today = stamped_since_query(cards.c.id, since).where(since.is_not(None))
    columns = [column.label(f"earlier_{column.name}") for column in earlier.c]
    joined = cards.outerjoin(
        earlier,
        and_(earlier.c.card_id == cards.c.id, earlier.c.idempotency_key == bindparam("key")),
    )
    query = (
        select(*cards.c, *columns, today.scalar_subquery().label("stamped_today"))
        .select_from(joined)
        # By serial alone, so the unique index is the plan; the shop is checked on the row.
        .where(cards.c.serial == bindparam("serial"))
    )
    return Statement.of(query)


def _write_statement() -> Statement:
    """Event, card and outbox in one statement, all conditional on the card's version."""
    # The BIGSERIAL's own sequence, named as PostgreSQL names it; a constant, so the
    # plan resolves it once (pg_get_serial_sequence would search the catalog per stamp).
    next_id = func.nextval(literal_column("'card_events_id_seq'::regclass"))
    event_id = select(next_id.label("id")).cte("event_id")
    moved = (
        card_move(select(event_id.c.id).scalar_subquery(), PG_TAG)
        .where(cards.c.version == bindparam("m_expected_version"))
        .returning(cards.c.id)
        .cte("moved")
    )
    wrote = exists(select(moved.c.id))
    names = [column.name for column in card_events.c if column.name != "id"]
    values = [bindparam(f"e_{name}", type_=card_events.c[name].type) for name in names]
    appended = (
        insert(card_events)
        .from_select(["id", *names], select(event_id.c.id, *values).where(wrote))
        .returning(card_events.c.id)
        .cte("appended")
    )
    queued = build_enqueue(locking=True, guard=wrote).cte("queued")
    query = select(
        select(appended.c.id).scalar_subquery().label("event_id"),
        select(func.count()).select_from(queued).scalar_subquery().label("queued"),
    )
    return Statement.of(query)


SNAPSHOT = _snapshot_statement()
WRITE = _write_statement()


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """Our statements leave no session state (no SET, LISTEN or advisory lock), so the
    pool's default reset, a round trip per release, would buy nothing."""


class OptimisticCards:
    """Snapshot reads and compare-and-set writes of cards over a small asyncpg pool."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def snapshot(
        self, shop_id: int, serial: str, key: str | None, since: datetime | None
    ) -> Snapshot:
        """The shop's card `serial` now; NotFound for another shop's card too.

        Reading changes nothing, so a connection found dead is replaced and the
        read asked once more (what a pool ping would do, without its round trip).
        """
        params = {"serial": serial, "key": key, "since": since}
        for attempt in (1, 2):
            try:
                async with self._connection() as conn:
                    row = await conn.fetchrow(SNAPSHOT.sql, *SNAPSHOT.args(params))
                break
            except CONNECTION_LOST as exc:
                if attempt == 2:
                    raise Unavailable("the database is briefly unavailable; retry") from exc
        if row is None or row["shop_id"] != shop_id:
            raise NotFound(f"no card {serial!r}")
        earlier = None if row["earlier_id"] is None else past_change(row, "earlier_")
        return Snapshot(card_from(row), earlier, row["stamped_today"] or 0)

    async def apply_if_unchanged(
        self, card: CardRow, change: Change, now: datetime
    ) -> tuple[CardRow, int] | None:
        """Write `change` if the card is still at the snapshot's version.

        Returns the moved card and the number of pushes queued, or None when
        another change came first (read again). A connection lost here leaves
        the outcome unknown, so it is answered as Unavailable: the client's
        retry with the same Idempotency-Key then applies it once.
        """
        params = change_params(card, change, now)
        try:
            async with self._connection() as conn:
                row = await conn.fetchrow(WRITE.sql, *WRITE.args(params))
        except asyncpg.UniqueViolationError:
            return None  # a concurrent retry with the same key wrote first
        except CONNECTION_LOST as exc:
            raise Unavailable("the database is briefly unavailable; retry") from exc
        if row is None or row["event_id"] is None:
            return None
        return moved_card(card, change, params, int(row["event_id"])), int(row["queued"])

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        pool = self._pool or await self._open()
        async with pool.acquire() as conn:
            try:
                yield conn
            except CONNECTION_LOST:
                # The server may have said goodbye mid-query while the socket is still
                # open: never hand such a connection to the next request.
                conn.terminate()
                raise

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                try:
                    self._pool = await asyncpg.create_pool(
                        self.dsn,
                        min_size=0,
                        max_size=POOL_SIZE,
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
