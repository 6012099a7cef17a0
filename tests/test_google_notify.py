"""Google notifications done right, against the local Google: which updates notify, the
budget of 3 a day per pass (stored, shared by workers), Google's quota refusal, idempotent
campaign messages, the pass details Google asks for, and the campaign preview's Android counts.

The app runs in-process over HTTP; a push worker with the Google deliverer is driven round by
round, so each test sees exactly what reached Google."""

from __future__ import annotations

import asyncio
import io
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image
from sqlalchemy import func, select
from starlette.applications import Starlette

from passes.app import create_app
from passes.deliveries import GoogleDelivery
from passes.google import GoogleAuthError, GoogleQuotaExceeded, GoogleRequestError
from passes.google.budget import (
    ALREADY_SHOWN,
    LIMIT,
    NOTIFIED,
    OVER_BUDGET,
    REFUSED,
    WINDOW,
    Budget,
    plan,
)
from passes.google.notify import Notifications
from passes.google.wallet import GoogleWallet
from passes.push import PushWorker
from passes.service import Service
from passes.store.google import google_cards, record_callback
from passes.store.tables import cards, push_attempts, push_outbox, shops
from tests.conftest import BASE_URL, Env, auth
from tests.fake_google import (
    ISSUER,
    FakeGoogle,
    write_account,
)
from tests.google_schema import Validate

# --- the budget and the plan (pure) ---

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def test_three_notifications_in_any_24_hours() -> None:
    budget = Budget()
    for minute in range(LIMIT):
        assert budget.allows(T0 + timedelta(minutes=minute))
        budget = budget.spend(T0 + timedelta(minutes=minute))
    assert not budget.allows(T0 + timedelta(hours=23))
    assert budget.allows(T0 + WINDOW + timedelta(seconds=1)), "the first one has aged out"
    assert Budget.decode(budget.encode()) == budget
    assert Budget.decode("") == Budget()
    assert not Budget.exhausted(T0).allows(T0 + timedelta(hours=23, minutes=59))
    assert Budget.exhausted(T0).allows(T0 + WINDOW + timedelta(seconds=1))


def test_only_a_new_current_notice_notifies() -> None:
    stamp = plan("stamp", 5, 5, 4, [])
    assert stamp.wanted and stamp.by_patch and stamp.version == 5
    assert not plan("stamp", 5, 6, 4, []).wanted, "an undo after the stamp: nothing to announce"
    assert not plan("stamp", 5, 5, 5, []).wanted, "announced already"
    assert not plan(None, 0, 3, 0, []).wanted
    news = plan("news", 7, 7, 5, [3, 9])
    assert news.wanted and not news.by_patch and news.campaign_id == 9
    assert not plan("news", 7, 7, 5, []).wanted, "the campaign's own row speaks for it"


# --- the local Google and an app that uses it ---


