"""What signing staff in by name costs a stamp: stamps/s from the staff page of a person (their
stamp takes the locked path, as its count for the day in staff_days is written in the same
transaction) against the shared PIN's (the optimistic writer), side by side in one run, on
SQLite and PostgreSQL.

Run: .venv/bin/python benchmarks/staff_stamps.py [--seconds 3] [--clients 50] [--backend both]

One server (stamp_api.py's: the real app, one uvicorn worker) holds two shops: one signed in
with the shared PIN, one whose person Ana is signed in. wrk (staff_stamps.lua) sends
POST /staff/{shop}/cards/{serial}/stamps with the browser's cookies and CSRF header and a unique
Idempotency-Key, round-robin over each shop's cards; the two alternate, medians are reported.
Afterwards each shop's stored stamps must match what wrk saw answered, and Ana's staff_days
count must equal her shop's stamps.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from serve_for_bench import HOST, run_main
from stamp_api import (
    PG_ADMIN_URL,
    WARMUP_SECONDS,
    Options,
    issue_cards,
    parse_options,
    postgres_database,
    postgres_unreachable,
    server,
    stored_stamps,
)
from stamp_load import RunResult, parse_wrk, wrk_path

from passes.apple.devcerts import create_dev_identity
from passes.config import Settings
from passes.people import People
from passes.service import Service
from passes.staff import StaffPins
from passes.store import Store

LUA = Path(__file__).resolve().with_name("staff_stamps.lua")
PIN = "2468"
CARDS = 500
ROUNDS = 3


@dataclass(frozen=True)
class Shop:
    """One shop of the run: how its staff page is signed in, and its cards."""

    label: str
    slug: str
    api_key: str
    person: str | None
    cookie: str = ""
    csrf: str = ""
    serials_file: Path | None = None


async def prepare(database_url: str, certs_dir: Path) -> list[Shop]:
    """Migrate; one shop with the shared PIN, one with a person (Ana)."""
    store = Store(database_url)
    try:
        await store.migrate()
        settings = Settings(
            database_url=database_url, base_url=f"http://{HOST}", certs_dir=certs_dir
        )
        service = Service(settings, store)
        made = []
        for label, person in (("shared PIN", None), ("person", "Ana")):
            shop, key = await service.shops.create_shop(
                name=f"Bench {label}", stamps=10, reward="1"
            )
            if person is None:
                await StaffPins(store).set_pin(shop, PIN)
            else:
                await People(store).add(shop, person, PIN)
            made.append(Shop(label, shop.slug, key, person))
        return made
    finally:
        await store.close()


async def sign_in(port: int, shop: Shop) -> Shop:
    """Sign a browser in on the shop's staff page; its Cookie header and CSRF token."""
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}") as browser:
        page = await browser.get(f"/staff/{shop.slug}")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None, page.text
        fields = {"csrf": token.group(1), "pin": PIN, "name": shop.person or ""}
        signed = await browser.post(f"/staff/{shop.slug}/login", data=fields)
        assert signed.status_code == 303, signed.text
        cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
        return Shop(**{**shop.__dict__, "cookie": cookie, "csrf": token.group(1)})


def load(port: int, shop: Shop, options: Options, seconds: float) -> RunResult:
    command = [
        *("wrk", f"-t{options.threads}", f"-c{options.clients}", f"-d{max(1, round(seconds))}s"),
        *("--timeout", "10s", "--latency", "-s", str(LUA), f"http://{HOST}:{port}", "--"),
        *(shop.slug, str(shop.serials_file), shop.cookie, shop.csrf, uuid.uuid4().hex[:12]),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


async def staff_days_total(database_url: str) -> int:
    store = Store(database_url)
    try:
        async with store.reading() as conn:
            found = await conn.exec_driver_sql("SELECT coalesce(sum(stamps), 0) FROM staff_days")
            return int(found.scalar_one())
    finally:
        await store.close()


def measure(name: str, database_url: str, certs: Path, work: Path, options: Options) -> bool:
    shops = asyncio.run(prepare(database_url, certs))
    runs: dict[str, list[RunResult]] = {shop.label: [] for shop in shops}
    answered = dict.fromkeys(runs, 0)
    with server(database_url, certs, work / f"server-{name}.log") as (port, _):
        ready = []
        for shop in shops:
            serials = asyncio.run(issue_cards(port, shop.api_key, CARDS))
            path = work / f"serials-{name}-{shop.person or 'shared'}.txt"
            path.write_text("\n".join(serials) + "\n")
            signed = asyncio.run(sign_in(port, Shop(**{**shop.__dict__, "serials_file": path})))
            ready.append((signed, serials))
        for shop, _ in ready:
            answered[shop.label] += load(port, shop, options, WARMUP_SECONDS).ok_responses
        for number in range(1, ROUNDS + 1):
            for shop, _ in ready:
                result = load(port, shop, options, options.seconds)
                runs[shop.label].append(result)
                answered[shop.label] += result.ok_responses
                print(
                    f"[{name}] round {number} {shop.label:10} {result.rps:8.1f} stamps/s  "
                    f"p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  "
                    f"non-2xx {result.non_2xx}",
                    flush=True,
                )
        stored = {
            shop.label: asyncio.run(stored_stamps(port, shop.api_key, serials))
            for shop, serials in ready
        }
    counted = asyncio.run(staff_days_total(database_url))
    return report(name, runs, answered, stored, counted)


def report(
    name: str,
    runs: dict[str, list[RunResult]],
    answered: dict[str, int],
    stored: dict[str, int],
    counted: int,
) -> bool:
    shared, person = (statistics.median(r.rps for r in runs[k]) for k in ("shared PIN", "person"))
    p99 = {k: statistics.median(r.p99_ms for r in v) for k, v in runs.items()}
    print(
        f"[{name}] shared PIN {shared:.0f} stamps/s (p99 {p99['shared PIN']:.1f} ms), "
        f"a person {person:.0f} stamps/s (p99 {p99['person']:.1f} ms): "
        f"ratio person/shared {person / shared:.2f}"
    )
    # Requests cut off at the end of a run may be applied without wrk counting them.
    ok = all(answered[k] <= stored[k] for k in runs) and counted == stored["person"]
    print(
        f"[{name}] stored {stored} vs answered {answered}; Ana's staff_days {counted}: "
        f"{'OK' if ok else 'MISMATCH'}"
    )
    return ok


def run(options: Options) -> int:
    if not wrk_path():
        print("wrk is needed: apt-get install -y wrk", file=sys.stderr)
        return 1
    ok = True
    with tempfile.TemporaryDirectory(prefix="staff-bench-") as tmp:
        work = Path(tmp)
        certs = work / "certs"
        create_dev_identity(certs)
        for name in options.backends:
            if name == "sqlite":
                ok &= measure(name, f"sqlite:///{work / 'bench.db'}", certs, work, options)
                continue
            reason = postgres_unreachable()
            if reason:
                print(f"[postgres] SKIPPED: {PG_ADMIN_URL} is not reachable ({reason})")
                continue
            with postgres_database() as url:
                ok &= measure(name, url, certs, work, options)
    return 0 if ok else 1


if __name__ == "__main__":
    run_main(lambda: run(parse_options(sys.argv[1:])))
