"""Webhooks from a real `passes worker` killed with SIGKILL while its messages are in flight:
the next worker sends them again after the lease, so each arrives at least once, signed, and
in order per card."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import auth
from tests.live import create_shop, passes_env, process, server, until
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.slow  # the dead worker's lease runs out after 60 s

CARDS = 4
IN_ORDER = ["card.created", "card.stamped", "card.stamped", "reward.earned", "reward.redeemed"]


async def busy_cards(client: httpx.AsyncClient, key: str) -> list[str]:
    """Cards created, stamped twice (a 2-stamp shop's reward) and redeemed, over the API."""
    serials = []
    for _ in range(CARDS):
        serial = (await client.post("/api/v1/cards", json={}, headers=auth(key))).json()["serial"]
        for _ in range(2):
            await client.post(f"/api/v1/cards/{serial}/stamps", json={}, headers=auth(key))
        await client.post(f"/api/v1/cards/{serial}/redeem", json={}, headers=auth(key))
        serials.append(serial)
    return serials


def first_arrivals(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """Each message as it first arrived (a resent one carries the same webhook-id)."""
    bodies = receiver.verified(secret)
    firsts: dict[str, dict[str, Any]] = {}
    for (headers, _), body in zip(receiver.got, bodies, strict=True):
        firsts.setdefault(headers["webhook-id"], body)
    return list(firsts.values())


def arrived(receiver: Receiver, secret: str, serial: str) -> list[str]:
    found = first_arrivals(receiver, secret)
    return [b["type"] for b in found if b["data"].get("serial") == serial]


async def test_a_killed_worker_loses_no_webhook_and_keeps_each_cards_order(
    tmp_path: Path, certs_dir: Path, receiver: Receiver
) -> None:
    env = passes_env(
        f"sqlite:///{tmp_path / 'passes.db'}", certs_dir, PASSES_WEBHOOKS_ALLOW_PRIVATE="true"
    )
    key = create_shop(env, stamps=2)
    with server(env, "--no-worker") as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            made = await client.post(
                "/api/v1/webhooks",
                json={"url": receiver.url, "events": sorted(set(IN_ORDER))},
                headers=auth(key),
            )
            assert made.status_code == 201, made.text
            secret = made.json()["secret"]
            serials = await busy_cards(client, key)
            receiver.delay = 1.5  # slow answers: the worker dies with messages in flight
            with process(env, "worker") as first:
                await until(lambda: len(receiver.got) >= 1, seconds=30)
                first.send_signal(signal.SIGKILL)
                first.wait()
            await asyncio.sleep(receiver.delay + 0.5)  # the tries in flight end at the receiver
            listed = (await client.get("/api/v1/webhooks", headers=auth(key))).json()
            assert listed["webhooks"][0]["pending"] > 0, "the worker died with work left"
            receiver.delay = 0.0
            with process(env, "worker"):
                # The dead worker's messages wait for its lease (60 s) to run out.
                await until(
                    lambda: all(arrived(receiver, secret, s) == IN_ORDER for s in serials),
                    seconds=120,
                )
                await until(lambda: _pending(base, key) == 0, seconds=20)
    assert len(first_arrivals(receiver, secret)) == CARDS * len(IN_ORDER)


def _pending(base: str, key: str) -> int:
    listed = httpx.get(f"{base}/api/v1/webhooks", headers=auth(key)).json()
    return int(listed["webhooks"][0]["pending"])
