"""The SQLite card writer (store/sqlite_writer.py) under load: `passes serve` on a real SQLite
file, stamps over HTTP, many at once.

Stamps arriving together are committed together, each a compare-and-set of its card; here
clients retry with the same Idempotency-Key at the same moment, the locked path (campaign
bonus stamps, undos, new cards) writes beside the writer, and the server is killed mid-load.
Afterwards each key is in the ledger once, the totals are exact, every answered stamp has its
push waiting, and no request met a locked database.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from tests.api_calls import Visit, get_card, send_stamp
from tests.conftest import auth
from tests.live import PASSES, create_shop, free_port, passes_env, wait_for
from tests.phones import new_phone

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`

CARDS = 4


class ShopFile(NamedTuple):
    """A fresh SQLite file with one shop: the file, the server's log, the environment to
    serve it and the shop's API key."""

    db: Path
    log: Path
    env: dict[str, str]
    key: str


@pytest.fixture
def shop_file(tmp_path: Path, certs_dir: Path) -> ShopFile:
    db = tmp_path / "passes.db"
    env = passes_env(f"sqlite:///{db}", certs_dir)
    return ShopFile(db, tmp_path / "server.log", env, create_shop(env, stamps=10))


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`passes serve --no-worker` (pushes stay queued), its output in `log`; stopped after."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*PASSES, "serve", "--port", str(port), "--no-worker"],
            env={**env, "PASSES_BASE_URL": base},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"{base}/healthz", proc)  # type: ignore[arg-type]
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def client(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base,
        timeout=60,
        limits=httpx.Limits(max_connections=250, max_keepalive_connections=250),
    )


async def new_card(http: httpx.AsyncClient, key: str) -> str:
    response = await http.post("/api/v1/cards", headers=auth(key))
    assert response.status_code == 201, response.text
    return str(response.json()["serial"])


