"""Persistence: tables, queries and migrations. Knows nothing of HTTP."""

from passes.store.db import Store

__all__ = ["Store"]
