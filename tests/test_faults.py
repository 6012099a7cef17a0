"""Faults injected into real processes: SIGKILL between commit and delivery, a failing or
vanished APNs, SIGTERM with requests in flight, a PostgreSQL restart under traffic.

Afterwards every committed stamp is present exactly once and every pending push is delivered.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.api_calls import Visit, get_card, send_stamp
from tests.conftest import PG_ADMIN_URL, auth
from tests.fake_apns import FakeApns
from tests.live import create_shop, live_env, server, until
from tests.phones import Phone, new_phone

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`


async def pending_pushes(client: httpx.AsyncClient, api_key: str, serial: str) -> int:
    response = await client.get(f"/api/v1/cards/{serial}/deliveries", headers=auth(api_key))
    assert response.status_code == 200, response.text
    return int(response.json()["pending_pushes"])


async def delivered_everywhere(
    client: httpx.AsyncClient, api_key: str, phones: list[Phone], seconds: float = 40
) -> None:
    """Until no card has a push waiting."""
    deadline = time.monotonic() + seconds
    while True:
        waiting = [p.serial for p in phones if await pending_pushes(client, api_key, p.serial)]
        if not waiting:
            return
        assert time.monotonic() < deadline, f"pushes still pending for {waiting}"
        await asyncio.sleep(0.2)


def delivered_tokens(fake: FakeApns, since: int = 0) -> set[str]:
    return {r.token for r in fake.requests[since:] if r.status == 200 and r.token}


def sqlite_env(tmp_path: Path, certs_dir: Path, fake: FakeApns, **extra: str) -> dict[str, str]:
    return live_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir, fake, **extra)


async def test_sigkill_between_commit_and_delivery_loses_and_doubles_nothing(
    tmp_path: Path, certs_dir: Path, apns: FakeApns
) -> None:
    env = sqlite_env(tmp_path, certs_dir, apns, PASSES_PUSH_LEASE_SECONDS="2")
    key = create_shop(env, stamps=4)
    ca = certs_dir / "wwdr.pem"
    visits: list[Visit] = []
    with server(env) as (base, proc):
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            phones = [await new_phone(client, key, ca) for _ in range(8)]
            apns.delay = 5.0  # the worker is stuck on APNs: committed pushes wait in the outbox
            visits = [
                Visit(p.serial, 1 + i % 3, secrets.token_hex(8)) for p in phones for i in range(4)
            ]
            sent = [asyncio.create_task(send_stamp(client, key, v)) for v in visits]
            await until(lambda: len(apns.requests) >= 1)
            await asyncio.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            answers = await asyncio.gather(*sent, return_exceptions=True)
    answered = sum(isinstance(a, httpx.Response) and a.status_code == 200 for a in answers)
    assert answered >= 1, "some stamps were committed before the kill"
    in_flight = len(apns.requests)
    apns.delay = 0.0
    with server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            # A client that saw no answer retries with the same key; one that did retries too.
            for visit in visits:
                assert (await send_stamp(client, key, visit)).status_code == 200
            for phone in phones:
                expected = sum(v.count for v in visits if v.serial == phone.serial)
                now = await get_card(client, key, phone.serial)
                assert now["total_stamps"] == expected, "every stamp exactly once"
                assert now["version"] == 1 + 4, "no stamp applied twice"
            await delivered_everywhere(client, key, phones)
    assert delivered_tokens(apns, in_flight) >= {p.push_token for p in phones}


async def test_apns_failing_in_bursts_delivers_everything(
    tmp_path: Path, certs_dir: Path, apns: FakeApns
) -> None:
    env = sqlite_env(tmp_path, certs_dir, apns)
    key = create_shop(env)
    with server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            phones = [await new_phone(client, key, certs_dir / "wwdr.pem") for _ in range(6)]
            for status in (500, 429, 503, 500):
                apns.fail_next(3, status)
            for phone in phones:
                await send_stamp(client, key, Visit(phone.serial, 1, secrets.token_hex(8)))
            await delivered_everywhere(client, key, phones, seconds=60)
    assert delivered_tokens(apns) == {p.push_token for p in phones}
    assert sum(r.status != 200 for r in apns.requests) == 12, "every failure was answered"


async def test_apns_gone_for_a_while_then_back_delivers_afterwards(
    tmp_path: Path, certs_dir: Path, apns: FakeApns
) -> None:
    env = sqlite_env(tmp_path, certs_dir, apns)
    key = create_shop(env)
    async with AsyncExitStack() as stack:
        with server(env) as (base, _):
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                phones = [await new_phone(client, key, certs_dir / "wwdr.pem") for _ in range(4)]
                await apns.stop()
                for phone in phones:
                    await send_stamp(client, key, Visit(phone.serial, 2, secrets.token_hex(8)))
                await asyncio.sleep(1.5)  # the worker fails to connect meanwhile
                assert all([await pending_pushes(client, key, p.serial) for p in phones])
                # Stopped after the server (the stack), so no open connection holds it up.
                back = await stack.enter_async_context(
                    _fake_on(tmp_path, certs_dir, apns.port, apns.topic)
                )
                await delivered_everywhere(client, key, phones, seconds=60)
        assert delivered_tokens(back) == {p.push_token for p in phones}


@asynccontextmanager
async def _fake_on(
    tmp_path: Path, certs_dir: Path, port: int, topic: str | None
) -> AsyncIterator[FakeApns]:
    """A new local APNs on the port (and with the certificate) the old one had."""
    fake = FakeApns(
        tmp_path / "server.pem",
        tmp_path / "server.key",
        certs_dir / "wwdr.pem",
        port=port,
        topic=topic,
        server_ca=tmp_path / "ca.pem",
    )
    async with fake:
        yield fake


async def _drip(body: bytes, pieces: int, pause: float) -> AsyncIterator[bytes]:
    """A request body uploaded slowly."""
    size = -(-len(body) // pieces)
    for start in range(0, len(body), size):
        yield body[start : start + size]
        await asyncio.sleep(pause)


async def test_sigterm_finishes_requests_in_flight(
    tmp_path: Path, certs_dir: Path, apns: FakeApns
) -> None:
    env = sqlite_env(tmp_path, certs_dir, apns)
    key = create_shop(env, stamps=30)
    # Large but allowed (64 KiB): JSON may end in whitespace.
    body = b'{"count": 1}' + b" " * 60_000
    with server(env) as (base, proc):
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            serial = (await client.post("/api/v1/cards", headers=auth(key))).json()["serial"]

        async def slow_stamp(index: int) -> httpx.Response:
            # One connection each, so every request is accepted before the signal.
            async with httpx.AsyncClient(base_url=base, timeout=20) as own:
                return await own.post(
                    f"/api/v1/cards/{serial}/stamps",
                    content=_drip(body, 12, 0.4),
                    headers={
                        **auth(key),
                        "Content-Type": "application/json",
                        "Content-Length": str(len(body)),
                        "Idempotency-Key": f"slow-{index}",
                    },
                )

        requests = [asyncio.create_task(slow_stamp(i)) for i in range(20)]
        # Every upload has started (its headers read, even on a machine with a load of 8 on
        # 2 cores, where 1.2 s was once too short) and is still going: the signal comes after
        # 3 of the 4.8 s they take.
        await asyncio.sleep(3.0)
        proc.send_signal(signal.SIGTERM)
        answers = await asyncio.gather(*requests, return_exceptions=True)
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
    failures = [repr(a) for a in answers if not isinstance(a, httpx.Response)]
    assert not failures, failures
    assert [a.status_code for a in answers if isinstance(a, httpx.Response)] == [200] * 20
    totals = [a.json()["total_stamps"] for a in answers if isinstance(a, httpx.Response)]
    assert sorted(totals) == list(range(1, 21)), "each answer is complete and distinct"
    with server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            assert (await get_card(client, key, serial))["total_stamps"] == 20


async def _drop_connections(database_url: str) -> None:
    """What a PostgreSQL restart does to the app, confined to this test's own database."""
    import asyncpg

    name = database_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await conn.close()


