"""Pushes per second from the outbox to a 50 ms APNs over one HTTP/2 connection, vs sequential.

Run: .venv/bin/python benchmarks/push_fanout.py [--devices 10000] [--backend sqlite|postgres]
                                                [--delay 0.05] [--profile]

A local APNs (tests/fake_apns.py, HTTP/2 + TLS with client certificates) runs in a process of
its own and answers each push after `--delay` seconds. The database gets a shop, cards with
10 registered iPhones each, and one stamp per card, which queues one outbox row per device
through the real enqueue. Then our real path delivers them: the push worker
(passes/push.py PushWorker, AppleDelivery, passes/apple/apns.py ApnsClient) in this process,
from its start until the outbox is empty (every row delivered and settled).

Baselines, measured in the same run against the same peer:
- sequential: one push at a time, each waiting for its answer (ApnsClient.push over a sample
  of 40, extrapolated to the devices: labelled as such);
- ceiling: bare httpx over one HTTP/2 connection with 100 streams in flight (no database).
Target: the worker >= 20x the sequential sender. `--profile` prints where the worker's
process spends its time (pyinstrument when installed, else cProfile).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apns_peer import (
    DELAY,
    Peer,
    Tls,
    bare_httpx_rate,
    fake_apns,
    make_tls,
    sequential_seconds,
    token,
)
from sqlalchemy import insert, select

from passes.config import Settings
from passes.push import push_worker
from passes.service import Service
from passes.store import Store
from passes.store.outbox import pending
from passes.store.tables import apple_devices, apple_registrations

TARGET = 20.0
DEVICES_PER_CARD = 10
PG_ADMIN_URL = os.environ.get("PASSES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def settings_for(database_url: str, tls: Tls, peer: Peer) -> Settings:
    return Settings(
        database_url=database_url,
        base_url="http://127.0.0.1:8000",
        certs_dir=tls.certs_dir,
        apns_url=peer.url,
        ssl_cert_file=str(peer.server_ca),
    )


async def queue_pushes(settings: Settings, devices: int) -> int:
    """A shop, cards with DEVICES_PER_CARD iPhones each, one stamp per card: the outbox rows."""
    store = Store(settings.database_url)
    try:
        await store.migrate()
        service = Service(settings, store)
        shop, _ = await service.shops.create_shop(name="Fanout Café", stamps=10, reward="1 Kaffee")
        cards = [
            (await service.issuing.issue_card(shop, "bench")).card
            for _ in range(-(-devices // DEVICES_PER_CARD))
        ]
        now = datetime.now(UTC)
        async with store.transaction() as conn:
            rows = [
                {"library_id": secrets.token_hex(16), "push_token": token(), "created_at": now}
                for _ in range(devices)
            ]
            await conn.execute(insert(apple_devices), rows)
            ids = (
                (await conn.execute(select(apple_devices.c.id).order_by(apple_devices.c.id)))
                .scalars()
                .all()
            )
            links = [
                {
                    "device_id": device_id,
                    "card_id": cards[i // DEVICES_PER_CARD].id,
                    "created_at": now,
                }
                for i, device_id in enumerate(ids)
            ]
            await conn.execute(insert(apple_registrations), links)
        for card in cards:
            await service.changes.stamp(shop, card.serial, 1, actor="bench", idempotency_key=None)
        async with store.reading() as conn:
            return await pending(conn)
    finally:
        await store.close()


async def drain(settings: Settings, profile: bool) -> float:
    """Seconds the push worker takes to empty the outbox."""
    store = Store(settings.database_url)
    try:
        async with push_worker(settings, settings_identity(settings), store) as worker:
            stop = asyncio.Event()
            with profiled(profile):
                started = time.perf_counter()
                task = asyncio.create_task(worker.run(stop))
                while True:
                    async with store.reading() as conn:
                        if await pending(conn) == 0:
                            break
                    await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - started
                stop.set()
                await task
        return elapsed
    finally:
        await store.close()


def settings_identity(settings: Settings):  # type: ignore[no-untyped-def]
    from passes.apple.identity import load_identity

    return load_identity(settings.certs_dir, None)


@contextmanager
def profiled(enabled: bool) -> Iterator[None]:
    """Print where this process spent its time (the worker's rounds) when `enabled`."""
    if not enabled:
        yield
        return
    try:
        from pyinstrument import Profiler
    except ImportError:
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            yield
        finally:
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
            print(out.getvalue())
        return
    sampler = Profiler(interval=0.001, async_mode="disabled")
    sampler.start()
    try:
        yield
    finally:
        sampler.stop()
        print(sampler.output_text(unicode=False, color=False, show_all=False))


@contextmanager
def database(backend: str, work: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{work / 'fanout.db'}"
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from stamp_api import postgres_database

    with postgres_database() as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--delay", type=float, default=DELAY, help="APNs answer delay (s)")
    parser.add_argument("--profile", action="store_true", help="profile the worker's process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="push-fanout-") as tmp:
        work = Path(tmp)
        tls = make_tls(work)
        with fake_apns(tls, args.delay) as peer, database(args.backend, work) as url:
            settings = settings_for(url, tls, peer)
            print(
                f"fake APNs {peer.url} (pid {peer.process.pid}), answers after {args.delay * 1000:.0f} ms"
            )
            queued = asyncio.run(queue_pushes(settings, args.devices))
            print(f"queued {queued} pushes ({args.devices} devices on {args.backend})", flush=True)
            per_push = asyncio.run(sequential_seconds(tls, peer))
            seconds = asyncio.run(drain(settings, args.profile))
            ceiling = asyncio.run(bare_httpx_rate(tls, peer, args.devices))
    sequential = 1 / per_push
    rate = queued / seconds
    print()
    print(f"{'sender':44} {'pushes/s':>9} {'10,000 take':>12}")
    print(
        f"{'sequential (measured on 40, extrapolated)':44} {sequential:9.1f} {10_000 * per_push:11.1f}s"
    )
    print(
        f"{'push worker (outbox -> APNs, ' + args.backend + ')':44} {rate:9.1f} {10_000 / rate:11.1f}s"
    )
    print(f"{'ceiling: bare httpx, 100 streams':44} {ceiling:9.1f} {10_000 / ceiling:11.1f}s")
    print()
    ratio = rate / sequential
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(
        f"push worker / sequential = {ratio:.1f}x (target >= {TARGET:.0f}x: {verdict}); "
        f"push worker / bare httpx = {rate / ceiling:.2f}"
    )


if __name__ == "__main__":
    main()
