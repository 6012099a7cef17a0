"""The dashboard's webhooks over HTTP (no browser), on SQLite: add an endpoint and see its
secret once, its deliveries with status and answer time, a pause with its reason, resume,
remove; refusals keep the draft."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from passes.app import create_app
from passes.webhook_delivery import WebhookDelivery
from tests.conftest import Env
from tests.pages_client import Pages, signed_in_owner
from tests.webhook_receiver import Receiver

# The flow is the same on both databases; the API tests cover PostgreSQL.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")


@pytest.fixture
async def hooks(env: Env) -> AsyncIterator[Pages]:
    """The pages of an app that may send to 127.0.0.1 (where the receiver is)."""
    app = create_app(replace(env.settings, webhooks_allow_private=True), env.identity)
    pages = Pages(app, app.state.service, [])
    yield pages
    for client in pages.clients:
        await client.aclose()
    await app.state.service.store.close()


def section(page: httpx.Response) -> str:
    found = re.search(r'<section id="webhooks".*?</section>', page.text, re.S)
    assert found, page.text
    return html.unescape(found.group(0))


async def add(
    client: httpx.AsyncClient, slug: str, token: str, url: str, events: list[str]
) -> httpx.Response:
    fields = {"csrf": token, "url": url, **{f"event_{e}": "1" for e in events}}
    return await client.post(f"/dashboard/{slug}/webhooks", data=fields)


async def test_add_shows_the_secret_once_then_the_deliveries(
    env: Env, hooks: Pages, receiver: Receiver
) -> None:
    shop, key = await hooks.shop()
    client, token = await signed_in_owner(hooks, shop, key)
    assert "No webhook endpoints yet." in section(await client.get(f"/dashboard/{shop.slug}"))
    added = await add(client, shop.slug, token, receiver.url, ["card.created", "card.stamped"])
    assert added.status_code == 201, added.text
    shown = section(added)
    assert '<p class="notice" id="notice" role="status" tabindex="-1">Endpoint added.' in shown
    assert "it will not be shown again" in shown
    found = SECRET.search(shown)
    assert found
    secret = found.group(0)
    again = section(await client.get(f"/dashboard/{shop.slug}"))
    assert "whsec_" not in again and 'id="notice"' not in again
    assert receiver.url in again and "card.stamped" in again and "Not tried yet." in again
    assert "reward.earned</code>, " not in again.split('id="webhook-form"')[0]

    card = await hooks.service.issuing.issue_card(shop, "test")
    await hooks.service.changes.stamp(shop, card.card.serial, 1, actor="t", idempotency_key=None)
    await WebhookDelivery(hooks.service.store, allow_private=True).run(env.clock())
    bodies = receiver.verified(secret)
    assert [b["type"] for b in bodies] == ["card.created", "card.stamped"]
    listed = section(await client.get(f"/dashboard/{shop.slug}"))
    assert "0 messages waiting" in listed
    assert len(re.findall(r"<strong>204</strong>\s*answered in \d+ ms", listed)) == 2


async def test_a_paused_endpoint_shows_why_and_resumes_then_is_removed(
    env: Env, hooks: Pages, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop, key = await hooks.shop()
    client, token = await signed_in_owner(hooks, shop, key)
    assert (await add(client, shop.slug, token, receiver.url, ["card.created"])).status_code == 201
    (hook,) = await hooks.service.webhooks.endpoints(shop)
    receiver.status = 500
    await hooks.service.issuing.issue_card(shop, "test")
    delivery = WebhookDelivery(hooks.service.store, allow_private=True, clock=env.clock)
    await delivery.run(env.clock())
    monkeypatch.setattr(env.clock, "ahead", timedelta(hours=25))
    await delivery.run(env.clock())
    paused = section(await client.get(f"/dashboard/{shop.slug}"))
    assert "Paused: paused after 24 h of failures: last answer 500" in paused
    assert "1 message waiting" in paused and "<strong>500</strong>" in paused

    path = f"/dashboard/{shop.slug}/webhooks"
    resumed = await client.post(f"{path}/resume", data={"csrf": token, "id": str(hook.id)})
    assert resumed.status_code == 303
    assert resumed.headers["location"] == f"/dashboard/{shop.slug}?webhook=resumed#webhooks"
    shown = section(await client.get(resumed.headers["location"]))
    assert 'role="status" tabindex="-1">Endpoint resumed' in shown and "Paused:" not in shown

    other, other_key = await hooks.shop()
    stranger, stranger_token = await signed_in_owner(hooks, other, other_key)
    refused = await stranger.post(
        f"/dashboard/{other.slug}/webhooks/remove",
        data={"csrf": stranger_token, "id": str(hook.id)},
    )
    assert "That endpoint no longer exists." in section(
        await stranger.get(refused.headers["location"])
    )
    assert len(await hooks.service.webhooks.endpoints(shop)) == 1

    removed = await client.post(f"{path}/remove", data={"csrf": token, "id": str(hook.id)})
    shown = section(await client.get(removed.headers["location"]))
    assert "Endpoint removed" in shown and "No webhook endpoints yet." in shown


async def test_refusals_keep_the_draft_and_forms_need_the_token(hooks: Pages) -> None:
    shop, key = await hooks.shop()
    client, token = await signed_in_owner(hooks, shop, key)
    refused = await add(client, shop.slug, token, "ftp://example.com/x", ["card.voided"])
    assert refused.status_code == 422
    shown = section(refused)
    assert 'role="alert" id="webhook-error">The endpoint was not added: the URL must' in shown
    assert 'value="ftp://example.com/x"' in shown
    assert re.search(r'name="event_card.voided" value="1" checked', shown)
    assert not re.search(r'name="event_card.created" value="1" checked', shown)
    none = await add(client, shop.slug, token, "http://127.0.0.1:9/hook", [])
    assert none.status_code == 422 and "events must name" in section(none)
    forged = await client.post(
        f"/dashboard/{shop.slug}/webhooks",
        data={"url": "http://127.0.0.1:9/", "event_card.created": "1"},
    )
    assert forged.status_code == 403
    assert await hooks.service.webhooks.endpoints(shop) == []
