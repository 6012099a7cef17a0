"""Each Google object's notification budget, kept in the database so that every worker
shares it: a notifying call is reserved (compare-and-set) before it is sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from passes.google.budget import NOTIFIED, OVER_BUDGET, Budget, Plan
from passes.store import Store
from passes.store.google import (
    GoogleCard,
    NotifyState,
    notify_state,
    set_notify_times,
    swap_notify_state,
)

# Rounds of compare-and-set before giving up (then the update goes out silently).
SWAPS = 5


@dataclass(frozen=True)
class Reservation:
    """The outcome of asking to notify: whether to, why not, and the state to undo it."""

    card_id: int
    seen: NotifyState
    taken: NotifyState
    notify: bool = False
    reason: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class Notifications:
    """Reserves, gives back and exhausts objects' notification budgets."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = _now) -> None:
        self.store = store
        self.clock = clock

    async def reserve(self, target: GoogleCard, plan: Plan) -> Reservation:
        """Take the delivery's notice as handled and, if the budget allows, one notifying call.

        Two workers delivering the same card race on the stored state: one wins, the other
        reads it again and finds the notice handled (its update then goes out silently).
        """
        card_id, seen = target.card.id, target.notify
        for _ in range(SWAPS):
            if seen.handled_version >= plan.version:
                break
            now = self.clock()
            budget = Budget.decode(seen.times)
            allowed = budget.allows(now)
            kept = budget.spend(now) if allowed else Budget(budget.recent(now))
            taken = NotifyState(plan.version, kept.encode())
            async with self.store.transaction() as conn:
                if await swap_notify_state(conn, card_id, seen, taken):
                    return Reservation(
                        card_id, seen, taken, allowed, NOTIFIED if allowed else OVER_BUDGET
                    )
                current = await notify_state(conn, card_id)
            if current is None:
                break
            seen = current
        return Reservation(card_id, seen, seen)

    async def give_back(self, reservation: Reservation) -> None:
        """The call failed before Google could notify: the notice and the budget are as before
        (unless another worker changed them meanwhile)."""
        if reservation.taken == reservation.seen:
            return
        async with self.store.transaction() as conn:
            await swap_notify_state(conn, reservation.card_id, reservation.taken, reservation.seen)

    async def exhaust(self, reservation: Reservation) -> None:
        """Google refused a notification for quota: notify this object no more for 24 hours."""
        async with self.store.transaction() as conn:
            times = Budget.exhausted(self.clock()).encode()
            await set_notify_times(conn, reservation.card_id, times)
