"""Stamps per second and p50/p99 over real HTTP, on SQLite and PostgreSQL, against a ceiling.

Run: .venv/bin/python benchmarks/stamp_api.py [--seconds 5] [--clients 50] [--backend both]
     .venv/bin/python benchmarks/stamp_api.py --scale   (PostgreSQL: empty vs 100k-card shop)

One uvicorn process (one worker, access log off, like `passes serve`) serves the real app plus a
bare Starlette JSON route, /bench/ceiling, that reads the same body and answers a card-sized
JSON: the most this server can do over HTTP. wrk (with stamp_api.lua) sends
POST /api/v1/cards/{serial}/stamps with a unique Idempotency-Key per request, round-robin over
the cards. Ceiling and stamp runs alternate and medians are reported, so a noisy machine slows
both alike. Afterwards the cards' total_stamps must add up to what wrk saw answered.
It prints whether issue #14's targets are met: stamps/ceiling >= 0.25 and stamp p99 < 100 ms
on SQLite, >= 0.4 and < 50 ms on PostgreSQL (TARGETS).

--scale (stamp_scale.py) compares two PostgreSQL databases served side by side: an empty shop
and a shop bulk-loaded with 100,000 cards and 1,000,000 ledger events (the 500 benchmark cards
among them). Ceiling, empty and loaded runs alternate; it prints both shops' figures, their
ratio, each server's peak RSS (VmHWM), the statements per stamp request (counted in the server:
SQLAlchemy's by a before_cursor_execute listener, those of the stamp pool, the batched snapshot
read and compare-and-set write, by asyncpg query loggers), how many stamps a batched statement
carried under load, and EXPLAIN ANALYZE of the stamp path on the loaded shop. The push worker is
off in these servers (no APNs); the databases are dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from serve_for_bench import HOST, free_port, run_main, server_process
from stamp_load import WRK_MISSING, RunResult, Target, run_fallback, run_wrk, wrk_path
from stamp_scale import (
    BATCHED,
    COUNT_ENV,
    NOT_RUN,
    Loaded,
    bulk_load,
    plan_verdict,
    register_devices,
)

from passes.apple.devcerts import create_dev_identity
from passes.config import DEFAULT_APNS_URL, Settings
from passes.service import Service
from passes.store import Store

PG_ADMIN_URL = os.environ.get("PASSES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CARDS = 500
ROUNDS = 3
WARMUP_SECONDS = 2.0
TARGET_RATIO = 0.4
TARGET_P99_MS = 50.0
# Issue #14's targets per backend: stamps/ceiling at least, stamp p99 below (ms).
TARGETS = {"postgres": (TARGET_RATIO, TARGET_P99_MS), "sqlite": (0.25, 100.0)}
# --scale: the loaded shop's throughput and p99 within 20% of the empty one's; RSS bounded.
TARGET_SCALE_DRIFT = 0.20
TARGET_RSS_MB = 200.0
COUNTED_REQUESTS = 100
CEILING_CARD = {
    "serial": "0123456789AB",
    "shop": "bench-cafe",
    "stamps": 0,
    "stamps_required": 10,
    "rewards_available": 0,
    "rewards_redeemed": 0,
    "total_stamps": 0,
    "reward": "1 Vita Mix gratis",
    "voided": False,
    "version": 1,
    "created_at": "2025-01-01T00:00:00+00:00",
    "updated_at": "2025-01-01T00:00:00+00:00",
    "urls": {
        "card": "http://127.0.0.1:8000/c/0123456789abcdef0123456789abcdef",
        "apple": "http://127.0.0.1:8000/c/0123456789abcdef0123456789abcdef/pass.pkpass",
        "google": None,
    },
}


@dataclass(frozen=True)
class Options:
    """The command line."""

    seconds: float
    clients: int
    threads: int
    backends: list[str]
    scale: bool = False


@dataclass(frozen=True)
class Endpoint:
    """Median figures of one endpoint over the rounds."""

    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


@dataclass(frozen=True)
class Check:
    """Stamps the database holds against what the load generator saw."""

    stored: int
    answered_2xx: int
    issued: int

    @property
    def ok(self) -> bool:
        # Requests still in flight when a run stops are applied but not counted by wrk.
        return self.answered_2xx <= self.stored <= self.issued


@dataclass(frozen=True)
class BackendResult:
    """All figures of one database."""

    name: str
    ceiling: Endpoint
    stamps: Endpoint
    ratios: list[float]
    check: Check

    @property
    def ratio(self) -> float:
        return self.stamps.rps / self.ceiling.rps


# --- the server (this file re-invoked with --serve) --------------------------------------------


def serve(database_url: str, certs_dir: Path, port: int, scale: bool = False) -> None:
    """The real app plus the ceiling route, in one uvicorn worker like `passes serve`.

    With `scale` the push worker is off (the loaded shop's outbox backlog would go to
    APNs) and, when COUNT_ENV is set, the query-counting hooks are installed.
    """
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from passes.app import create_app

    async def ceiling(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        return JSONResponse({**CEILING_CARD, "stamps": body.get("count", 1)})

    settings = Settings(
        database_url=database_url,
        base_url=f"http://{HOST}:{port}",
        certs_dir=certs_dir,
        run_worker=not scale,
        apns_url="https://127.0.0.1:9" if scale else DEFAULT_APNS_URL,
        # webhook_cost.py delivers to a receiver on this machine.
        webhooks_allow_private=True,
    )
    app = create_app(settings)
    app.router.routes.append(Route("/bench/ceiling", ceiling, methods=["POST"]))
    if scale and os.environ.get(COUNT_ENV):
        from stamp_scale import install_hooks

        install_hooks(app)
    uvicorn.run(app, host=HOST, port=port, access_log=False, log_level="warning")


@contextmanager
def server(
    database_url: str, certs_dir: Path, log: Path, *, scale: bool = False
) -> Iterator[tuple[int, int]]:
    """Start the server process; yields (port, pid) once it answers, stops it afterwards."""
    port = free_port()
    command = [sys.executable, __file__, "--serve", database_url, str(certs_dir), str(port)]
    env = dict(os.environ)
    if scale:
        command.append("scale")
        env[COUNT_ENV] = "1"
    with server_process(command, log, port, env=env) as pid:
        yield port, pid


# --- databases ----------------------------------------------------------------------------------


async def _admin(sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def postgres_unreachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        asyncio.run(_admin("SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the local PostgreSQL, dropped afterwards even on errors."""
    name = f"bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(f"CREATE DATABASE {name}"))
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def prepare(database_url: str, certs_dir: Path) -> str:
    """Migrate and create the shop through the service the CLI uses; returns its API key."""
    store = Store(database_url)
    try:
        await store.migrate()
        settings = Settings(
            database_url=database_url, base_url=f"http://{HOST}", certs_dir=certs_dir
        )
        _, key = await Service(settings, store).shops.create_shop(
            name="Bench Café", stamps=10, reward="1 Vita Mix gratis"
        )
        return key
    finally:
        await store.close()


