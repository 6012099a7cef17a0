"""What the webhook outbox costs a stamp: stamps/ceiling with no endpoint against the same with
one endpoint subscribed to every event, on SQLite and PostgreSQL, side by side in one run.

Run: .venv/bin/python benchmarks/webhook_cost.py [--seconds 3] [--clients 50] [--backend both]

Each variant is a full stamp_api.py measurement (its own database, server, alternating ceiling
and stamp runs, the stored stamps checked). With the endpoint, every stamp's ledger event is
copied into the webhook outbox by migration 0022's trigger in the stamp's transaction, and the
server's worker signs and delivers the messages to a receiver in this process (204 at once)
while the load runs. Printed per database: both ratios, what the endpoint costs, and how many
signed messages arrived.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from serve_for_bench import HOST, run_main
from stamp_api import (
    PG_ADMIN_URL,
    BackendResult,
    Options,
    measure,
    parse_options,
    postgres_database,
    postgres_unreachable,
)

from passes.apple.devcerts import create_dev_identity
from passes.config import Settings
from passes.service import Service
from passes.store import Store
from passes.webhook_events import EVENT_TYPES


class Receiver(ThreadingHTTPServer):
    """Answers every delivery 204 at once and counts the signed ones."""

    daemon_threads = True
    signed = 0


class _Answer(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("webhook-signature", "").startswith("v1,"):
            self.server.signed += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: thousands of deliveries."""


@contextmanager
def receiver() -> Iterator[Receiver]:
    found = Receiver((HOST, 0), _Answer)
    thread = threading.Thread(target=found.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.shutdown()


@dataclass(frozen=True)
class Pair:
    name: str
    without: BackendResult
    subscribed: BackendResult
    delivered: int


def subscribe(url: str, certs: Path) -> Callable[[str], Awaitable[None]]:
    """Adds the endpoint to the benchmark's one shop, after the database is prepared."""

    async def setup(database_url: str) -> None:
        settings = Settings(
            database_url=database_url,
            base_url=f"http://{HOST}",
            certs_dir=certs,
            webhooks_allow_private=True,
        )
        store = Store(database_url)
        try:
            service = Service(settings, store)
            (shop,) = await service.shops.shops()
            await service.webhooks.add(await service.shops.shop(shop.slug), url, list(EVENT_TYPES))
        finally:
            await store.close()

    return setup


def measure_pair(name: str, certs: Path, work: Path, options: Options) -> Pair:
    with receiver() as listening:
        url = f"http://{HOST}:{listening.server_address[1]}/hook"
        results: list[BackendResult] = []
        for variant in ("without", "subscribed"):
            setup = subscribe(url, certs) if variant == "subscribed" else None
            label = f"{name}-{variant}"
            if name == "sqlite":
                database = f"sqlite:///{work / f'{variant}.db'}"
                results.append(measure(label, database, certs, work, options, setup))
            else:
                with postgres_database() as database:
                    results.append(measure(label, database, certs, work, options, setup))
        return Pair(name, results[0], results[1], listening.signed)


def report(pairs: list[Pair]) -> bool:
    print()
    healthy = True
    for pair in pairs:
        without, subscribed = pair.without.ratio, pair.subscribed.ratio
        cost = 1 - subscribed / without
        checks = pair.without.check.ok and pair.subscribed.check.ok
        healthy &= checks
        print(
            f"{pair.name}: stamps/ceiling without an endpoint {without:.2f}, with one "
            f"subscribed to every event {subscribed:.2f} (ratio {subscribed / without:.2f}, "
            f"a cost of {cost:.0%}); stamp p99 {pair.without.stamps.p99_ms:.1f} → "
            f"{pair.subscribed.stamps.p99_ms:.1f} ms"
        )
        print(
            f"  signed webhook messages received during the run: {pair.delivered}; "
            f"stamps stored as answered: {'OK' if checks else 'MISMATCH'}"
        )
    return healthy


def run(options: Options) -> int:
    pairs: list[Pair] = []
    with tempfile.TemporaryDirectory(prefix="webhook-bench-") as tmp:
        work = Path(tmp)
        certs = work / "certs"
        create_dev_identity(certs)
        for name in options.backends:
            if name == "postgres" and (reason := postgres_unreachable()):
                print(f"[postgres] SKIPPED: {PG_ADMIN_URL} is not reachable ({reason})")
                continue
            pairs.append(measure_pair(name, certs, work, options))
    return 0 if pairs and report(pairs) else 1


if __name__ == "__main__":
    run_main(lambda: run(parse_options(sys.argv[1:])))
