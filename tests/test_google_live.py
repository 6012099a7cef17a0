"""Google Wallet end to end: a real `passes serve` against a local Google (token endpoint, Wallet
REST API, callback keys). Issue, stamp and redeem reach the object; trouble is retried; nothing
is lost; callbacks are verified and applied once. Never contacts Google."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from passes.config import Settings
from passes.deliveries import GoogleDelivery
from passes.google.wallet import open_google
from passes.push import PushWorker
from passes.service import Service
from passes.store import Store
from passes.store.campaigns import create_campaign
from passes.store.google import google_saved_count, record_callback
from passes.store.tables import cards, push_attempts
from tests.api_calls import change, new_card
from tests.fake_google import (
    ISSUER,
    SERVICE_ACCOUNT_EMAIL,
    CallbackSigner,
    FakeGoogle,
    verify_rs256,
    write_account,
)
from tests.google_schema import Validate, check_everything_sent
from tests.live import create_shop, run, server, until

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`

SAVE_PREFIX = "https://pay.google.com/gp/v/save/"
CALLBACK = "/wallet/google/callback"


def balance(fake: FakeGoogle, object_id: str) -> str | None:
    stored = fake.resources["loyaltyObject"].get(object_id)
    return None if stored is None else str(stored["loyaltyPoints"]["balance"]["string"])


def patches_showing(fake: FakeGoogle, text: str) -> list[dict[str, Any]]:
    return [
        body
        for body in fake.bodies("PATCH", "loyaltyObject")
        if body["loyaltyPoints"]["balance"]["string"] == text
    ]


async def test_issue_stamp_and_redeem_reach_google(
    google_env: dict[str, str], fake: FakeGoogle, rsa_key: rsa.RSAPrivateKey, schema: Validate
) -> None:
    key = create_shop(google_env, stamps=10)
    with server(google_env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            card = await new_card(client, key)
            object_id = f"{ISSUER}.{card['serial']}"
            assert object_id in fake.resources["loyaltyObject"], "inserted before the answer"
            stored = fake.resources["loyaltyObject"][object_id]
            assert stored["classId"] in fake.resources["loyaltyClass"]
            assert stored["loyaltyPoints"]["balance"] == {"string": "0 / 10"}
            assert stored["barcode"]["value"] == card["serial"]
            assert stored["linksModuleData"]["uris"][0]["uri"] == card["urls"]["card"]

            url = card["urls"]["google"]
            assert url.startswith(SAVE_PREFIX)
            header, claims = verify_rs256(
                url.removeprefix(SAVE_PREFIX), {SERVICE_ACCOUNT_EMAIL: rsa_key.public_key()}
            )
            assert header["alg"] == "RS256"
            assert (claims["aud"], claims["typ"], claims["origins"]) == (
                "google",
                "savetowallet",
                [base],
            )
            assert claims["payload"] == {"loyaltyObjects": [{"id": object_id}]}

            for image in (
                stored["heroImage"],
                fake.resources["loyaltyClass"][stored["classId"]]["programLogo"],
            ):
                fetched = await client.get(image["sourceUri"]["uri"].removeprefix(base))
                assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
                assert "immutable" in fetched.headers["cache-control"]

            serial = card["serial"]
            await change(client, key, f"/api/v1/cards/{serial}/stamps", count=1)
            await until(lambda: bool(patches_showing(fake, "1 / 10")))
            assert stored["heroImage"] != patches_showing(fake, "1 / 10")[0]["heroImage"]

            await change(client, key, f"/api/v1/cards/{serial}/stamps", count=9)
            await until(lambda: balance(fake, object_id) == "0 / 10")
            due = fake.resources["loyaltyObject"][object_id]["textModulesData"][0]
            assert due["body"].startswith("🎁")
            patched = len(fake.bodies("PATCH", "loyaltyObject"))
            await change(client, key, f"/api/v1/cards/{serial}/redeem")
            await until(lambda: len(fake.bodies("PATCH", "loyaltyObject")) > patched)
            after = fake.resources["loyaltyObject"][object_id]["textModulesData"][0]
            assert not after["body"].startswith("🎁")
    check_everything_sent(fake, schema)


async def test_google_trouble_is_retried_and_nothing_is_lost(
    google_env: dict[str, str], fake: FakeGoogle, schema: Validate
) -> None:
    key = create_shop(google_env)
    with server(google_env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            card = await new_card(client, key)
            object_id = f"{ISSUER}.{card['serial']}"
            before = len(fake.requests)
            fake.fail_next(2, 500)
            fake.fail_next(1, 429)
            await change(client, key, f"/api/v1/cards/{card['serial']}/stamps", count=1)
            await until(lambda: balance(fake, object_id) == "1 / 10", seconds=30)
            tries = [r for r in fake.requests[before:] if r.path.endswith(object_id)]
            assert len(tries) == 4, "two 500s and a 429 before the PATCH that worked"

            fake.forget("loyaltyObject", object_id)
            await change(client, key, f"/api/v1/cards/{card['serial']}/stamps", count=1)
            await until(lambda: balance(fake, object_id) == "2 / 10")
            assert fake.bodies("POST", "loyaltyObject")[-1]["id"] == object_id, "re-inserted"
    check_everything_sent(fake, schema)


async def test_google_down_at_issue_time(
    google_env: dict[str, str], fake: FakeGoogle, schema: Validate
) -> None:
    key = create_shop(google_env)
    with server(google_env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            fake.fail_next(10_000, 503)
            started = time.monotonic()
            card = await new_card(client, key)
            assert time.monotonic() - started < 10
            assert card["urls"]["google"].startswith(SAVE_PREFIX)
            object_id = f"{ISSUER}.{card['serial']}"
            assert object_id not in fake.resources["loyaltyObject"]
            fake.failures.clear()
            await until(lambda: balance(fake, object_id) == "0 / 10", seconds=30)
    check_everything_sent(fake, schema)


async def saved_count(database_url: str, serial: str) -> int:
    """The dashboard's figure: the shop's cards saved in Google Wallet."""
    store = Store(database_url)
    try:
        async with store.reading() as conn:
            shop_id = (
                await conn.execute(select(cards.c.shop_id).where(cards.c.serial == serial))
            ).scalar_one()
            return await google_saved_count(conn, shop_id)
    finally:
        await store.close()


async def test_callbacks_are_verified_and_applied_once(
    google_env: dict[str, str], fake: FakeGoogle, signer: CallbackSigner
) -> None:
    key = create_shop(google_env)
    database = google_env["PASSES_DATABASE_URL"]
    with server(google_env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            card = await new_card(client, key)
            object_id = f"{ISSUER}.{card['serial']}"

            async def send(body: bytes) -> httpx.Response:
                return await client.post(
                    CALLBACK, content=body, headers={"Content-Type": "application/json"}
                )

            saved = await send(signer.body(ISSUER, object_id=object_id, nonce="n-1"))
            assert saved.status_code == 200 and saved.json()["outcome"] == "recorded"
            assert await saved_count(database, card["serial"]) == 1

            again = await send(
                signer.body(ISSUER, object_id=object_id, event_type="del", nonce="n-1")
            )
            assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
            assert await saved_count(database, card["serial"]) == 1

            deleted = await send(
                signer.body(ISSUER, object_id=object_id, event_type="del", nonce="n-2")
            )
            assert deleted.json()["outcome"] == "recorded"
            assert await saved_count(database, card["serial"]) == 0

            stranger = await send(signer.body(ISSUER, object_id=f"{ISSUER}.NOPE", nonce="n-3"))
            assert stranger.status_code == 200 and stranger.json()["outcome"] == "unknown"

            forged = await send(CallbackSigner().body(ISSUER, object_id=object_id, nonce="n-4"))
            assert forged.status_code == 400
            assert forged.json()["error"]["code"] == "invalid_callback"
            assert "not signed by a Google root key" in forged.json()["error"]["message"]

            other_issuer = await send(signer.body("3388000000099999999", object_id=object_id))
            assert other_issuer.status_code == 400
            assert "does not verify" in other_issuer.json()["error"]["message"]

            garbage = await send(b"{")
            assert garbage.status_code == 400 and "not JSON" in garbage.text
            huge = await send(b"x" * 200_000)
            assert huge.status_code == 413
            assert await saved_count(database, card["serial"]) == 0


async def test_callback_keys_out_of_reach_is_503_not_500(
    google_env: dict[str, str], signer: CallbackSigner
) -> None:
    google_env = {**google_env, "PASSES_GOOGLE_CALLBACK_KEYS_URL": "http://127.0.0.1:9/keys"}
    create_shop(google_env)
    with server(google_env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            answer = await client.post(CALLBACK, content=signer.body(ISSUER))
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "unavailable"


def test_images_refuse_what_they_would_not_draw(google_env: dict[str, str]) -> None:
    create_shop(google_env)
    with server(google_env) as (base, _):
        good = httpx.get(f"{base}/img/strip/3b2a20/f2c879/10/4@2x.png")
        assert good.status_code == 200
        assert good.headers["cache-control"] == "public, max-age=31536000, immutable"
        for bad in (
            "/img/strip/3B2A20/f2c879/10/4@2x.png",
            "/img/strip/3b2a2/f2c879/10/4@2x.png",
            "/img/strip/3b2a20/f2c879/31/4@2x.png",
            "/img/strip/3b2a20/f2c879/10/11@2x.png",
            "/img/strip/3b2a20/f2c879/0/0@2x.png",
            "/img/strip/3b2a20/f2c879/10/04@2x.png",
            "/img/strip/3b2a20/f2c879/10/-1@2x.png",
            "/img/passes.db",
        ):
            assert httpx.get(base + bad).status_code == 404, bad
        assert httpx.get(f"{base}/img/logo@2x.png").status_code == 200


def test_broken_key_refuses_start_and_certs_check_explains(
    google_env: dict[str, str], tmp_path: Path
) -> None:
    check = run(google_env, "certs", "check").stdout
    assert f"google:  on, issuer {ISSUER}" in check and SERVICE_ACCOUNT_EMAIL in check
    assert "PASSES_BASE_URL" in check, "warns that Google cannot fetch images from loopback"

    off = run(
        {k: v for k, v in google_env.items() if k != "PASSES_GOOGLE_SERVICE_ACCOUNT"},
        "certs",
        "check",
    )
    assert "google:  off (PASSES_GOOGLE_SERVICE_ACCOUNT not set" in off.stdout

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    google_env = {**google_env, "PASSES_GOOGLE_SERVICE_ACCOUNT": str(broken)}
    for command in (("serve", "--port", "9"), ("worker",), ("certs", "check")):
        result = run(google_env, *command, ok=False)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert str(broken) in lines[-1] and "PASSES_GOOGLE_SERVICE_ACCOUNT" in lines[-1]


async def test_campaign_messages_and_refusals_in_the_worker(
    database_url: str,
    tmp_path: Path,
    certs_dir: Path,
    fake: FakeGoogle,
    rsa_key: rsa.RSAPrivateKey,
    schema: Validate,
) -> None:
    """Issue 7 sends campaigns; the Google deliverer is ready: patch, then addMessage."""
    account = write_account(tmp_path / "sa.json", rsa_key, fake.token_url)
    settings = Settings(
        database_url=database_url,
        certs_dir=certs_dir,
        google_issuer_id=ISSUER,
        google_service_account=account,
        google_api_url=fake.api_url,
    )
    google = open_google(settings)
    assert google is not None
    store = Store(settings.database_url)
    await store.migrate()
    try:
        service = Service(settings, store, google=google)
        name = f"Café {secrets.token_hex(3)}"
        shop, _ = await service.shops.create_shop(name=name, stamps=10, reward="1 Vita Mix")
        view = await service.issuing.issue_card(shop, "test")
        now = datetime.now(UTC)
        async with store.transaction() as conn:
            campaign_id = await create_campaign(
                conn,
                shop.id,
                "Heute doppelte Stempel!",
                "all",
                recipients=[view.card.id],
                held_out=[],
                over_limit=0,
                now=now,
            )
        worker = PushWorker(
            store,
            [GoogleDelivery(store, google, lambda card: settings.card_page_url(card.page_secret))],
            backoff=lambda attempt: 0.0,
        )
        assert await worker.run_once() == 1
        stored = fake.resources["loyaltyObject"][google.object_id(view.card)]
        assert [
            {k: v for k, v in m.items() if k != "displayInterval"} for m in stored["messages"]
        ] == [
            {
                "header": name,
                "body": "Heute doppelte Stempel!",
                "id": f"campaign-{campaign_id}",
                "messageType": "TEXT_AND_NOTIFY",
            }
        ]

        fake.fail_next(10, 400)
        await service.changes.stamp(shop, view.card.serial, 1, actor="test", idempotency_key=None)
        assert await worker.run_once() == 1
        fake.failures.clear()
        async with store.reading() as conn:
            last = (
                (await conn.execute(select(push_attempts).order_by(push_attempts.c.id.desc())))
                .mappings()
                .first()
            )
        assert last is not None and (last["outcome"], last["status"]) == ("failed", 400)
        assert "injected failure" in last["reason"]
        assert await worker.run_once() == 0, "a refused update is not retried forever"

        async with store.transaction() as conn:
            object_id = google.object_id(view.card)
            first, second = secrets.token_hex(8), secrets.token_hex(8)
            assert await record_callback(conn, first, object_id, True, now) == "recorded"
            assert await record_callback(conn, first, object_id, False, now) == "duplicate"
            assert await record_callback(conn, second, f"{ISSUER}.NOPE", True, now) == "unknown"
            assert await google_saved_count(conn, shop.id) == 1
    finally:
        await google.aclose()
        await store.close()
    check_everything_sent(fake, schema)
