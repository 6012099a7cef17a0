"""Copying SQLite's write-ahead log into the database file beside the writer, not in its way.

By default the connection whose commit fills the log past 1,000 pages copies it back
(a checkpoint, with its fsyncs) inside that COMMIT: every few hundred stamps one batch
took tens of milliseconds longer, and every stamp waiting behind it too. The card writer's
connection checkpoints only at a much larger log; instead, at most once a `every` seconds
after a commit, this runs a PASSIVE checkpoint on a connection and thread of its own. A
passive checkpoint takes no lock writers or readers wait for; the writer starts the log
over once it is copied.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger("passes.store")


class Checkpoints:
    """PASSIVE checkpoints of one SQLite file on a thread of their own, one at a time."""

    def __init__(self, path: Path, every: float) -> None:
        self._path = path
        self._every = every
        self._thread: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # used on self._thread only
        self._running: asyncio.Future[None] | None = None
        self._last = 0.0

    def after_commit(self) -> None:
        """Start a checkpoint unless one runs or the last started less than `every` ago."""
        loop = asyncio.get_running_loop()
        if self._running is not None or loop.time() - self._last < self._every:
            return
        self._last = loop.time()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="passes-sqlite-checkpoint")
        self._running = loop.run_in_executor(self._thread, self._checkpoint_now)
        self._running.add_done_callback(self._finished)

    def _finished(self, done: asyncio.Future[None]) -> None:
        self._running = None
        if not done.cancelled() and done.exception() is not None:
            # The log then grows until a later checkpoint (or any other connection's) copies it.
            log.warning("SQLite checkpoint failed: %s", done.exception())

    def _checkpoint_now(self) -> None:
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, timeout=0, isolation_level=None)
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def close(self) -> None:
        """Wait for a running checkpoint, then close the connection and end the thread."""
        if self._thread is None:
            return
        if self._running is not None:
            await asyncio.wait([self._running])
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_now)
        self._thread.shutdown()
        self._thread = None

    def _close_now(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
