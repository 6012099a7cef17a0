"""Taking back a stamp given by mistake, within a short window, with the promotion bonus it
earned: recorded in the ledger as undo events, never deleted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from passes import loyalty, notices
from passes.cards import Cards, CardView, program_of
from passes.clock import Clock, start_of_day
from passes.errors import Conflict
from passes.serials import naming_typed_serial, normalise_serial
from passes.store import Store
from passes.store.card_changes import apply_change
from passes.store.cards import CardRow, lock_card
from passes.store.ledger import NO_ORIGIN, Change, LedgerEntry, Origin, events_at, ledger_entry
from passes.store.shops import ShopRow
from passes.store.staff_days import take_back

UNDO_WINDOW = timedelta(minutes=10)


class Undo:
    """Undoing stamps on the shop's cards."""

    def __init__(
        self, store: Store, clock: Clock, on_commit: Callable[[], None], cards: Cards
    ) -> None:
        self.store = store
        self.clock = clock
        self.on_commit = on_commit
        self.cards = cards

    @naming_typed_serial
    async def undo_stamp(
        self, shop: ShopRow, serial: str, event_id: int, *, actor: str, origin: Origin = NO_ORIGIN
    ) -> CardView:
        """Take back a stamp given by mistake, within UNDO_WINDOW; undoing twice changes nothing."""
        program = program_of(shop)
        async with self.store.transaction() as conn:
            card = await lock_card(conn, shop.id, normalise_serial(serial))
            entry = await ledger_entry(conn, card.id, event_id)
            entry, extra = await with_promotion_bonus(conn, card.id, entry)
            if entry.kind != "stamp":
                raise Conflict("only stamps can be undone", "not_a_stamp")
            if entry.undone:
                return self.cards.view(shop, card)
            if self.clock() - entry.created_at > UNDO_WINDOW:
                minutes = int(UNDO_WINDOW.total_seconds() // 60)
                raise Conflict(
                    f"stamps can be undone for {minutes} minutes only", "undo_window_passed"
                )
            after = loyalty.undo_stamp(program, card.counters, entry.count)
            undo = _undo("undo", entry, actor, after, origin)
            card = await apply_change(conn, card, undo, self.clock())
            if extra is not None:
                card = await self._undo_bonus(conn, shop, card, extra, actor, origin)
            if entry.staff_id is not None:  # no longer counts for the person who gave it
                await take_back(
                    conn, entry.staff_id, start_of_day(entry.created_at).date(), entry.count
                )
        self.on_commit()
        return self.cards.view(shop, card)

    async def _undo_bonus(
        self,
        conn: AsyncConnection,
        shop: ShopRow,
        card: CardRow,
        bonus: LedgerEntry,
        actor: str,
        origin: Origin,
    ) -> CardRow:
        """A promotion's extra stamps go with the stamp that earned them."""
        after = loyalty.remove_bonus(program_of(shop), card.counters, bonus.count)
        return await apply_change(
            conn, card, _undo("undo_bonus", bonus, actor, after, origin), self.clock()
        )


def _undo(
    kind: str, entry: LedgerEntry, actor: str, after: loyalty.CardState, origin: Origin
) -> Change:
    """Taking back a ledger entry (a stamp, its promotion bonus): recorded, not announced."""
    notice = notices.silent("undone")
    return Change(
        kind, entry.count, actor, after, undoes_event_id=entry.id, notice=notice, origin=origin
    )


async def with_promotion_bonus(
    conn: AsyncConnection, card_id: int, entry: LedgerEntry
) -> tuple[LedgerEntry, LedgerEntry | None]:
    """The stamp to undo and the promotion bonus it earned, if any and not yet taken back.

    Staff undo the card's last change, which is the bonus when a promotion ran: that
    means its stamp.
    """
    if entry.kind not in ("stamp", "bonus"):
        return entry, None
    moment = await events_at(conn, card_id, entry.created_at)
    stamp = next((e for e, _ in moment if e.kind == "stamp"), None)
    bonus = next(
        (e for e, actor in moment if e.kind == "bonus" and actor.startswith("promotion:")), None
    )
    if stamp is None or bonus is None or (entry.kind == "bonus" and entry.id != bonus.id):
        return entry, None
    return stamp, None if bonus.undone else bonus
