"""What the service asks of a card writer: read a snapshot, write a decided change if unchanged.

The service reads a card, lets the rules decide (pure), and hands the change back to be
written only if the card is still as read (compare-and-set). Which writer does it, the
batched asyncpg statements on PostgreSQL (store/optimistic.py) or the group-committing
SQLite writer (store/sqlite_writer.py), the service never knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from passes.store.cards import CardRow, Change, PastChange


@dataclass(frozen=True)
class Snapshot:
    """A card as read, the change its Idempotency-Key made before, today's stamps.

    A `remembered` snapshot comes from memory, not the database: the card may have
    changed since, and its key's earlier change was not looked up, so only the
    write's compare-and-set and the ledger's unique key stand behind it.
    """

    card: CardRow
    earlier: PastChange | None
    stamped_today: int
    remembered: bool = False


class CardWriter(Protocol):
    """Snapshot reads and compare-and-set writes of cards (single changes without campaign)."""

    async def snapshot(
        self,
        shop_id: int,
        serial: str,
        key: str | None,
        since: datetime | None,
        *,
        fresh: bool = False,
    ) -> Snapshot:
        """The shop's card `serial` now (UnknownCard for none or another shop's), the change
        `key` made before and the stamps since `since`; unless `fresh`, maybe remembered."""
        ...

    async def apply_if_unchanged(
        self, card: CardRow, change: Change, now: datetime
    ) -> tuple[CardRow, int] | None:
        """Write `change` (ledger, card, outbox in one commit) if the card is still at
        `card.version`: the moved card and the pushes queued, or None (read again). Answers
        only once committed; Unavailable when the outcome is unknown or nothing was written."""
        ...

    def forget(self, shop_id: int, serial: str) -> None:
        """The card is about to change another way: read it afresh next time."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...
