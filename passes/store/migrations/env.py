"""Alembic environment: runs on the connection that Store.migrate hands over."""

from alembic import context
from sqlalchemy.engine import Connection

from passes.store.tables import metadata


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """SQLite rebuilds a table to alter it; with foreign keys checked, dropping the old table
    fails on rows that point into it (an undo names its stamp). SQLite's own recipe: checks
    off around the migrations (outside a transaction, or the pragma does nothing), and each
    rebuild runs `PRAGMA foreign_key_check` itself before it commits."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


connection = context.config.attributes["connection"]
sqlite = connection.dialect.name == "sqlite"
context.configure(connection=connection, target_metadata=metadata, render_as_batch=sqlite)
if sqlite:
    _sqlite_foreign_keys(connection, False)
try:
    with context.begin_transaction():
        context.run_migrations()
finally:
    if sqlite:
        _sqlite_foreign_keys(connection, True)
