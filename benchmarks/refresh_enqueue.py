"""A program change for 100,000 registered devices on PostgreSQL: seconds until every pass in
a wallet is moved and its push queued, against the 5 s target and the old per-card path.

Run: .venv/bin/python benchmarks/refresh_enqueue.py [--cards 100000] [--sample 2000]

A fresh database gets one shop with `--cards` cards, each with its own registered iPhone,
bulk-loaded inside PostgreSQL (INSERT ... SELECT generate_series), then VACUUM ANALYZE.

- baseline: the refresh as it was before (one `refresh` ledger event per card through
  apply_change: lock the card, append the event, move the card, queue its pushes; 200 cards
  a transaction), timed on `--sample` cards and extrapolated to all of them; the query that
  listed the cards in wallets is timed in full. Its queued pushes are cleared afterwards.
- refresh: Shops.change_program renaming the shop, as `passes shop settings --name` runs it:
  the set-based refresh (store/refresh.py), every batch its own transaction, until all cards
  are moved and their pushes queued. Then once more while those pushes still wait (nothing
  is queued twice).

The push worker does not run: this measures the enqueue, not APNs. The database is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select, text
from stamp_api import PG_ADMIN_URL, postgres_database, postgres_unreachable

from passes.config import Settings
from passes.program import ProgramChange
from passes.service import Service
from passes.store import Store
from passes.store.card_changes import apply_change
from passes.store.cards import lock_card_by_id
from passes.store.ledger import Change
from passes.store.shops import ShopRow
from passes.store.tables import apple_registrations, cards, google_objects

TARGET_SECONDS = 5.0
OLD_BATCH = 200  # cards per transaction of the old path (service.REFRESH_BATCH)


async def bulk_load(url: str, shop: ShopRow, count: int) -> float:
    """`count` cards of the shop, each with its own registered iPhone; seconds taken."""
    import asyncpg  # type: ignore[import-untyped]

    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(
                """
                INSERT INTO cards (shop_id, program_id, serial, auth_token, page_secret, stamps,
                    rewards_available, total_stamps, rewards_redeemed, voided, version,
                    update_tag, pass_modified_at, referral_rewarded, last_visit_at,
                    created_at, updated_at)
                SELECT $1, $2, upper(substr(md5('bench-serial-' || g), 1, 12)),
                    md5('token-' || g), md5('page-' || g) || md5(random()::text),
                    g % 10, 0, g % 10, 0, false, 1, 0, date_trunc('second', t), false, t, t, t
                FROM (SELECT g, now() - interval '300 days' * random() AS t
                      FROM generate_series(1, $3) AS g) AS s
                """,
                shop.id,
                shop.program.id,
                count,
            )
            await conn.execute(
                """
                INSERT INTO apple_devices (library_id, push_token, created_at)
                SELECT md5('bench-device-' || id), md5('push-' || id) || md5('token-' || id),
                    now()
                FROM cards WHERE shop_id = $1
                """,
                shop.id,
            )
            await conn.execute(
                """
                INSERT INTO apple_registrations (device_id, card_id, created_at)
                SELECT d.id, c.id, now()
                FROM cards c JOIN apple_devices d ON d.library_id = md5('bench-device-' || c.id)
                WHERE c.shop_id = $1
                """,
                shop.id,
            )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def baseline(service: Service, shop: ShopRow, sample: int) -> tuple[float, float, int]:
    """The old path: seconds to list the cards in wallets, seconds for `sample` of them, and
    how many there are."""
    started = time.perf_counter()
    async with service.store.reading() as conn:
        apple = select(apple_registrations.c.card_id).join(
            cards, cards.c.id == apple_registrations.c.card_id
        )
        google = select(google_objects.c.card_id).join(
            cards, cards.c.id == google_objects.c.card_id
        )
        query = apple.where(cards.c.shop_id == shop.id).union(
            google.where(cards.c.shop_id == shop.id)
        )
        held = sorted(int(row[0]) for row in (await conn.execute(query)).all())
    listed = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, sample, OLD_BATCH):
        async with service.store.transaction() as conn:
            for card_id in held[start : min(start + OLD_BATCH, sample)]:
                card = await lock_card_by_id(conn, card_id)
                change = Change("refresh", 0, "settings", card.counters)
                await apply_change(conn, card, change, service.clock())
    per_sample = time.perf_counter() - started
    async with service.store.transaction() as conn:
        await conn.execute(text("TRUNCATE push_outbox"))
    return listed, per_sample, len(held)


async def outbox_rows(store: Store) -> int:
    async with store.reading() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM push_outbox"))).scalar_one())


async def vacuum(url: str) -> None:
    """What autovacuum would do between two program changes an owner makes by hand."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


