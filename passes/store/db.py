"""Opening the database: URL handling, engines, transactions and migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from passes.errors import ConfigError
from passes.store.fetches import FetchTimes
from passes.store.files import private_database
from passes.store.pass_reads import PassReads
from passes.store.pass_reads_sqlite import SqlitePassReads
from passes.store.sqlite_writer import SqliteCards, WriteTurns
from passes.store.writers import CardWriter

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def async_url(url: str) -> str:
    """Map the configured URL to the async driver SQLAlchemy needs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    return url


def plain_postgres_url(url: str) -> str:
    """The libpq-style URL asyncpg takes, from SQLAlchemy's postgresql+asyncpg:// one."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    """True for the embedded default."""
    return url.startswith("sqlite")


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


class Store:
    """The database: one write engine, one read engine, migrations; the reads that serve
    passes and the fetch times written behind them.

    Engines hide bound parameters from their errors: a database traceback in the log showed
    card page secrets, tokens and personal data."""

    def __init__(self, url: str) -> None:
        self.url = async_url(url)
        self.sqlite = is_sqlite(self.url)
        path = _sqlite_path(self.url) if self.sqlite else None
        if self.sqlite:
            if path is not None:
                private_database(path)
            self.writer = _sqlite_engine(self.url, immediate=True)
            self.reader = _sqlite_engine(self.url, immediate=False)
        else:
            self.writer = create_async_engine(
                # Pre-ping costs a round trip per checkout, but a connection the
                # database dropped (restart, failover) becomes a reconnect, not a 500.
                self.url,
                pool_size=20,
                max_overflow=20,
                pool_pre_ping=True,
                pool_recycle=1800,
                hide_parameters=True,
            )
            self.reader = self.writer
        # In this process SQLite's writers take turns here (the engine's transactions
        # and the card writer), instead of spinning on SQLite's busy handler.
        self._turns = WriteTurns() if self.sqlite else None
        # Compare-and-set card changes: batched raw asyncpg statements on PostgreSQL, a
        # group-committing writer on a SQLite file (an in-memory one has no second connection).
        self.optimistic: CardWriter | None = None
        # A card with its shop and places in one round trip, for serving passes.
        self.passes: PassReads
        if self.sqlite:
            self.passes = SqlitePassReads(path, self.reading)
            if path is not None and self._turns is not None:
                self.optimistic = SqliteCards(path, self._turns, self.reading)
        else:
            # Imported here: asyncpg comes with the postgres extra, not the embedded default.
            from passes.store.optimistic import OptimisticCards
            from passes.store.pass_reads_pg import PostgresPassReads

            self.optimistic = OptimisticCards(plain_postgres_url(self.url))
            self.passes = PostgresPassReads(plain_postgres_url(self.url))
        # When passes were fetched, written behind (store/fetches.py).
        self.fetches = FetchTimes(self.writer)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction; on SQLite it takes the write lock up front, in turn
        with this process's card writer."""
        if self._turns is None:
            async with self.writer.begin() as conn:
                yield conn
            return
        async with self._turns.turn(), self.writer.begin() as conn:
            yield conn

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        """A read-only connection (a snapshot on PostgreSQL's default isolation per statement)."""
        async with self.reader.connect() as conn:
            yield conn

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        async with self.writer.connect() as conn:
            await conn.run_sync(_upgrade)
            await conn.commit()

    async def close(self) -> None:
        """Write what is pending and dispose of every pooled connection."""
        await self.fetches.close()
        await self.passes.close()
        if self.optimistic is not None:
            await self.optimistic.close()
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    # One writer connection: writers queue in the pool instead of spinning on
    # SQLite's busy handler; other processes still wait through busy_timeout.
    pool = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60} if immediate else {}
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **pool)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves, so writers lock before they read.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, "head")
    except Exception as exc:  # alembic wraps driver errors in many types
        raise ConfigError(f"database migration failed: {exc}") from exc
