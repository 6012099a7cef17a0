"""One server, and one push worker, per SQLite file.

SQLite is the single-instance database: one server process (its cached cards, its update
tags in commit order) and one push worker (no SKIP LOCKED to share the outbox). A lock file
beside the database, `passes.db.lock`, held as long as the process runs, makes a second one
stop with a clear line instead of starting without a word. Byte 0 is the server's, byte 1 the
push worker's: `passes serve --no-worker` and one `passes worker` may share a file.
The kernel drops the locks when the process ends, however it ends.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from passes.errors import ConfigError
from passes.store.files import FILE_MODE, private_database

SERVER = 0
WORKER = 1
_TAKEN = {
    SERVER: "another `passes serve` is using it",
    WORKER: "a push worker (`passes worker`, or `passes serve` without --no-worker) runs on it",
}


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a SQLite URL; None for PostgreSQL or an in-memory database."""
    if not database_url.startswith("sqlite"):
        return None
    database = make_url(database_url).database
    return Path(database) if database and database != ":memory:" else None


@contextmanager
def single_instance(database_url: str, *, server: bool, worker: bool) -> Iterator[None]:
    """Hold the server's and/or the worker's lock of a SQLite file while the block runs;
    ConfigError when another process holds one. PostgreSQL needs none."""
    path = sqlite_file(database_url)
    if path is None:
        yield
        return
    lock_file = path.with_name(path.name + ".lock")
    private_database(path)  # the lock comes first, so it makes the private data folder
    with os.fdopen(os.open(lock_file, os.O_RDWR | os.O_CREAT, FILE_MODE), "a+b") as handle:
        for role, wanted in ((SERVER, server), (WORKER, worker)):
            if wanted:
                _take(handle.fileno(), role, path)
        yield


def _take(fd: int, role: int, path: Path) -> None:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, role)
    except OSError:
        raise ConfigError(
            f"{path}: {_TAKEN[role]}, and SQLite serves a single instance: stop that one "
            "first, or use PostgreSQL (PASSES_DATABASE_URL) to run several"
        ) from None