@dataclass(frozen=True)
class Figures:
    cards: int
    sample: int
    listed: float  # old path: the list of cards in wallets
    sampled: float  # old path: `sample` cards
    held: int
    refresh: float
    refreshed: int
    batches: int
    queued: int
    again: float
    queued_again: int

    @property
    def old_total(self) -> float:
        return self.listed + self.sampled * self.held / self.sample


async def measure(url: str, count: int, sample: int, batch: int) -> Figures:
    with tempfile.TemporaryDirectory(prefix="refresh-bench-") as tmp:
        settings = Settings(database_url=url, certs_dir=Path(tmp), refresh_batch=batch)
        store = Store(url)
        try:
            await store.migrate()
            service = Service(settings, store)
            shop, _ = await service.shops.create_shop(
                name="Café Sonne", stamps=10, reward="1 Kaffee"
            )
            loaded = await bulk_load(url, shop, count)
            print(f"loaded {count:,} cards with a registered iPhone each in {loaded:.1f} s")
            sample = min(sample, count)
            listed, sampled, held = await baseline(service, shop, sample)
            await vacuum(url)
            batches: list[int] = []
            started = time.perf_counter()
            changed = await service.shops.change_program(
                shop, ProgramChange(name="Café Mond"), lambda done, _: batches.append(done)
            )
            refresh = time.perf_counter() - started
            queued = await outbox_rows(store)
            started = time.perf_counter()
            await service.shops.change_program(changed.shop, ProgramChange(name="Café Sonne"))
            again = time.perf_counter() - started
            queued_again = await outbox_rows(store)
        finally:
            await store.close()
    return Figures(
        count,
        sample,
        listed,
        sampled,
        held,
        refresh,
        changed.refreshed,
        len(batches),
        queued,
        again,
        queued_again,
    )


def report(f: Figures, batch: int) -> bool:
    """Print the figures beside their baseline; True when the target is met."""
    print(
        f"baseline (old per-card path, apply_change, {OLD_BATCH} cards a transaction): "
        f"{f.sample:,} cards in {f.sampled:.2f} s "
        f"({f.sample / f.sampled:,.0f} cards/s), listing the {f.held:,} cards in wallets "
        f"{f.listed:.2f} s; extrapolated to {f.held:,} cards: {f.old_total:.1f} s"
    )
    print(
        f"refresh (set-based, {batch:,} cards a transaction): {f.refreshed:,} cards moved and "
        f"{f.queued:,} pushes queued in {f.refresh:.2f} s ({f.refreshed / f.refresh:,.0f} "
        f"cards/s, {f.batches} batches)"
    )
    print(
        f"again while those pushes wait: {f.again:.2f} s, outbox still {f.queued_again:,} rows "
        "(nothing queued twice)"
    )
    met = f.refresh < TARGET_SECONDS and f.refreshed == f.cards == f.queued == f.queued_again
    print(
        f"=> {f.refresh:.2f} s for {f.cards:,} registered devices (target < {TARGET_SECONDS:g} s): "
        f"{'MET' if met else 'NOT MET'}; {f.old_total / f.refresh:.1f}x faster than the "
        "old path (extrapolated)"
    )
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--cards", type=int, default=100_000, help="cards with an iPhone each")
    parser.add_argument("--sample", type=int, default=2_000, help="cards for the old path")
    parser.add_argument(
        "--batch", type=int, default=Settings().refresh_batch, help="cards a transaction"
    )
    args = parser.parse_args()
    reason = postgres_unreachable()
    if reason:
        print(f"SKIPPED: PostgreSQL at {PG_ADMIN_URL} is not reachable ({reason})")
        sys.exit(1)
    # Turn SIGTERM into an exception so the database is dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with postgres_database() as url:
        figures = asyncio.run(measure(url, args.cards, args.sample, args.batch))
    sys.exit(0 if report(figures, args.batch) else 1)


if __name__ == "__main__":
    main()