async def _restart_postgres(database_url: str) -> None:
    # Fast mode: a smart shutdown would wait for every pooled connection to leave.
    # pg_ctlcluster gives up after 60 s while a half-open connection (a client retrying
    # during the shutdown) holds the postmaster for authentication_timeout; it still
    # restarts, so wait for it rather than trust the exit code.
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main"]
    await asyncio.to_thread(subprocess.run, [*command, "restart", "-m", "fast"], check=False)
    await asyncio.to_thread(subprocess.run, [*command, "start"], check=False)
    for _ in range(120):
        ready = await asyncio.to_thread(
            subprocess.run, ["pg_isready", "-h", "127.0.0.1", "-q"], check=False
        )
        if ready.returncode == 0:
            return
        await asyncio.sleep(1)
    raise AssertionError("PostgreSQL did not come back")


@pytest.mark.parametrize(
    "outage",
    [
        pytest.param(_drop_connections, id="connections-dropped"),
        pytest.param(
            _restart_postgres,
            id="server-restarted",
            marks=pytest.mark.skipif(
                os.environ.get("PASSES_TEST_PG_RESTART") != "1",
                reason="restarts the shared local PostgreSQL: set PASSES_TEST_PG_RESTART=1",
            ),
        ),
    ],
)
async def test_postgres_outage_under_traffic_loses_and_doubles_nothing(
    postgres_url: str,
    certs_dir: Path,
    apns: FakeApns,
    outage: Callable[[str], Awaitable[None]],
) -> None:
    env = live_env(postgres_url, certs_dir, apns)
    key = create_shop(env, stamps=5)
    statuses: list[int] = []
    with server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base, timeout=15) as client:
            serials = [
                (await client.post("/api/v1/cards", headers=auth(key))).json()["serial"]
                for _ in range(5)
            ]
            visits = [Visit(serials[i % 5], 1 + i % 2, secrets.token_hex(8)) for i in range(150)]

            async def with_retries(visit: Visit) -> bool:
                """A client retrying with its Idempotency-Key until it gets an answer."""
                for _ in range(60):
                    try:
                        response = await send_stamp(client, key, visit)
                        statuses.append(response.status_code)
                        if response.status_code == 200:
                            return True
                    except httpx.TransportError:
                        statuses.append(0)
                    await asyncio.sleep(0.25)
                return False

            async def traffic() -> list[bool]:
                done: list[bool] = []
                for start in range(0, len(visits), 10):
                    batch = visits[start : start + 10]
                    done += await asyncio.gather(*(with_retries(v) for v in batch))
                return done

            running = asyncio.create_task(traffic())
            await asyncio.sleep(0.3)
            await outage(postgres_url)
            assert all(await running)
            # Afterwards nothing fails any more: every fresh request succeeds at once.
            for serial in serials:
                now = await get_card(client, key, serial)
                expected = sum(v.count for v in visits if v.serial == serial)
                assert now["total_stamps"] == expected, "every stamp exactly once"
                assert now["version"] == 1 + sum(v.serial == serial for v in visits)
    print(f"answers during the outage: { {s: statuses.count(s) for s in set(statuses)} }")
    assert 500 not in statuses, "a lost connection is a 503 to retry, never a 500"