@dataclass
class Shop:
    """A shop of the app, its key, and a worker that delivers to Google when asked."""

    app: Starlette
    client: httpx.AsyncClient
    service: Service
    google: GoogleWallet
    worker: PushWorker
    delivery: GoogleDelivery
    key: str
    slug: str

    async def issue(self) -> str:
        answer = await self.client.post("/api/v1/cards", headers=auth(self.key))
        assert answer.status_code == 201, answer.text
        return str(answer.json()["serial"])

    async def call(self, method: str, path: str, **body: int) -> dict[str, Any]:
        headers = {**auth(self.key), "Idempotency-Key": secrets.token_hex(8)}
        answer = await self.client.request(method, path, json=body or None, headers=headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    async def stamp(self, serial: str, count: int = 1) -> dict[str, Any]:
        return await self.call("POST", f"/api/v1/cards/{serial}/stamps", count=count)

    async def deliver(self) -> int:
        """One worker round; returns how many outbox rows it handled."""
        return await self.worker.run_once()

    async def attempts(self, serial: str) -> list[dict[str, Any]]:
        """The Google deliveries recorded for a card, oldest first."""
        async with self.service.store.reading() as conn:
            query = (
                select(push_attempts)
                .join(cards, cards.c.id == push_attempts.c.card_id)
                .where(cards.c.serial == serial, push_attempts.c.target == "google")
                .order_by(push_attempts.c.id)
            )
            return [dict(row) for row in (await conn.execute(query)).mappings()]

    async def waiting(self) -> int:
        """This shop's Google rows in the outbox (other tests on the session's database may
        leave rows for other shops and for Apple, which this worker does not deliver)."""
        query = (
            select(func.count())
            .select_from(push_outbox.join(cards, cards.c.id == push_outbox.c.card_id))
            .join(shops, shops.c.id == cards.c.shop_id)
            .where(push_outbox.c.target == "google", shops.c.slug == self.slug)
        )
        async with self.service.store.reading() as conn:
            return int((await conn.execute(query)).scalar_one())


@pytest.fixture
async def shop(
    env: Env, tmp_path: Path, fake: FakeGoogle, rsa_key: rsa.RSAPrivateKey
) -> AsyncIterator[Shop]:
    """An app with Google Wallet on, over the session's migrated database."""
    account = write_account(tmp_path / "sa.json", rsa_key, fake.token_url)
    settings = env.google_settings(account, fake.api_url)
    app = create_app(settings, env.identity)
    service: Service = app.state.service
    google = service.google
    assert google is not None
    created, key = await service.shops.create_shop(
        name="Café Sonne", stamps=10, reward="1 Vita Mix", slug=f"sonne-{secrets.token_hex(3)}"
    )
    # No hold-out group: every card of a campaign gets it, so counts are exact.
    await service.shops.update_program(created, holdout_percent=0)
    delivery = GoogleDelivery(
        service.store, google, lambda card: settings.card_page_url(card.page_secret)
    )
    worker = PushWorker(service.store, [delivery], backoff=lambda attempt: 0.0)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield Shop(app, client, service, google, worker, delivery, key, created.slug)
    await google.aclose()
    await service.store.close()


def object_of(serial: str) -> str:
    return f"{ISSUER}.{serial}"


def object_patches(fake: FakeGoogle, serial: str) -> list[dict[str, Any]]:
    return [
        body for body in fake.bodies("PATCH", "loyaltyObject") if body["id"] == object_of(serial)
    ]


def balance(fake: FakeGoogle, serial: str) -> str:
    return str(
        fake.resources["loyaltyObject"][object_of(serial)]["loyaltyPoints"]["balance"]["string"]
    )


def notifying(patches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in patches if p.get("notifyPreference") == "NOTIFY_ON_UPDATE"]


async def drain(shop: Shop) -> None:
    """Worker rounds until one finds nothing to do (campaign messages become outbox rows
    in one round and are delivered in the next)."""
    for _ in range(10):
        if await shop.deliver() == 0 and await shop.waiting() == 0:
            return
    raise AssertionError("the outbox does not drain")


# --- which updates notify ---


async def test_a_stamp_notifies_undo_and_redeem_do_not(
    shop: Shop, fake: FakeGoogle, schema: Validate
) -> None:
    serial = await shop.issue()
    stamped = await shop.stamp(serial)
    await drain(shop)
    patches = object_patches(fake, serial)
    assert patches[-1]["notifyPreference"] == "NOTIFY_ON_UPDATE"
    assert patches[-1]["loyaltyPoints"]["balance"] == {"string": "1 / 10"}
    assert fake.notified(object_of(serial), "update"), "Google notified the holder"
    assert (await shop.attempts(serial))[-1]["reason"] == NOTIFIED

    await shop.call("DELETE", f"/api/v1/cards/{serial}/stamps/{stamped['last_change_id']}")
    await drain(shop)
    undone = object_patches(fake, serial)[-1]
    assert "notifyPreference" not in undone and balance(fake, serial) == "0 / 10"

    await shop.stamp(serial, 10)
    await drain(shop)
    assert object_patches(fake, serial)[-1]["notifyPreference"] == "NOTIFY_ON_UPDATE"
    await shop.call("POST", f"/api/v1/cards/{serial}/redeem")
    await drain(shop)
    redeemed = object_patches(fake, serial)[-1]
    assert "notifyPreference" not in redeemed
    assert len(fake.notified(object_of(serial))) == 2, "the stamp and the reward, nothing else"
    for body in object_patches(fake, serial):
        schema("LoyaltyObject", body)


async def test_five_stamps_in_a_day_notify_three_times_and_all_arrive(
    shop: Shop, fake: FakeGoogle
) -> None:
    serial = await shop.issue()
    for _ in range(5):
        await shop.stamp(serial)
        await drain(shop)
    patches = object_patches(fake, serial)[1:]  # the first asked whether the object existed
    assert len(patches) == 5, "every stamp reached Google"
    assert len(notifying(patches)) == LIMIT
    assert len(fake.notified(object_of(serial))) == LIMIT and not fake.refused
    assert balance(fake, serial) == "5 / 10", "the latest state, silently"
    reasons = [row["reason"] for row in await shop.attempts(serial)]
    assert reasons[-5:] == [NOTIFIED] * 3 + [OVER_BUDGET] * 2
    assert {row["outcome"] for row in await shop.attempts(serial)} == {"delivered"}


async def test_googles_quota_refusal_is_delivered_silently_and_not_retried(
    shop: Shop, fake: FakeGoogle
) -> None:
    serial = await shop.issue()
    fake.refuse_notifications(1)  # another sender used the pass's notifications today
    await shop.stamp(serial)
    assert await shop.deliver() == 1
    assert fake.refused == [object_of(serial)]
    assert balance(fake, serial) == "1 / 10", "delivered again without the notification"
    last = (await shop.attempts(serial))[-1]
    assert (last["outcome"], last["reason"]) == ("delivered", REFUSED)
    assert await shop.waiting() == 0 and await shop.deliver() == 0, "nothing left to retry"

    await shop.stamp(serial)
    await drain(shop)
    assert "notifyPreference" not in object_patches(fake, serial)[-1], "Google said: not today"
    assert fake.refused == [object_of(serial)], "and we do not ask again"
    assert (await shop.attempts(serial))[-1]["reason"] == OVER_BUDGET


async def test_two_workers_notify_a_notice_once(shop: Shop, fake: FakeGoogle) -> None:
    serial = await shop.issue()
    await shop.stamp(serial)
    async with shop.service.store.reading() as conn:
        card_id = (
            await conn.execute(select(cards.c.id).where(cards.c.serial == serial))
        ).scalar_one()
        target = (await google_cards(conn, [card_id]))[card_id]
    notifications = Notifications(shop.service.store)
    wanted = plan(
        target.card.notice.kind if target.card.notice else None,
        target.card.notice.version if target.card.notice else 0,
        target.card.version,
        target.notify.handled_version,
        [],
    )
    assert wanted.by_patch
    both = await asyncio.gather(*(notifications.reserve(target, wanted) for _ in range(4)))
    assert sum(r.notify for r in both) == 1, "one worker won the notice, the others went silent"


# --- campaign messages ---


async def campaign(shop: Shop, text: str) -> None:
    answer = await shop.client.post(
        "/api/v1/messages", json={"text": text, "segment": "all"}, headers=auth(shop.key)
    )
    assert answer.status_code == 202, answer.text


async def test_a_campaign_message_notifies_once_and_a_retry_adds_no_duplicate(
    shop: Shop, fake: FakeGoogle, schema: Validate
) -> None:
    serials = [await shop.issue() for _ in range(4)]
    await drain(shop)
    fake.lose_next(1, 503, "addMessage")  # Google adds the message, its answer is lost
    await campaign(shop, "Heute doppelte Stempel!")
    await drain(shop)
    added = [r for r in fake.requests if r.path.endswith("/addMessage")]
    assert len(added) == 4, "the message whose answer was lost is not sent again"
    shown = [fake.resources["loyaltyObject"][object_of(s)]["messages"] for s in serials]
    assert [len(messages) for messages in shown] == [1, 1, 1, 1], "no duplicate"
    message = shown[0][0]
    assert message["messageType"] == "TEXT_AND_NOTIFY"
    assert message["id"].startswith("campaign-")
    interval = message["displayInterval"]
    starts = datetime.fromisoformat(interval["start"]["date"])
    ends = datetime.fromisoformat(interval["end"]["date"])
    assert ends - starts == timedelta(days=7), "gone from the pass after a week"
    for sent in added:
        schema("AddMessageRequest", sent.body)
    for serial in serials:
        assert "notifyPreference" not in object_patches(fake, serial)[-1], "the message speaks"
        assert len(fake.notified(object_of(serial), "message")) == 1
    reasons = [(await shop.attempts(serial))[-1]["reason"] for serial in serials]
    assert sorted(reasons, key=str) == sorted([ALREADY_SHOWN] + [NOTIFIED] * 3, key=str)


async def test_a_campaign_over_budget_is_plain_text(shop: Shop, fake: FakeGoogle) -> None:
    serial = await shop.issue()
    for _ in range(LIMIT):
        await shop.stamp(serial)
        await drain(shop)
    await campaign(shop, "Neue Kuchen!")
    await drain(shop)
    messages = fake.resources["loyaltyObject"][object_of(serial)]["messages"]
    assert [m["messageType"] for m in messages] == ["TEXT"], "shown, but without a notification"
    assert (await shop.attempts(serial))[-1]["reason"] == OVER_BUDGET
    assert len(fake.notified(object_of(serial))) == LIMIT


async def test_a_refused_message_notification_is_shown_as_text(
    shop: Shop, fake: FakeGoogle
) -> None:
    serial = await shop.issue()
    fake.refuse_notifications(1)
    await campaign(shop, "Neue Kuchen!")
    await drain(shop)
    assert fake.refused == [object_of(serial)]
    messages = fake.resources["loyaltyObject"][object_of(serial)]["messages"]
    assert [m["messageType"] for m in messages] == ["TEXT"], "delivered, without a notice"
    last = (await shop.attempts(serial))[-1]
    assert (last["outcome"], last["reason"]) == ("delivered", REFUSED)
    assert await shop.waiting() == 0


# --- the REST client: Google's answers ---


async def test_quota_refusal_is_not_a_credentials_problem(shop: Shop, fake: FakeGoogle) -> None:
    serial = await shop.issue()
    client = shop.google.client
    fake.refuse_notifications(1)
    with pytest.raises(GoogleQuotaExceeded) as refused:
        await client.add_message(object_of(serial), "Café", "Hallo", "m-1", notify=True)
    assert refused.value.status == 403 and "quotaExceeded" in str(refused.value)
    assert not isinstance(refused.value, GoogleAuthError)
    fake.fail_next(1, 403)  # a plain 403: the service account is not allowed
    with pytest.raises(GoogleAuthError):
        await client.add_message(object_of(serial), "Café", "Hallo", "m-1", notify=False)
    await client.add_message(object_of(serial), "Café", "Hallo", "m-1", notify=False)
    with pytest.raises(GoogleRequestError) as again:
        await client.add_message(object_of(serial), "Café", "Hallo", "m-1", notify=False)
    assert again.value.conflict, "Google answers an existing message id with 409"
    assert len(fake.resources["loyaltyObject"][object_of(serial)]["messages"]) == 1


# --- what the pass and the class carry ---


async def test_one_holder_a_660_logo_and_a_1032_hero(
    shop: Shop, fake: FakeGoogle, schema: Validate
) -> None:
    serial = await shop.issue()
    stored = fake.resources["loyaltyObject"][object_of(serial)]
    program = fake.resources["loyaltyClass"][stored["classId"]]
    schema("LoyaltyClass", program)
    assert program["multipleDevicesAndHoldersAllowedStatus"] == "ONE_USER_ALL_DEVICES"
    for image, size in ((program["programLogo"], (660, 660)), (stored["heroImage"], (1032, 336))):
        url = image["sourceUri"]["uri"]
        assert url.startswith(f"{BASE_URL}/img/google/")
        fetched = await shop.client.get(url.removeprefix(BASE_URL))
        assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
        assert "immutable" in fetched.headers["cache-control"]
        picture = Image.open(io.BytesIO(fetched.content))
        assert picture.size == size
    logo = Image.open(io.BytesIO((await shop.client.get(_path(program["programLogo"]))).content))
    corner, centre = logo.convert("RGB").getpixel((5, 5)), logo.convert("RGB").getpixel((330, 330))
    assert corner == _rgb(program["hexBackgroundColor"]), "full-bleed background"
    assert corner != centre, "the mark sits in the middle"
    margin = [logo.convert("RGB").getpixel((x, 330)) for x in range(0, 95)]
    assert set(margin) == {corner}, "nothing inside the 15 % safe margin"
    for bad in ("/img/google/logo/3B2A20.png", "/img/google/hero/3b2a20/f2c879/10/11.png"):
        assert (await shop.client.get(bad)).status_code == 404


def _path(image: dict[str, Any]) -> str:
    return str(image["sourceUri"]["uri"]).removeprefix(BASE_URL)


def _rgb(value: str) -> tuple[int, int, int]:
    return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))


