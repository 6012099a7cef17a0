"""What the service asks of a card writer: read a snapshot, write a decided change if unchanged.

The service reads a card, lets the rules decide (pure), and hands the change back to be
written only if the card is still as read (compare-and-set). Which writer does it, the
batched asyncpg statements on PostgreSQL (store/optimistic.py) or the group-committing
SQLite writer (store/sqlite_writer.py), the service never knows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from passes.cache import TtlCache
from passes.errors import Unavailable
from passes.store.card_changes import change_params, moved_card
from passes.store.cards import CardRow, Row, card_from
from passes.store.ledger import Change, PastChange, past_change

# Cards this process read or wrote a moment ago, answered without reading them again.
REMEMBERED_CARDS = 10_000
REMEMBERED_SECONDS = 120.0
# What a writer's batch answers for one change: (event id, pushes queued), or None for a
# lost race or an Idempotency-Key the ledger holds already.
Written = tuple[int, int] | None


@dataclass(frozen=True)
class Snapshot:
    """A card as read, the change its Idempotency-Key made before, today's stamps and the
    time of its latest stamp (not undone) since the moment asked, for the cooldown.

    A `remembered` snapshot comes from memory, not the database: the card may have
    changed since, and its key's earlier change was not looked up, so only the
    write's compare-and-set and the ledger's unique key stand behind it.
    """

    card: CardRow
    earlier: PastChange | None
    stamped_today: int
    remembered: bool = False
    last_stamp: datetime | None = None


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
        stamped_from: datetime | None = None,
    ) -> Snapshot:
        """The shop's card `serial` now (UnknownCard for none or another shop's), the change
        `key` made before, the stamps since `since` and the time of its latest stamp (not
        undone) from `stamped_from` on; unless `fresh`, maybe remembered."""
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


class RememberedCards:
    """The cards a writer read or wrote a moment ago, and the write that keeps them current.

    A remembered card may be stale (another process changed it): the write's
    compare-and-set catches that, and the card is dropped, so the next read is fresh.
    """

    def __init__(self) -> None:
        self._cards: TtlCache[CardRow] = TtlCache(REMEMBERED_SECONDS, REMEMBERED_CARDS)

    def get(self, shop_id: int, serial: str) -> CardRow | None:
        """The card as last read or written here, if recent."""
        return self._cards.get(_key(shop_id, serial))

    def recall(
        self,
        shop_id: int,
        serial: str,
        since: datetime | None,
        *,
        fresh: bool,
        stamped_from: datetime | None = None,
    ) -> Snapshot | None:
        """The remembered card as a snapshot, or None (read it): none is remembered, the
        caller asks `fresh`, or the ledger must be asked: today's stamps (`since`) or the
        card's last stamp (`stamped_from`, for a cooldown)."""
        if fresh or since is not None or stamped_from is not None:
            return None
        card = self.get(shop_id, serial)
        return None if card is None else Snapshot(card, None, 0, remembered=True)

    def remember(self, row: Row) -> Snapshot:
        """The snapshot a read row gives (the card, its key's earlier change, today's
        stamps, its last stamp); the card is remembered."""
        earlier = None if row["earlier_id"] is None else past_change(row, "earlier_")
        card = card_from(row)
        self.put(card)
        last = row["last_stamp"]
        return Snapshot(card, earlier, int(row["stamped_today"]), last_stamp=last)

    def put(self, card: CardRow) -> None:
        """Remember `card` as the latest."""
        self._cards.put(_key(card.shop_id, card.serial), card)

    def drop(self, shop_id: int, serial: str) -> None:
        """Read the card afresh next time."""
        self._cards.drop(_key(shop_id, serial))

    async def write(
        self,
        card: CardRow,
        change: Change,
        now: datetime,
        batch: Callable[[dict[str, Any]], Awaitable[Written]],
        lost: tuple[type[BaseException], ...],
    ) -> tuple[CardRow, int] | None:
        """Hand `change` to the writer's `batch`: the moved card and its pushes, or None (read
        again). An exception of `lost` leaves the outcome unknown: Unavailable, and the
        client's retry with the same Idempotency-Key applies it once."""
        if change.campaign_id is not None:
            raise ValueError("campaign changes take the locked path")
        params = change_params(card, change, now)
        try:
            written = await batch(params)
        except lost as exc:
            self.drop(card.shop_id, card.serial)
            raise Unavailable("the database is briefly unavailable; retry") from exc
        if written is None:
            self.drop(card.shop_id, card.serial)
            return None
        event_id, queued = written
        moved = moved_card(card, change, params, event_id)
        self.put(moved)
        return moved, queued


def _key(shop_id: int, serial: str) -> str:
    return f"{shop_id}:{serial}"
