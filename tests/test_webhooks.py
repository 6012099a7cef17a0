"""Outgoing webhooks through the shop API, delivered to a real receiver on 127.0.0.1 that
checks every message with the Standard Webhooks reference verification."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from passes.app import create_app
from passes.service import Service
from passes.webhook_delivery import WebhookDelivery
from tests.conftest import BASE_URL, Env, auth
from tests.webhook_receiver import Receiver

ALL = [
    "card.created", "card.stamped", "reward.earned", "reward.redeemed", "card.voided",
    "stamp.undone", "campaign.sent",
]  # fmt: skip


@dataclass
class Site:
    client: httpx.AsyncClient
    service: Service
    delivery: WebhookDelivery


@pytest.fixture
async def site(env: Env) -> AsyncIterator[Site]:
    """The app with private addresses allowed (the receiver is on 127.0.0.1)."""
    app = create_app(replace(env.settings, webhooks_allow_private=True), clock=env.clock)
    service: Service = app.state.service
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield Site(
            client, service, WebhookDelivery(service.store, allow_private=True, clock=env.clock)
        )
    await service.store.close()


async def subscribe(site: Site, key: str, url: str, events: list[str] = ALL) -> dict[str, Any]:
    made = await site.client.post(
        "/api/v1/webhooks", json={"url": url, "events": events}, headers=auth(key)
    )
    assert made.status_code == 201, made.text
    answer: dict[str, Any] = made.json()
    assert answer["secret"].startswith("whsec_")
    return answer


async def busy_card(site: Site, key: str) -> str:
    """A card created, stamped twice (earning the reward of a 2-stamp shop), redeemed."""
    made = await site.client.post("/api/v1/cards", json={}, headers=auth(key))
    serial: str = made.json()["serial"]
    for _ in range(2):
        stamped = await site.client.post(
            f"/api/v1/cards/{serial}/stamps", json={}, headers=auth(key)
        )
        assert stamped.status_code == 200, stamped.text
    redeemed = await site.client.post(f"/api/v1/cards/{serial}/redeem", json={}, headers=auth(key))
    assert redeemed.status_code == 200, redeemed.text
    return serial


IN_ORDER = ["card.created", "card.stamped", "card.stamped", "reward.earned", "reward.redeemed"]


def types_of(bodies: list[dict[str, Any]], serial: str) -> list[str]:
    return [b["type"] for b in bodies if b["data"].get("serial") == serial]


async def endpoint(site: Site, key: str) -> dict[str, Any]:
    listed = await site.client.get("/api/v1/webhooks", headers=auth(key))
    assert listed.status_code == 200, listed.text
    (found,) = listed.json()["webhooks"]
    return dict(found)


async def test_every_change_is_delivered_signed_and_in_order(
    env: Env, site: Site, receiver: Receiver
) -> None:
    key = await env.new_shop(stamps=2)
    hook = await subscribe(site, key, receiver.url)
    serials = [await busy_card(site, key) for _ in range(3)]
    await site.delivery.run(env.clock())
    bodies = receiver.verified(hook["secret"])
    for serial in serials:
        assert types_of(bodies, serial) == IN_ORDER
    found = await endpoint(site, key)
    assert found["pending"] == 0 and found["paused"] is False
    assert {a["status"] for a in found["attempts"]} == {204}
    assert "secret" not in found


async def test_deliveries_survive_the_receiver_being_down(
    env: Env, site: Site, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await env.new_shop(stamps=2)
    hook = await subscribe(site, key, receiver.url)
    receiver.stop()
    serial = await busy_card(site, key)
    await site.delivery.run(env.clock())
    found = await endpoint(site, key)
    assert found["pending"] == len(IN_ORDER)
    # Only the card's first message was tried: the failing one holds back the rest.
    assert [a["status"] for a in found["attempts"]] == [None]
    receiver.start()
    monkeypatch.setattr(env.clock, "ahead", timedelta(hours=2))
    await site.delivery.run(env.clock())
    assert types_of(receiver.verified(hook["secret"]), serial) == IN_ORDER
    assert (await endpoint(site, key))["pending"] == 0


async def test_a_worker_killed_mid_delivery_leaves_the_message_for_the_next(
    env: Env, site: Site, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await env.new_shop(stamps=2)
    hook = await subscribe(site, key, receiver.url)
    serial = await busy_card(site, key)
    receiver.delay = 2.0
    killed = asyncio.create_task(site.delivery.run(env.clock()))
    await asyncio.sleep(0.5)
    killed.cancel()  # mid-request: nothing settled, the message stays taken (a lease)
    await asyncio.gather(killed, return_exceptions=True)
    receiver.delay = 0.0
    await site.delivery.run(env.clock())
    assert (await endpoint(site, key))["pending"] == len(IN_ORDER)
    monkeypatch.setattr(env.clock, "ahead", timedelta(minutes=2))  # the lease ran out
    await site.delivery.run(env.clock())
    bodies = receiver.verified(hook["secret"])
    # At least once: the killed try may have reached the receiver; webhook-id tells.
    ids = [headers["webhook-id"] for headers, _ in receiver.got]
    assert types_of([bodies[ids.index(i)] for i in dict.fromkeys(ids)], serial) == IN_ORDER


async def test_an_endpoint_failing_for_a_day_is_paused_with_the_reason(
    env: Env, site: Site, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await env.new_shop(stamps=2)
    hook = await subscribe(site, key, receiver.url, ["card.created"])
    receiver.status = 500
    await site.client.post("/api/v1/cards", json={}, headers=auth(key))
    await site.delivery.run(env.clock())
    monkeypatch.setattr(env.clock, "ahead", timedelta(hours=25))
    await site.delivery.run(env.clock())
    found = await endpoint(site, key)
    assert found["paused"] is True
    assert found["paused_reason"] == "paused after 24 h of failures: last answer 500"
    assert found["pending"] == 1
    receiver.status = 204
    tries = len(receiver.got)
    await site.delivery.run(env.clock())
    assert len(receiver.got) == tries  # paused: not tried
    resumed = await site.client.post(
        f"/api/v1/webhooks/{hook['id']}/resume", json={}, headers=auth(key)
    )
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
    await site.delivery.run(env.clock())
    assert (await endpoint(site, key))["pending"] == 0
    assert [b["type"] for b in receiver.verified(hook["secret"])][-1] == "card.created"


async def test_removed_endpoints_and_other_shops(env: Env, site: Site, receiver: Receiver) -> None:
    key, other = await env.new_shop(), await env.new_shop()
    hook = await subscribe(site, key, receiver.url)
    gone = await site.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=auth(other))
    assert gone.status_code == 404
    gone = await site.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=auth(key))
    assert gone.status_code == 204
    listed = await site.client.get("/api/v1/webhooks", headers=auth(key))
    assert listed.json() == {"webhooks": []}


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest",
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "ftp://example.com/",
        "https://user:pw@example.com/",
    ],
)
async def test_private_and_plain_http_urls_are_refused_by_default(env: Env, url: str) -> None:
    key = await env.new_shop()
    made = await env.client.post(
        "/api/v1/webhooks", json={"url": url, "events": ["card.created"]}, headers=auth(key)
    )
    assert made.status_code == 422, made.text