# --- the campaign preview ---


async def test_preview_counts_android_holders_notified_and_silent(
    shop: Shop, fake: FakeGoogle
) -> None:
    serials = [await shop.issue() for _ in range(4)]
    async with shop.service.store.transaction() as conn:
        for serial in serials[:3]:  # three of the four saved the pass in Google Wallet
            nonce = secrets.token_hex(8)
            assert await record_callback(conn, nonce, object_of(serial), True, datetime.now(UTC))
    for _ in range(LIMIT):  # one of them had its three notifications today
        await shop.stamp(serials[0])
        await drain(shop)

    answer = await shop.client.post(
        "/api/v1/messages", json={"segment": "all", "preview": True}, headers=auth(shop.key)
    )
    assert answer.json()["recipients"] == 4
    assert answer.json()["google"] == {"notified": 2, "silent": 1}

    for language, labels in (
        ("de", ("Android (Google Wallet): mit Benachrichtigung", "nur still aktualisiert")),
        ("en", ("Android (Google Wallet): notified", "updated silently")),
    ):
        page = await dashboard_preview(shop, language)
        assert re.search(r'id="preview-google-notified">2<', page)
        assert re.search(r'id="preview-google-silent">1<', page)
        for label in labels:
            assert label in page


async def dashboard_preview(shop: Shop, language: str) -> str:
    """The owner signs in to the dashboard and previews a message to everyone."""
    transport = httpx.ASGITransport(app=shop.app)
    headers = {"Accept-Language": language}
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as owner:
        token = _csrf((await owner.get(f"/dashboard/{shop.slug}")).text)
        signed = await owner.post(
            f"/dashboard/{shop.slug}/login", data={"csrf": token, "key": shop.key}
        )
        assert signed.status_code == 303, signed.text
        page = await owner.post(
            f"/dashboard/{shop.slug}/campaigns",
            data={"csrf": token, "segment": "all", "text": "Hallo", "action": "preview"},
        )
    assert page.status_code == 200, page.text
    return page.text


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)