# --- cards over the API ------------------------------------------------------------------------


async def issue_cards(port: int, api_key: str, count: int) -> list[str]:
    """Create `count` cards through POST /api/v1/cards; returns their serials."""
    async with _client(port, api_key) as client:
        limit = asyncio.Semaphore(10)

        async def one() -> str:
            async with limit:
                response = await client.post("/api/v1/cards")
            response.raise_for_status()
            serial: str = response.json()["serial"]
            return serial

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def stored_stamps(port: int, api_key: str, serials: list[str]) -> int:
    """The sum of total_stamps over the cards, read back through GET /api/v1/cards/{serial}."""
    async with _client(port, api_key) as client:
        limit = asyncio.Semaphore(10)

        async def one(serial: str) -> int:
            async with limit:
                response = await client.get(f"/api/v1/cards/{serial}")
            response.raise_for_status()
            total: int = response.json()["total_stamps"]
            return total

        return sum(await asyncio.gather(*(one(serial) for serial in serials)))


def _client(port: int, api_key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://{HOST}:{port}",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )


# --- measuring ----------------------------------------------------------------------------------


def load(target: Target, mode: str, options: Options, seconds: float) -> RunResult:
    """One timed run with wrk, or with the asyncio client when there is no wrk."""
    if wrk_path():
        return run_wrk(target, mode, options.clients, options.threads, seconds)
    return run_fallback(target, mode, options.clients, seconds)


def measure(
    name: str,
    database_url: str,
    certs_dir: Path,
    work: Path,
    options: Options,
    setup: Callable[[str], Awaitable[None]] | None = None,
) -> BackendResult:
    """Prepare the database (then `setup` on it), start the server, alternate ceiling and
    stamp runs, check stamps."""
    api_key = asyncio.run(prepare(database_url, certs_dir))
    if setup is not None:
        asyncio.run(setup(database_url))
    with server(database_url, certs_dir, work / f"server-{name}.log") as (port, pid):
        print(f"[{name}] server pid {pid} on port {port}; issuing {CARDS} cards", flush=True)
        serials = asyncio.run(issue_cards(port, api_key, CARDS))
        serials_file = work / f"serials-{name}.txt"
        serials_file.write_text("\n".join(serials) + "\n")
        target = Target(HOST, port, api_key, serials, serials_file)
        runs = _alternate(name, target, options)
        time.sleep(1)  # let requests cut off at the end of the last run finish on the server
        stored = asyncio.run(stored_stamps(port, api_key, serials))
    stamp_runs = runs["stamps"] + runs["warmup"]
    check = Check(
        stored,
        sum(run.ok_responses for run in stamp_runs),
        sum(run.issued for run in stamp_runs),
    )
    ratios = [s.rps / c.rps for c, s in zip(runs["ceiling"], runs["stamps"], strict=True)]
    return BackendResult(name, _median(runs["ceiling"]), _median(runs["stamps"]), ratios, check)


def _alternate(name: str, target: Target, options: Options) -> dict[str, list[RunResult]]:
    runs: dict[str, list[RunResult]] = {"ceiling": [], "stamps": [], "warmup": []}
    load(target, "ceiling", options, WARMUP_SECONDS)
    runs["warmup"].append(load(target, "stamps", options, WARMUP_SECONDS))
    for number in range(1, ROUNDS + 1):
        for mode in ("ceiling", "stamps"):
            result = load(target, mode, options, options.seconds)
            runs[mode].append(result)
            print(
                f"[{name}] round {number} {mode:8} {result.rps:9.1f} req/s  "
                f"p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  "
                f"non-2xx {result.non_2xx}",
                flush=True,
            )
    return runs


def _median(runs: list[RunResult]) -> Endpoint:
    return Endpoint(
        rps=statistics.median(run.rps for run in runs),
        p50_ms=statistics.median(run.p50_ms for run in runs),
        p99_ms=statistics.median(run.p99_ms for run in runs),
        non_2xx=sum(run.non_2xx for run in runs),
        socket_errors=sum(run.socket_errors for run in runs),
    )


# --- report ------------------------------------------------------------------------------------


def report(results: list[BackendResult]) -> bool:
    """Print the table, the targets and the stamp checks; True when every check holds."""
    print()
    print(
        f"{'backend':10} {'endpoint':9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8} {'sock err':>8}"
    )
    for result in results:
        for label, endpoint in (("ceiling", result.ceiling), ("stamps", result.stamps)):
            print(
                f"{result.name:10} {label:9} {endpoint.rps:9.1f} {endpoint.p50_ms:8.1f} "
                f"{endpoint.p99_ms:8.1f} {endpoint.non_2xx:8d} {endpoint.socket_errors:8d}"
            )
    print()
    healthy = True
    for result in results:
        healthy &= _report_backend(result)
    return healthy


def _report_backend(result: BackendResult) -> bool:
    rounds = ", ".join(f"{ratio:.2f}" for ratio in result.ratios)
    target_ratio, target_p99 = TARGETS[result.name]
    ratio_met = result.ratio >= target_ratio
    p99_met = result.stamps.p99_ms < target_p99
    print(
        f"{result.name}: stamps/ceiling = {result.ratio:.2f} (rounds: {rounds}), "
        f"stamp p99 = {result.stamps.p99_ms:.1f} ms"
    )
    print(
        f"  issue target ratio >= {target_ratio:.2f}: {_verdict(ratio_met)}; "
        f"p99 < {target_p99:.0f} ms: {_verdict(p99_met)}; "
        f"targets {'met' if ratio_met and p99_met else 'MISSED'}"
    )
    check = result.check
    print(
        f"  stamps stored (sum of total_stamps over {CARDS} cards) {check.stored}, "
        f"2xx answered {check.answered_2xx}, requests issued {check.issued}: "
        + ("OK" if check.ok else "MISMATCH, stamps lost or duplicated")
    )
    clean = result.stamps.non_2xx == 0 and result.stamps.socket_errors == 0
    if not clean:
        print(
            f"  stamp runs had {result.stamps.non_2xx} non-2xx responses and "
            f"{result.stamps.socket_errors} socket errors: the figures are not valid"
        )
    return check.ok and clean


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


# --- scale: an empty shop against a loaded one ---------------------------------------------------


@dataclass(frozen=True)
class QueryCount:
    """Statements per stamp request, counted in the server over sequential requests, and the
    stamps per batched statement under load (server start to the end of the wrk runs)."""

    per_request: list[int]
    kinds: dict[str, float]
    batched: dict[str, float] = field(default_factory=dict)

    @property
    def typical(self) -> int:
        return int(statistics.median(self.per_request))


@dataclass(frozen=True)
class Shop:
    """One side of the comparison: its server, figures and counts."""

    name: str
    target: Target
    pid: int
    runs: list[RunResult]
    warmup: list[RunResult]
    check: Check | None = None
    queries: QueryCount | None = None
    rss_mb: float = 0.0

    @property
    def median(self) -> Endpoint:
        return _median(self.runs)


def run_scale(options: Options) -> int:
    """Empty and loaded shop side by side; True targets and exact stamps give exit code 0."""
    reason = postgres_unreachable()
    if reason:
        print(f"[scale] SKIPPED: PostgreSQL at {PG_ADMIN_URL} is not reachable ({reason})")
        return 1
    print(
        f"scale: wrk, {options.clients} connections, {options.seconds:g} s per run, {ROUNDS} "
        f"rounds alternating ceiling / empty shop / loaded shop (medians) after a "
        f"{WARMUP_SECONDS:g} s warm-up each; {CARDS} benchmark cards per shop; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    if not wrk_path():
        print(WRK_MISSING, file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="stamp-scale-") as tmp:
        work = Path(tmp)
        certs = work / "certs"
        create_dev_identity(certs)
        with postgres_database() as empty_url, postgres_database() as loaded_url:
            keys = {
                "empty": asyncio.run(prepare(empty_url, certs)),
                "loaded": asyncio.run(prepare(loaded_url, certs)),
            }
            print("[loaded] bulk-loading the shop ...", flush=True)
            loaded = asyncio.run(bulk_load(loaded_url))
            _print_loaded(loaded)
            urls = {"empty": empty_url, "loaded": loaded_url}
            ok = _scale_servers(urls, keys, certs, work, options, loaded)
    print("temporary databases dropped")
    return 0 if ok else 1


def _print_loaded(loaded: Loaded) -> None:
    print(
        f"[loaded] {loaded.cards:,} cards, {loaded.events:,} ledger events, "
        f"{loaded.registrations:,} device registrations, {loaded.google:,} Google objects, "
        f"{loaded.attempts:,} push attempts, {loaded.outbox:,} outbox rows (backing off or "
        f"waiting), {loaded.shops:,} shops; {loaded.database_mb:.0f} MB; "
        f"loaded and VACUUM ANALYZEd in {loaded.seconds:.1f} s",
        flush=True,
    )


def _scale_servers(
    urls: dict[str, str],
    keys: dict[str, str],
    certs: Path,
    work: Path,
    options: Options,
    loaded: Loaded,
) -> bool:
    with (
        server(urls["empty"], certs, work / "server-empty.log", scale=True) as (e_port, e_pid),
        server(urls["loaded"], certs, work / "server-loaded.log", scale=True) as (l_port, l_pid),
    ):
        shops = [
            _scale_shop("empty", urls["empty"], keys["empty"], e_port, e_pid, work),
            _scale_shop("loaded", urls["loaded"], keys["loaded"], l_port, l_pid, work),
        ]
        total_cards = asyncio.run(_count(urls["loaded"], "cards"))
        total_events = asyncio.run(_count(urls["loaded"], "card_events"))
        print(
            f"[loaded] with the benchmark cards: {total_cards:,} cards, "
            f"{total_events:,} ledger events",
            flush=True,
        )
        ceiling = _scale_rounds(shops, options)
        time.sleep(1)  # requests cut off at the end of the last run finish on the server
        shops = [_finish_shop(shop) for shop in shops]
        plans = _get(shops[1].target.port, "/bench/explain")
    return _scale_report(ceiling, shops, plans)


def _scale_shop(name: str, url: str, key: str, port: int, pid: int, work: Path) -> Shop:
    print(f"[{name}] server pid {pid} on port {port}; issuing {CARDS} cards", flush=True)
    serials = asyncio.run(issue_cards(port, key, CARDS))
    devices = asyncio.run(register_devices(url, serials))
    print(f"[{name}] {devices} of them with a registered iPhone", flush=True)
    serials_file = work / f"serials-{name}.txt"
    serials_file.write_text("\n".join(serials) + "\n")
    return Shop(name, Target(HOST, port, key, serials, serials_file), pid, [], [])


async def _count(url: str, table: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


def _scale_rounds(shops: list[Shop], options: Options) -> list[RunResult]:
    ceiling: list[RunResult] = []
    load(shops[0].target, "ceiling", options, WARMUP_SECONDS)
    for shop in shops:
        shop.warmup.append(load(shop.target, "stamps", options, WARMUP_SECONDS))
    for number in range(1, ROUNDS + 1):
        result = load(shops[0].target, "ceiling", options, options.seconds)
        ceiling.append(result)
        _print_run(number, "ceiling", result)
        for shop in shops:
            result = load(shop.target, "stamps", options, options.seconds)
            shop.runs.append(result)
            _print_run(number, f"{shop.name} shop", result)
    return ceiling


def _print_run(number: int, label: str, result: RunResult) -> None:
    print(
        f"[scale] round {number} {label:12} {result.rps:9.1f} req/s  p50 {result.p50_ms:6.1f} ms"
        f"  p99 {result.p99_ms:6.1f} ms  non-2xx {result.non_2xx}",
        flush=True,
    )


def _finish_shop(shop: Shop) -> Shop:
    """Stamps stored, statements per request and peak RSS, read while the server runs."""
    target = shop.target
    stored = asyncio.run(stored_stamps(target.port, target.api_key, target.serials))
    stamp_runs = shop.runs + shop.warmup
    check = Check(
        stored,
        sum(run.ok_responses for run in stamp_runs),
        sum(run.issued for run in stamp_runs),
    )
    queries = _count_queries(target, _batched(target.port))
    # Counted stamps are answered 200 one by one: the check above still holds with them.
    return Shop(
        shop.name,
        target,
        shop.pid,
        shop.runs,
        shop.warmup,
        check,
        queries,
        _peak_rss_mb(shop.pid),
    )


def _get(port: int, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=60) as response:
        found: dict[str, Any] = json.load(response)
        return found


def _batched(port: int) -> dict[str, float]:
    """Stamps per batched statement so far, on average."""
    counted = _get(port, "/bench/queries")
    return {
        shape: counted["rows"][shape] / counted["kinds"][shape]
        for shape in BATCHED
        if counted["kinds"].get(shape)
    }


def _count_queries(target: Target, batched: dict[str, float]) -> QueryCount:
    """Sequential stamps, the server's statement counter read before and after each."""
    per_request: list[int] = []
    before_kinds = _get(target.port, "/bench/queries")["kinds"]
    headers = {"Authorization": f"Bearer {target.api_key}"}
    with httpx.Client(base_url=f"http://{HOST}:{target.port}", headers=headers) as client:
        for number in range(COUNTED_REQUESTS):
            before = _get(target.port, "/bench/queries")["total"]
            serial = target.serials[number % len(target.serials)]
            response = client.post(
                f"/api/v1/cards/{serial}/stamps",
                json={"count": 1},
                headers={"Idempotency-Key": f"count-{secrets.token_hex(8)}"},
            )
            response.raise_for_status()
            per_request.append(_get(target.port, "/bench/queries")["total"] - before)
    after_kinds = _get(target.port, "/bench/queries")["kinds"]
    kinds = {
        kind: (after_kinds[kind] - before_kinds.get(kind, 0)) / COUNTED_REQUESTS
        for kind in after_kinds
        if after_kinds[kind] != before_kinds.get(kind, 0)
    }
    return QueryCount(per_request, kinds, batched)


def _peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _scale_report(ceiling: list[RunResult], shops: list[Shop], plans: dict[str, Any]) -> bool:
    empty, loaded = shops
    print()
    print(
        f"{'endpoint':14} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
        f"{'sock err':>8} {'peak RSS':>9}"
    )
    rows: list[tuple[str, Endpoint, str]] = [("ceiling", _median(ceiling), "")]
    rows += [(f"{s.name} shop", s.median, f"{s.rss_mb:.0f} MB") for s in shops]
    for label, endpoint, rss in rows:
        print(
            f"{label:14} {endpoint.rps:9.1f} {endpoint.p50_ms:8.1f} {endpoint.p99_ms:8.1f} "
            f"{endpoint.non_2xx:8d} {endpoint.socket_errors:8d} {rss:>9}"
        )
    print()
    rps_ratio = loaded.median.rps / empty.median.rps
    p99_ratio = loaded.median.p99_ms / empty.median.p99_ms
    rounds = ", ".join(f"{b.rps / a.rps:.2f}" for a, b in zip(empty.runs, loaded.runs, strict=True))
    drift = TARGET_SCALE_DRIFT
    rps_met = rps_ratio >= 1 - drift
    p99_met = p99_ratio <= 1 + drift
    rss_met = max(s.rss_mb for s in shops) < TARGET_RSS_MB
    print(
        f"loaded/empty throughput = {rps_ratio:.2f} (rounds: {rounds}); "
        f">= {1 - drift:.2f}: {_verdict(rps_met)}"
    )
    print(
        f"loaded/empty p99 = {p99_ratio:.2f} ({loaded.median.p99_ms:.1f} vs "
        f"{empty.median.p99_ms:.1f} ms); <= {1 + drift:.2f}: {_verdict(p99_met)}"
    )
    print(
        "peak RSS (VmHWM) "
        + ", ".join(f"{s.name} server {s.rss_mb:.1f} MB" for s in shops)
        + f"; < {TARGET_RSS_MB:.0f} MB: {_verdict(rss_met)}"
    )
    queries_equal = _report_queries(shops)
    healthy = _report_checks(shops)
    print()
    print("EXPLAIN ANALYZE of the stamp path on the loaded shop:")
    indexed = True
    for name, lines in plans.items():
        if lines == [NOT_RUN]:
            print(f"  {name}: not run since the server started")
            continue
        verdict = plan_verdict(lines)
        indexed &= "SEQ SCAN" not in verdict and "indexes: none" not in verdict
        print(f"  {name}: {verdict}")
        for line in lines:
            print(f"      {line}")
    print(f"every stamp-path statement uses an index: {_verdict(indexed)}")
    return healthy and queries_equal and rps_met and p99_met and rss_met and indexed


def _report_queries(shops: list[Shop]) -> bool:
    typical = set()
    for shop in shops:
        assert shop.queries is not None
        counts = shop.queries.per_request
        kinds = ", ".join(f"{kind} {n:g}" for kind, n in sorted(shop.queries.kinds.items()))
        typical.add(shop.queries.typical)
        print(
            f"statements per stamp request, {shop.name} shop: {shop.queries.typical} "
            f"(min {min(counts)}, max {max(counts)} over {len(counts)} requests; "
            f"per request: {kinds})"
        )
        if shop.queries.batched:
            print(
                "  under load, stamps per statement: "
                + ", ".join(f"{shape} {n:.1f}" for shape, n in shop.queries.batched.items())
            )
    equal = len(typical) == 1
    print(f"  equal for empty and loaded shop: {'yes' if equal else 'NO'}")
    return equal


def _report_checks(shops: list[Shop]) -> bool:
    healthy = True
    for shop in shops:
        check = shop.check
        assert check is not None
        print(
            f"{shop.name} shop: stamps stored {check.stored}, 2xx answered "
            f"{check.answered_2xx}, issued {check.issued}: "
            + ("OK" if check.ok else "MISMATCH, stamps lost or duplicated")
        )
        clean = shop.median.non_2xx == 0 and shop.median.socket_errors == 0
        if not clean:
            print(f"  {shop.name} runs had non-2xx responses or socket errors")
        healthy &= check.ok and clean
    return healthy


# --- command line --------------------------------------------------------------------------------


def parse_options(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="per timed run (default 5)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent connections (50)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1: spare the CPU)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="PostgreSQL only: an empty shop against one with 100k cards and 1M events",
    )
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    return Options(args.seconds, args.clients, args.threads, backends, args.scale)


def run(options: Options) -> int:
    if options.scale:
        return run_scale(options)
    generator = "wrk" if wrk_path() else "asyncio fallback client"
    if generator != "wrk":
        print(WRK_MISSING, file=sys.stderr)
    print(
        f"load: {generator}, {options.clients} connections, {options.seconds:g} s per run, "
        f"{ROUNDS} alternating rounds (medians) after a {WARMUP_SECONDS:g} s warm-up; "
        f"{CARDS} cards; {os.cpu_count()} CPUs",
        flush=True,
    )
    results: list[BackendResult] = []
    with tempfile.TemporaryDirectory(prefix="stamp-bench-") as tmp:
        work = Path(tmp)
        certs = work / "certs"
        create_dev_identity(certs)
        for name in options.backends:
            result = _backend(name, certs, work, options)
            if result is not None:
                results.append(result)
    if not results:
        return 1
    return 0 if report(results) else 1


def _backend(name: str, certs: Path, work: Path, options: Options) -> BackendResult | None:
    if name == "sqlite":
        return measure(name, f"sqlite:///{work / 'bench.db'}", certs, work, options)
    reason = postgres_unreachable()
    if reason:
        print(f"[postgres] SKIPPED: PostgreSQL at {PG_ADMIN_URL} is not reachable ({reason})")
        return None
    with postgres_database() as url:
        return measure(name, url, certs, work, options)


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        database_url, certs_dir, port = sys.argv[2:5]
        serve(database_url, Path(certs_dir), int(port), scale=sys.argv[5:6] == ["scale"])
        return
    run_main(lambda: run(parse_options(sys.argv[1:])))


if __name__ == "__main__":
    main()