def ledger(db: Path) -> list[sqlite3.Row]:
    """Every ledger event, read straight from the file the server wrote."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM card_events ORDER BY id").fetchall()


def assert_clean(log: Path) -> None:
    text = log.read_text(errors="replace")
    assert "database is locked" not in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]


async def test_stamps_retried_at_the_same_moment_apply_each_key_once(
    shop_file: ShopFile,
) -> None:
    db, log, env, key = shop_file
    with serving(env, log) as (base, _):
        async with client(base) as http:
            serials = [await new_card(http, key) for _ in range(CARDS)]
            visits = [
                Visit(serials[i % CARDS], 1 + i % 3, secrets.token_hex(8)) for i in range(100)
            ]
            # Each visit twice at once: a client that timed out and sent it again.
            answers = await asyncio.gather(
                *(send_stamp(http, key, visit) for visit in visits for _ in range(2))
            )
            assert [a.status_code for a in answers] == [200] * 200, [a.text for a in answers]
            for number in range(len(visits)):
                first, retry = answers[2 * number].json(), answers[2 * number + 1].json()
                shown = ("total_stamps", "version", "last_change_id")
                assert [first[f] for f in shown] == [retry[f] for f in shown], "the same answer"
            for serial in serials:
                mine = [v for v in visits if v.serial == serial]
                now = await get_card(http, key, serial)
                assert now["total_stamps"] == sum(v.count for v in mine), "every stamp exactly once"
                assert now["version"] == 1 + len(mine), "no stamp applied twice"
    keys = Counter(row["idempotency_key"] for row in ledger(db) if row["kind"] == "stamp")
    assert keys == Counter({visit.key: 1 for visit in visits}), "each key applied once"
    assert_clean(log)


async def test_stamps_beside_campaigns_undos_and_new_cards_never_find_the_database_locked(
    shop_file: ShopFile,
) -> None:
    _, log, env, key = shop_file
    with serving(env, log) as (base, _):
        async with client(base) as http:
            serials = [await new_card(http, key) for _ in range(10)]
            visits = [Visit(serials[i % 10], 1 + i % 2, secrets.token_hex(8)) for i in range(240)]
            limit = asyncio.Semaphore(40)
            undone: list[tuple[int, httpx.Response]] = []

            async def stamp_then_maybe_undo(number: int, visit: Visit) -> httpx.Response:
                async with limit:
                    answer = await send_stamp(http, key, visit)
                    if answer.status_code == 200 and number % 5 == 0:
                        change = answer.json()["last_change_id"]
                        path = f"/api/v1/cards/{visit.serial}/stamps/{change}"
                        undone.append((visit.count, await http.delete(path, headers=auth(key))))
                    return answer

            async def campaign(pause: float) -> httpx.Response:
                await asyncio.sleep(pause)
                body = {"text": "Heute gibt's Extra-Stempel", "segment": "all", "bonus_stamps": 2}
                return await http.post("/api/v1/messages", json=body, headers=auth(key))

            async def late_card(pause: float) -> str:
                await asyncio.sleep(pause)
                return await new_card(http, key)

            stamped, campaigns, late = await asyncio.gather(
                asyncio.gather(*(stamp_then_maybe_undo(n, v) for n, v in enumerate(visits))),
                asyncio.gather(campaign(0.05), campaign(0.3)),
                asyncio.gather(*(late_card(0.02 * n) for n in range(8))),
            )
            answers = [*stamped, *(a for _, a in undone), *campaigns]
            assert {a.status_code for a in answers} <= {200, 202}, [a.text for a in answers]
            assert len(undone) >= 40
            given = sum(v.count for v in visits)
            taken = sum(count for count, _ in undone)
            bonus = sum(2 * a.json()["recipients"] for a in campaigns)
            assert bonus > 0
            totals = [(await get_card(http, key, s))["total_stamps"] for s in [*serials, *late]]
    assert sum(totals) == given - taken + bonus, "stamps, undos and bonus stamps add up"
    assert_clean(log)


async def test_a_server_killed_mid_load_keeps_every_answered_stamp_and_its_push(
    shop_file: ShopFile, certs_dir: Path
) -> None:
    db, log, env, key = shop_file
    ca = certs_dir / "wwdr.pem"
    sent: list[tuple[Visit, httpx.Response | BaseException]] = []
    with serving(env, log) as (base, proc):
        async with client(base) as http:
            phones = [await new_phone(http, key, ca) for _ in range(6)]
            stop = asyncio.Event()

            async def stamping(worker: int) -> None:
                while not stop.is_set():
                    visit = Visit(phones[worker % len(phones)].serial, 1, secrets.token_hex(8))
                    try:
                        sent.append((visit, await send_stamp(http, key, visit)))
                    except httpx.TransportError as exc:  # killed while this one was in flight
                        sent.append((visit, exc))
                        return

            workers = [asyncio.create_task(stamping(n)) for n in range(40)]
            while sum(isinstance(a, httpx.Response) for _, a in sent) < 300:
                await asyncio.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
            stop.set()
            await asyncio.gather(*workers)
    answered = [v for v, a in sent if isinstance(a, httpx.Response) and a.status_code == 200]
    assert len(answered) >= 300
    events = {row["idempotency_key"]: row for row in ledger(db) if row["kind"] == "stamp"}
    assert {v.key for v in answered} <= set(events), "every answered stamp is in the ledger"
    with sqlite3.connect(db) as conn:
        waiting = conn.execute(
            "SELECT card_id, min(created_at) FROM push_outbox WHERE target = 'apple'"
            " AND claimed_until IS NULL GROUP BY card_id"
        ).fetchall()
        cards = dict(conn.execute("SELECT id, total_stamps FROM cards").fetchall())
    queued_since = dict(waiting)
    for visit in answered:
        event = events[visit.key]
        since = queued_since.get(event["card_id"])
        assert since is not None and since <= event["created_at"], "its push waits"
    for card_id, total in cards.items():
        assert total == sum(e["count"] for e in events.values() if e["card_id"] == card_id)
    # Every client sends again what it has no answer to, and what it has: each once.
    with serving(env, log) as (base, _):
        async with client(base) as http:
            again = await asyncio.gather(*(send_stamp(http, key, v) for v, _ in sent))
            assert {a.status_code for a in again} == {200}
            for phone in phones:
                now = await get_card(http, key, phone.serial)
                assert now["total_stamps"] == sum(1 for v, _ in sent if v.serial == phone.serial)
