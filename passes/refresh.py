"""Every pass of a shop in a wallet shows the program anew: its card moves and its pushes are
queued, a batch at a time (store/refresh.py), while the worker pushes the batch before."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import DBAPIError

from passes.clock import Clock
from passes.config import Settings
from passes.store import Store
from passes.store.refresh import Batch, count_in_wallets, note_outbox_growth, refresh_batch
from passes.store.shops import ShopRow

# A refresh batch that lost a deadlock (PostgreSQL) is run again, this often at most.
REFRESH_TRIES = 3
DEADLOCK = "40P01"

# A long refresh reports its way: cards done so far, and how many in all.
Progress = Callable[[int, int], None]


class Refresher:
    """Refreshes the passes in wallets after a change of what they show."""

    def __init__(
        self, settings: Settings, store: Store, clock: Clock, on_commit: Callable[[], None]
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        # Wakes the in-process push worker; other processes find the rows by polling.
        self.on_commit = on_commit

    async def passes_in_wallets(self, shop: ShopRow) -> int:
        """How many of the shop's passes a program change refreshes."""
        async with self.store.reading() as conn:
            return await count_in_wallets(conn, shop.id)

    async def refresh_passes(
        self, shop: ShopRow, loyal_only: bool = False, progress: Progress | None = None
    ) -> int:
        """Every pass of the shop in a wallet (with `loyal_only`, a long-standing customer's)
        shows the program anew: its card moves and its pushes are queued, a batch of
        settings.refresh_batch cards per transaction (store/refresh.py). Returns how many."""
        async with self.store.reading() as conn:
            total = await count_in_wallets(conn, shop.id, loyal_only=loyal_only)
        done, after = 0, 0
        while total:
            batch = await self._refresh_batch(shop.id, after, loyal_only)
            if batch.last_id is None:
                break
            if done == 0 and total > batch.cards:
                async with self.store.transaction() as conn:
                    await note_outbox_growth(conn)
            done, after = done + batch.cards, batch.last_id
            self.on_commit()  # the worker pushes this batch while the next one is written
            if progress is not None:
                progress(done, max(total, done))
        return done

    async def _refresh_batch(self, shop_id: int, after: int, loyal_only: bool) -> Batch:
        for attempt in range(1, REFRESH_TRIES + 1):
            try:
                async with self.store.transaction() as conn:
                    return await refresh_batch(
                        conn,
                        shop_id,
                        after,
                        self.settings.refresh_batch,
                        self.clock(),
                        loyal_only=loyal_only,
                    )
            except DBAPIError as exc:
                # A stamp of a referred card locks it, then its referrer: against our id
                # order that can deadlock, and PostgreSQL gives up one side. Ours goes again.
                if getattr(exc.orig, "sqlstate", None) != DEADLOCK or attempt == REFRESH_TRIES:
                    raise
        raise AssertionError("unreachable")
