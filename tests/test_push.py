"""Live updates end to end: a real server and workers, a local APNs peer, simulated iPhones."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.api_calls import stamp
from tests.fake_apns import FakeApns
from tests.live import create_shop, live_env, process, run, server, until
from tests.phones import Phone, new_phone, pushes_to

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`


async def test_a_stamp_reaches_the_phone(tmp_path: Path, certs_dir: Path, apns: FakeApns) -> None:
    env = live_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir, apns)
    key = create_shop(env, stamps=10)
    ca = certs_dir / "wwdr.pem"
    with server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            phone = await new_phone(client, key, ca)
            assert await phone.changed_serials() == [phone.serial]
            assert (await phone.refresh()).status_code == 200

            await stamp(client, key, phone.serial)
            await until(lambda: bool(pushes_to(apns, phone.push_token)))
            push = pushes_to(apns, phone.push_token)[0]
            assert push.http_version == "2"
            assert push.headers["apns-topic"] == phone.pass_type
            assert push.body == "{}"

            assert await phone.changed_serials() == [phone.serial]
            fresh = await phone.refresh()
            assert fresh.status_code == 200
            assert phone.stamps_shown(fresh.content) == "1 / 10"
            assert (await phone.refresh()).status_code == 304
            wrong = await client.get(
                f"/wallet/v1/passes/{phone.pass_type}/{phone.serial}",
                headers={"Authorization": "ApplePass not-the-token-at-all"},
            )
            assert wrong.status_code == 401

            report = (
                await client.get(
                    f"/api/v1/cards/{phone.serial}/deliveries",
                    headers={"Authorization": f"Bearer {key}"},
                )
            ).json()
            assert report["attempts"][0]["outcome"] == "delivered"
            assert report["attempts"][0]["status"] == 200
            assert report["pending_pushes"] == 0

            assert await phone.unregister() == 200
            before = len(pushes_to(apns, phone.push_token))
            await stamp(client, key, phone.serial)
            await asyncio.sleep(1.5)
            assert len(pushes_to(apns, phone.push_token)) == before, "no push after unregistering"


async def test_gone_devices_are_forgotten(tmp_path: Path, certs_dir: Path, apns: FakeApns) -> None:
    env = live_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir, apns)
    key = create_shop(env)
    ca = certs_dir / "wwdr.pem"
    with server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            gone, bad, alive = [await new_phone(client, key, ca) for _ in range(3)]
            apns.reply(gone.push_token, 410)
            apns.reply(bad.push_token, 400)
            for phone in (gone, bad, alive):
                await stamp(client, key, phone.serial)
            await until(lambda: all(pushes_to(apns, p.push_token) for p in (gone, bad, alive)))

            async def devices(phone: Phone) -> int:
                report = await client.get(
                    f"/api/v1/cards/{phone.serial}/deliveries",
                    headers={"Authorization": f"Bearer {key}"},
                )
                return len(report.json()["devices"])

            for phone in (gone, bad):
                deadline = time.monotonic() + 10
                while await devices(phone) and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                assert await devices(phone) == 0
            assert await devices(alive) == 1
            for phone in (gone, bad, alive):
                await stamp(client, key, phone.serial)
            await until(lambda: len(pushes_to(apns, alive.push_token)) == 2)
            await asyncio.sleep(1)
            assert len(pushes_to(apns, gone.push_token)) == 1
            assert len(pushes_to(apns, bad.push_token)) == 1


async def _devices(client: httpx.AsyncClient, key: str, phone: Phone) -> int:
    report = await client.get(
        f"/api/v1/cards/{phone.serial}/deliveries", headers={"Authorization": f"Bearer {key}"}
    )
    return len(report.json()["devices"])


async def test_a_410_forgets_only_registrations_not_renewed_since_the_token_went(
    tmp_path: Path, certs_dir: Path, apns: FakeApns
) -> None:
    env = live_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir, apns)
    key = create_shop(env)
    ca = certs_dir / "wwdr.pem"
    with server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            stale, renewed = [await new_phone(client, key, ca) for _ in range(2)]
            await asyncio.sleep(0.05)
            gone_at = datetime.now(UTC)  # APNs' 410 timestamp: the tokens went invalid now
            await asyncio.sleep(0.05)
            for phone in (stale, renewed):
                apns.gone(phone.push_token, gone_at)
            assert await renewed.register() == 200, "the device registered again since"
            for phone in (stale, renewed):
                await stamp(client, key, phone.serial)
            await until(lambda: all(pushes_to(apns, p.push_token) for p in (stale, renewed)))
            deadline = time.monotonic() + 10
            while await _devices(client, key, stale) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert await _devices(client, key, stale) == 0, "not renewed since: forgotten"
            assert await _devices(client, key, renewed) == 1, "renewed after the 410's moment"

            apns.reply(renewed.push_token, 200)
            await stamp(client, key, renewed.serial)
            await until(lambda: len(pushes_to(apns, renewed.push_token)) == 2)
            assert pushes_to(apns, renewed.push_token)[-1].status == 200


async def test_the_worker_claims_more_while_pushes_are_in_flight(
    tmp_path: Path, certs_dir: Path, apns: FakeApns
) -> None:
    env = live_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir, apns, PASSES_PUSH_BATCH="20")
    phones = await _phones_with_pending_pushes(env, certs_dir, 90)
    apns.delay = 0.3
    with process(env, "worker"):
        await until(lambda: all(pushes_to(apns, p.push_token) for p in phones), seconds=30)
    # Batch by batch, 20 pushes at most would be in flight at once.
    assert apns.most_in_flight > 40, apns.most_in_flight
    assert [len(pushes_to(apns, p.push_token)) for p in phones] == [1] * len(phones)


async def test_busy_and_failing_apns_is_retried_until_delivered(
    tmp_path: Path, certs_dir: Path, apns: FakeApns
) -> None:
    env = live_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir, apns)
    key = create_shop(env)
    with server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            phone = await new_phone(client, key, certs_dir / "wwdr.pem")
            apns.fail_next(1, 429)
            apns.fail_next(1, 500)
            await stamp(client, key, phone.serial)
            await until(
                lambda: any(r.status == 200 for r in pushes_to(apns, phone.push_token)), seconds=30
            )
            assert [r.status for r in pushes_to(apns, phone.push_token)] == [429, 500, 200]


async def test_changes_before_delivery_coalesce_into_one_push(
    tmp_path: Path, certs_dir: Path, apns: FakeApns
) -> None:
    env = live_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir, apns)
    key = create_shop(env)
    with server(env, "--no-worker") as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            phone = await new_phone(client, key, certs_dir / "wwdr.pem")
            for _ in range(5):
                await stamp(client, key, phone.serial)
        with process(env, "worker"):
            await until(lambda: bool(pushes_to(apns, phone.push_token)))
            await asyncio.sleep(1.5)
    assert len(pushes_to(apns, phone.push_token)) == 1


async def _phones_with_pending_pushes(
    env: dict[str, str], certs_dir: Path, count: int
) -> list[Phone]:
    key = create_shop(env)
    with server(env, "--no-worker") as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            phones = [await new_phone(client, key, certs_dir / "wwdr.pem") for _ in range(count)]
            for phone in phones:
                await stamp(client, key, phone.serial)
    return phones


async def test_killing_the_worker_mid_batch_loses_no_push(
    tmp_path: Path, certs_dir: Path, apns: FakeApns
) -> None:
    env = live_env(
        f"sqlite:///{tmp_path / 'passes.db'}", certs_dir, apns, PASSES_PUSH_LEASE_SECONDS="2"
    )
    phones = await _phones_with_pending_pushes(env, certs_dir, 30)
    apns.delay = 2.0  # answers take a while: the worker dies with pushes in flight
    with process(env, "worker") as first:
        await until(lambda: len(apns.requests) >= 1)
        first.send_signal(signal.SIGKILL)
        first.wait()
    in_flight = len(apns.requests)
    apns.delay = 0.0
    tokens = {p.push_token for p in phones}
    with process(env, "worker"):
        # The dead worker settled nothing: after its lease, every push is sent again.
        await until(lambda: {r.token for r in apns.requests[in_flight:]} >= tokens, seconds=30)
        await asyncio.sleep(0.5)
    shown = run(env, "card", "show", phones[0].serial, "--json").stdout
    assert json.loads(shown)["pending_pushes"] == 0


async def test_two_workers_on_postgres_share_the_queue(
    postgres_url: str, certs_dir: Path, apns: FakeApns
) -> None:
    env = live_env(postgres_url, certs_dir, apns, PASSES_PUSH_BATCH="5")
    phones = await _phones_with_pending_pushes(env, certs_dir, 60)
    # Slow enough answers that one worker cannot drain all 60 before the other has started
    # (each holds up to 3 batches of 5 in flight; a process starts in about a second).
    apns.delay = 0.5
    with process(env, "worker"), process(env, "worker"):
        await until(lambda: all(pushes_to(apns, p.push_token) for p in phones), seconds=60)
        await asyncio.sleep(1)
    counts = [len(pushes_to(apns, p.push_token)) for p in phones]
    assert counts == [1] * len(phones), "each row was claimed by one worker at a time"
    assert apns.connections >= 2, "both workers took part"
