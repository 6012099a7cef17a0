"""Card changes on SQLite: one writer connection on one thread, stamps that arrive together
committed together.

The locked path (BEGIN IMMEDIATE, lock, key lookup, three writes, COMMIT) sends each
statement through aiosqlite's thread and SQLAlchemy, one stamp at a time on the one writer
connection: the thread hops, not SQLite, were the cost. Here the service reads a snapshot
right in the event loop (a point read on an index; WAL readers never wait for the writer),
decides, and hands the change to a writer that owns its own connection on its own thread.
The changes waiting at that moment go over in one hop and are written in one transaction:
per change a savepoint, the ledger event (the unique Idempotency-Key index fails only that
change, a client's retry), the card's move if still at the snapshot's version
(compare-and-set) and its pushes queued in the outbox, so a crash after the commit loses
no push. Each change is answered only after its batch committed.

In this process the locked path (Store.transaction) and this writer take turns in
arrival order (WriteTurns) instead of spinning on SQLite's busy handler; other processes
still wait through busy_timeout. As on PostgreSQL (store/optimistic.py), a card this
process read or wrote a moment ago is remembered, and the next change of it skips the read.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, bindparam, case, null, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.errors import UnknownCard
from passes.store.batches import Batcher
from passes.store.card_changes import EVENT_INSERT, card_move
from passes.store.cards import CardRow, Row
from passes.store.ledger import Change, last_stamp_query, stamped_since_query
from passes.store.outbox import ENQUEUE_MANY
from passes.store.sqlite_checkpoints import Checkpoints
from passes.store.sqlite_statements import SqliteStatement
from passes.store.tables import UtcDateTime, card_events, cards
from passes.store.writers import RememberedCards, Snapshot

# Changes in one transaction at most; whatever waits beyond goes in the next one.
BATCH_SIZE = 256
BATCH_PATIENCE_SECONDS = 0.02
# As on PostgreSQL (store/optimistic.py): a busy hour's cards, read again after this long.
# Another process holding the write lock is waited for this long (as the engines do).
BUSY_TIMEOUT_MS = 30_000
# The write-ahead log is copied into the database beside the writer this often at most.
CHECKPOINT_SECONDS = 0.5
# Under load without pause those copies never catch up with the writer, and only a
# checkpoint by the writer itself lets the log start over: at this many pages (~40 MB)
# its commit does one (cheap by then, most pages are copied already).
WRITER_CHECKPOINT_PAGES = 10_000


def _snapshot_query() -> Any:
    """The shop's card by serial, the change its key made before, its stamps since `since`
    and its last stamp from `stamped_from` on (for a cooldown)."""
    earlier = card_events.alias("earlier")
    key_used = and_(earlier.c.card_id == cards.c.id, earlier.c.idempotency_key == bindparam("key"))
    since = bindparam("since", type_=UtcDateTime())
    # Without a daily cap `since` is NULL and the count is never run (CASE is lazy).
    today = stamped_since_query(cards.c.id, since).scalar_subquery()
    columns = [column.label(f"earlier_{column.name}") for column in earlier.c]
    stamped_from = bindparam("stamped_from", type_=UtcDateTime())
    last = last_stamp_query(cards.c.id, stamped_from).scalar_subquery()
    last_stamp = case((stamped_from.is_(None), null()), else_=last)
    return (
        select(
            *cards.c,
            *columns,
            case((since.is_(None), 0), else_=today).label("stamped_today"),
            type_coerce(last_stamp, UtcDateTime()).label("last_stamp"),
        )
        .select_from(cards.outerjoin(earlier, key_used))
        .where(cards.c.shop_id == bindparam("shop_id"), cards.c.serial == bindparam("serial"))
    )


SNAPSHOT_QUERY = _snapshot_query()
SNAPSHOT = SqliteStatement.of(SNAPSHOT_QUERY)
APPEND = SqliteStatement.of(EVENT_INSERT)
# The card's move, only if it is still at the version the change was decided on.
MOVE = SqliteStatement.of(
    card_move(bindparam("m_event_id"), bindparam("m_tag")).where(
        cards.c.version == bindparam("m_expected_version")
    )
)
QUEUE = SqliteStatement.of(ENQUEUE_MANY)


class WriteTurns:
    """One SQLite writer at a time in this process, in the order they asked (FIFO)."""

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the turn; others wait in the event loop, not on SQLite's busy handler."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:  # a lock belongs to one loop
            self._lock, self._loop = asyncio.Lock(), loop
        async with self._lock:
            yield


class SqliteCards:
    """Snapshot reads in the loop and group-committed compare-and-set writes of cards."""

    def __init__(
        self,
        path: Path,
        turns: WriteTurns,
        reading: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
    ) -> None:
        self._path = path
        self._turns = turns
        self._reading = reading
        self._thread: ThreadPoolExecutor | None = None  # opened on first write
        self._writer: sqlite3.Connection | None = None  # used on self._thread only
        self._reader: sqlite3.Connection | None = None  # used in the event loop only
        # One lane: SQLite has one writer; what arrives meanwhile waits for the next batch.
        self._writes = Batcher(
            self._write_batch, size=BATCH_SIZE, lanes=1, patience=BATCH_PATIENCE_SECONDS
        )
        self._remembered = RememberedCards()
        self._checkpoints = Checkpoints(path, CHECKPOINT_SECONDS)

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
        """The shop's card `serial` now; UnknownCard for another shop's card too.

        Unless `fresh`, a card remembered from this process's last read or write of it
        is answered without reading, but not when today's stamps must be counted or its
        last stamp found (a cooldown).
        """
        recall = self._remembered.recall
        remembered = recall(shop_id, serial, since, fresh=fresh, stamped_from=stamped_from)
        if remembered is not None:
            return remembered
        params = {"shop_id": shop_id, "serial": serial, "key": key, "since": since}
        params["stamped_from"] = stamped_from
        row = await self._read(params)
        if row is None:
            raise UnknownCard(serial)
        return self._remembered.remember(row)

    async def apply_if_unchanged(
        self, card: CardRow, change: Change, now: datetime
    ) -> tuple[CardRow, int] | None:
        """Write `change` if the card is still at the snapshot's version, once committed.

        Returns the moved card and the pushes its batch queued, or None when another change
        came first or its Idempotency-Key is in the ledger already (read again). When the
        batch could not be written (a disk error, another process holding the lock too
        long) nothing of it was: Unavailable, and the client's retry applies it once.
        """
        return await self._remembered.write(card, change, now, self._writes, (sqlite3.Error,))

    def forget(self, shop_id: int, serial: str) -> None:
        """The card is about to change another way: read it afresh next time."""
        self._remembered.drop(shop_id, serial)

    async def close(self) -> None:
        """Close both connections and end the writer's thread."""
        if self._thread is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._thread, self._close_writer)
            self._thread.shutdown()
            self._thread = None
        await self._checkpoints.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # --- reads, in the event loop -------------------------------------------------------------

    async def _read(self, params: dict[str, Any]) -> Row | None:
        try:
            return self._read_now(params)
        except sqlite3.OperationalError:
            # Busy (no waiting in the event loop) or anything odd: the async way, which may wait.
            async with self._reading() as conn:
                found = await conn.execute(SNAPSHOT_QUERY, params)
                return found.mappings().first()

    def _read_now(self, params: dict[str, Any]) -> Row | None:
        if self._reader is None:
            self._reader = _open_reader(self._path)
        found = self._reader.execute(SNAPSHOT.sql, SNAPSHOT.args(params)).fetchone()
        return None if found is None else SNAPSHOT.row(found)

    # --- writes, on the writer's thread ---------------------------------------------------------

    async def _write_batch(self, writes: Sequence[dict[str, Any]]) -> list[tuple[int, int] | None]:
        loop = asyncio.get_running_loop()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="passes-sqlite-writer")
        async with self._turns.turn():
            done = await loop.run_in_executor(self._thread, self._write_now, writes)
        self._checkpoints.after_commit()
        return done

    def _write_now(self, writes: Sequence[dict[str, Any]]) -> list[tuple[int, int] | None]:
        """(event id, pushes the batch queued) per change written, None per change not."""
        conn = self._writer_connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = [_write_one(conn, params) for params in writes]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")  # nothing of the batch is written
            raise
        queued = sum(written[1] for written in done if written is not None)
        return [None if written is None else (written[0], queued) for written in done]

    def _writer_connection(self) -> sqlite3.Connection:
        if self._writer is None:
            self._writer = _open_writer(self._path)
        return self._writer

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _write_one(conn: sqlite3.Connection, params: dict[str, Any]) -> tuple[int, int] | None:
    """One change inside the batch's transaction: (event id, pushes queued), or None and
    nothing of it written when its key is in the ledger or the card moved meanwhile."""
    conn.execute("SAVEPOINT change")
    try:
        event_id = int(conn.execute(APPEND.sql, APPEND.args(params)).fetchall()[0][0])
    except sqlite3.IntegrityError:  # the key's unique index: a retry, the first one came first
        _undo(conn)
        return None
    moved = conn.execute(MOVE.sql, MOVE.args({**params, "m_event_id": event_id, "m_tag": event_id}))
    if moved.rowcount != 1:  # no longer at the expected version (or gone)
        _undo(conn)
        return None
    queued = conn.execute(QUEUE.sql, QUEUE.args(params)).rowcount
    conn.execute("RELEASE change")
    return event_id, queued


def _undo(conn: sqlite3.Connection) -> None:
    conn.execute("ROLLBACK TO change")
    conn.execute("RELEASE change")


def _open_writer(path: Path) -> sqlite3.Connection:
    # Autocommit mode: we issue BEGIN IMMEDIATE and COMMIT ourselves.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")
    return conn


def _open_reader(path: Path) -> sqlite3.Connection:
    # Autocommit: each read is its own snapshot; never waits for a lock (timeout 0).
    conn = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only=ON")
    return conn
