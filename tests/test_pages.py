"""The pages over HTTP (no browser): join, poster, card page, staff actions, dashboard, stats."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import zxingcpp
from PIL import Image

from passes.errors import InvalidInput
from passes.lockout import LOCK_TIME, PinLocked, Tries, after_wrong_pin, client_verdict
from passes.staff import check_pin_format, hash_pin, pin_matches
from passes.stats import CardTotals, LedgerRow, figures, stats_json
from passes.store.shops import ShopRow
from passes.store.sign_in_limits import Count
from tests.conftest import BASE_URL, Env, auth
from tests.live import passes_env, run
from tests.pages_client import PIN, Pages, csrf_of, signed_in_owner
from tests.pkpass_check import verify_pkpass


async def signed_in_staff(pages: Pages, shop: ShopRow) -> tuple[httpx.AsyncClient, str]:
    client = pages.browser()
    token = csrf_of(await client.get(f"/staff/{shop.slug}"))
    signed = await client.post(f"/staff/{shop.slug}/login", data={"csrf": token, "pin": PIN})
    assert signed.status_code == 303, signed.text
    return client, token


async def test_join_page_offers_the_card_and_hands_over_an_apple_pass(
    pages: Pages, env: Env
) -> None:
    shop, _ = await pages.shop()
    async with pages.browser(**{"Accept-Language": "de-DE,de;q=0.9"}) as phone:
        page = await phone.get(f"/join/{shop.slug}")
        assert page.status_code == 200
        assert "10 Stempel = 1 Vita Mix gratis" in page.text
        assert "kein Name, keine E-Mail" in page.text
        assert "Apple Wallet" in page.text and "Google Wallet" not in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "no inline scripts"
        assert re.search(r"<svg[^>]*aria-label", page.text), "the desktop QR code is inline SVG"
        form = {"csrf": csrf_of(page), "wallet": "apple"}
        first = await phone.post(f"/join/{shop.slug}", data=form)
        assert first.status_code == 303
        assert first.headers["location"].endswith("/pass.pkpass")
        pkpass = await phone.get(first.headers["location"])
        assert pkpass.headers["content-type"] == "application/vnd.apple.pkpass"
        verify_pkpass(pkpass.content, env.settings.certs_dir / "wwdr.pem")
        again = await phone.post(f"/join/{shop.slug}", data=form)
        assert again.headers["location"] == first.headers["location"], "a second tap, same card"
        back = await phone.get(f"/join/{shop.slug}")
        assert "Sie haben hier schon eine Karte" in back.text


async def test_join_refuses_forms_without_the_token_or_from_another_origin(pages: Pages) -> None:
    shop, _ = await pages.shop()
    async with pages.browser() as phone:
        token = csrf_of(await phone.get(f"/join/{shop.slug}"))
        missing = await phone.post(f"/join/{shop.slug}", data={"wallet": "apple"})
        assert missing.status_code == 403
        foreign = await phone.post(
            f"/join/{shop.slug}",
            data={"csrf": token, "wallet": "apple"},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        assert "abgelaufen" in foreign.text or "expired" in foreign.text


async def test_join_limits_new_cards_per_client(pages: Pages) -> None:
    shop, _ = await pages.shop()
    statuses = []
    for _ in range(21):
        async with pages.browser(**{"Accept-Language": "en"}) as phone:
            phone.cookies.set("passes_csrf", "t")
            answer = await phone.post(f"/join/{shop.slug}", data={"csrf": "t", "wallet": "apple"})
            statuses.append(answer.status_code)
    assert statuses[:20] == [303] * 20
    assert statuses[20] == 429
    assert "try again in a few minutes" in answer.text


async def test_unknown_shop_is_a_404_page(pages: Pages) -> None:
    async with pages.browser(**{"Accept-Language": "en"}) as phone:
        for path in ("/join/nope", "/join/nope/poster", "/staff/nope", "/dashboard/nope"):
            answer = await phone.get(path)
            assert answer.status_code == 404
            assert "There is no such shop here" in answer.text


async def test_card_page_shows_stamps_reward_and_wallet_buttons(pages: Pages) -> None:
    shop, _ = await pages.shop(stamps=5)
    view = await pages.service.issuing.issue_card(shop, "test")
    await pages.service.changes.stamp(shop, view.card.serial, 6, actor="test", idempotency_key=None)
    async with pages.browser(**{"Accept-Language": "en-GB"}) as phone:
        page = await phone.get(f"/c/{view.card.page_secret}")
    assert "1 of 5 stamps" in page.text
    assert "Your reward is ready: 1 Vita Mix gratis" in page.text
    assert page.text.count("<circle") == 5
    assert f'href="{view.urls["apple"]}"' in page.text
    assert view.card.serial in page.text


async def test_poster_png_qr_code_decodes_to_the_join_url(pages: Pages) -> None:
    shop, _ = await pages.shop()
    async with pages.browser() as phone:
        html = await phone.get(f"/join/{shop.slug}/poster")
        png = await phone.get(f"/join/{shop.slug}/poster.png")
    assert "@page" not in html.text, "print rules live in the stylesheet"
    assert f"{BASE_URL}/join/{shop.slug}" in html.text
    assert png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    assert image.size == (874, 1240)
    decoded = [code.text for code in zxingcpp.read_barcodes(image)]
    assert decoded == [f"{BASE_URL}/join/{shop.slug}"]


async def test_staff_stamps_once_per_key_undoes_and_shows_refusals(pages: Pages) -> None:
    shop, _ = await pages.shop()
    serial = (await pages.service.issuing.issue_card(shop, "test")).card.serial
    client, token = await signed_in_staff(pages, shop)
    path = f"/staff/{shop.slug}/cards/{serial.lower()}"
    headers = {"X-CSRF-Token": token, "Idempotency-Key": "tap-1"}
    assert (await client.get(path)).json()["stamps"] == 0
    first = await client.post(f"{path}/stamps", json={"count": 1}, headers=headers)
    retry = await client.post(f"{path}/stamps", json={"count": 1}, headers=headers)
    assert first.json() == retry.json()
    assert first.json()["stamps"] == 1
    change = first.json()["last_change_id"]
    undone = await client.delete(f"{path}/stamps/{change}", headers=headers)
    assert undone.json()["stamps"] == 0
    twice = await client.delete(f"{path}/stamps/{change}", headers=headers)
    assert twice.json()["stamps"] == 0
    refused = await client.post(f"{path}/redeem", headers={"X-CSRF-Token": token})
    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == "Auf dieser Karte ist noch keine Prämie fällig."
    forged = await client.post(f"{path}/stamps", json={"count": 1})
    assert forged.status_code == 403
    missing = await client.get(f"/staff/{shop.slug}/cards/NOSUCHCARD00")
    assert missing.status_code == 404
    stranger = await pages.browser().get(path)
    assert stranger.status_code == 401


async def test_wrong_pins_are_refused_then_locked_out(pages: Pages) -> None:
    shop, _ = await pages.shop()
    async with pages.browser(**{"Accept-Language": "en"}) as client:
        token = csrf_of(await client.get(f"/staff/{shop.slug}"))
        answers = [
            await client.post(f"/staff/{shop.slug}/login", data={"csrf": token, "pin": "0000"})
            for _ in range(5)
        ]
        assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
        assert "Wrong PIN. 4 tries left" in answers[0].text
        assert "locked for 15 minutes" in answers[4].text
        right = await client.post(f"/staff/{shop.slug}/login", data={"csrf": token, "pin": PIN})
        assert right.status_code == 429, "the right PIN waits for the lock too"


async def test_dashboard_figures_csv_pin_and_stats_api(pages: Pages, env: Env) -> None:
    shop, key = await pages.shop(stamps=3)
    first = await pages.service.issuing.issue_card(shop, "test")
    await pages.service.issuing.issue_card(shop, "test")
    await pages.service.changes.stamp(
        shop, first.card.serial, 4, actor="test", idempotency_key=None
    )
    await pages.service.changes.redeem(shop, first.card.serial, actor="test", idempotency_key=None)
    staff, _ = await signed_in_staff(pages, shop)
    async with pages.browser(**{"Accept-Language": "en"}) as owner:
        token = csrf_of(await owner.get(f"/dashboard/{shop.slug}"))
        wrong = await owner.post(
            f"/dashboard/{shop.slug}/login", data={"csrf": token, "key": "psk_nope"}
        )
        assert wrong.status_code == 401 and "does not belong" in wrong.text
        signed = await owner.post(f"/dashboard/{shop.slug}/login", data={"csrf": token, "key": key})
        assert signed.status_code == 303
        page = await owner.get(f"/dashboard/{shop.slug}")
        assert re.search(r'id="cards-issued">2<', page.text)
        assert re.search(r'id="active">1<', page.text)
        assert re.search(r'id="redeemed">1<', page.text)
        assert '<svg class="chart"' in page.text and 'class="bar"' in page.text
        ledger = await owner.get(f"/dashboard/{shop.slug}/ledger.csv")
        rows = list(csv.DictReader(io.StringIO(ledger.text)))
        assert [row["kind"] for row in rows] == ["issue", "issue", "stamp", "redeem"]
        assert rows[2]["serial"] == first.card.serial and rows[2]["count"] == "4"
        saved = await owner.post(f"/dashboard/{shop.slug}/pin", data={"csrf": token, "pin": "9876"})
        assert saved.headers["location"].endswith("?pin=saved#staff-pin")
    signed_out = await staff.get(f"/staff/{shop.slug}/cards/{first.card.serial}")
    assert signed_out.status_code == 401, "a new PIN signs staff devices out"
    stats = (await env.client.get("/api/v1/stats", headers=auth(key))).json()
    assert stats["cards_issued"] == 2 and stats["active_cards"] == 1
    assert stats["stamps_total"] == 4 and stats["rewards_redeemed"] == 1
    assert stats["wallets"] == {"apple": 0, "google": 0}
    assert sum(day["stamps"] for day in stats["stamps_per_day"]) == 4
    assert len(stats["stamps_per_day"]) == stats["window_days"] == 30
    assert (await env.client.get("/api/v1/stats")).status_code == 401


def test_pin_hash_checks_in_constant_time_and_locks_after_five_wrong_tries() -> None:
    stored = hash_pin("4711")
    assert stored.startswith("scrypt$") and "4711" not in stored
    assert pin_matches("4711", stored) and not pin_matches("4712", stored)
    assert not pin_matches("4711", "garbage")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ends = now + LOCK_TIME
    fifth = Tries(device=None, address=Count(5, ends, known=False))
    assert client_verdict(fifth) is None, "the fifth try is still checked"
    assert after_wrong_pin(fifth) == (0, ends), "and when wrong, it starts the lock"
    sixth = Tries(device=None, address=Count(6, ends, known=False))
    assert isinstance(client_verdict(sixth), PinLocked)
    assert after_wrong_pin(Tries(None, Count(1, ends, False))) == (4, None)
    for bad in ("123", "abcd", "1234567890123", "１２３４"):
        with pytest.raises(InvalidInput):
            check_pin_format(bad)


def test_figures_net_undos_and_count_returning_cards() -> None:
    today = date(2026, 3, 31)
    at = lambda day: datetime(2026, 3, day, 12, tzinfo=UTC)  # noqa: E731
    rows = [
        LedgerRow(1, "stamp", 2, at(30)),
        LedgerRow(1, "undo", 1, at(30)),
        LedgerRow(1, "stamp", 1, at(31)),
        LedgerRow(2, "stamp", 1, at(31)),
        LedgerRow(3, "redeem", 1, at(31)),
        LedgerRow(4, "stamp", 5, datetime(2026, 2, 1, tzinfo=UTC)),
    ]
    stats = figures(CardTotals(5, 9, 1, 2, 1), rows, today)
    assert stats.active == 3 and stats.returning == 1 and stats.redeemed_recently == 1
    per_day = dict(stats.stamps_per_day)
    assert per_day[date(2026, 3, 30)] == 1 and per_day[date(2026, 3, 31)] == 2
    assert len(per_day) == 30 and date(2026, 2, 1) not in per_day
    assert stats_json(stats)["wallets"] == {"apple": 2, "google": 1}


@pytest.mark.slow
def test_cli_sets_and_resets_the_staff_pin(tmp_path: Path) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", tmp_path / "certs")
    slug = "cafe-pin"
    base = ("shop", "create", "--name", "Café", "--slug", slug, "--reward", "1 Kaffee")
    refused = run(env, *base, "--pin", "12", ok=False)
    assert refused.returncode == 1 and "4 to 12 digits" in refused.stderr
    created = run(env, *base, "--pin", "1234")
    assert "staff:   PIN set" in created.stdout and "1234" not in created.stdout
    reset = run(env, "shop", "pin", "--shop", slug, "--pin", "5678")
    assert "staff PIN set for cafe-pin" in reset.stdout
    unknown = run(env, "shop", "pin", "--shop", "nope", "--pin", "5678", ok=False)
    assert unknown.returncode == 1 and "no shop 'nope'" in unknown.stderr


async def test_staff_page_names_the_daily_cap_when_it_refuses(pages: Pages) -> None:
    shop, _ = await pages.shop()
    shop = await pages.service.shops.update_program(shop, daily_cap=2)
    serial = (await pages.service.issuing.issue_card(shop, "test")).card.serial
    client, token = await signed_in_staff(pages, shop)
    path = f"/staff/{shop.slug}/cards/{serial}/stamps"
    headers = {"X-CSRF-Token": token}
    assert (await client.post(path, json={"count": 2}, headers=headers)).status_code == 200
    refused = await client.post(path, json={"count": 1}, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "daily_cap"
    assert "Tageslimit" in refused.json()["error"]["message"]
    english = await client.post(
        path, json={"count": 1}, headers={**headers, "Accept-Language": "en"}
    )
    assert "0 left today" in english.json()["error"]["message"]


async def test_referral_through_the_join_page_gives_both_cards_their_bonus(pages: Pages) -> None:
    shop, _ = await pages.shop()
    friend = await pages.service.issuing.issue_card(shop, "test")
    async with pages.browser(**{"Accept-Language": "en"}) as phone:
        card_page = await phone.get(f"/c/{friend.card.page_secret}")
        share = f"{BASE_URL}/join/{shop.slug}?ref={friend.card.serial}"
        assert f'value="{share}"' in card_page.text and 'src="/static/share.js"' in card_page.text
        ignored = await phone.get(f"/join/{shop.slug}?ref=%3Cscript%3E")
        assert 'name="ref"' not in ignored.text and "<script>" not in ignored.text
        page = await phone.get(f"/join/{shop.slug}?ref={friend.card.serial}")
        assert f'name="ref" value="{friend.card.serial}"' in page.text
        assert "you and the person who recommended you each get 1 bonus" in page.text
        form = {"csrf": csrf_of(page), "wallet": "apple", "ref": friend.card.serial}
        joined = await phone.post(f"/join/{shop.slug}", data=form)
    secret = joined.headers["location"].split("/c/")[1].split("/")[0]
    new = await pages.service.cards.card_by_secret(secret)
    assert new.card.counters.stamps == 0, "the bonus waits for the first real stamp"
    client, token = await signed_in_staff(pages, shop)
    stamped = await client.post(
        f"/staff/{shop.slug}/cards/{new.card.serial}/stamps",
        json={"count": 1},
        headers={"X-CSRF-Token": token},
    )
    assert stamped.json()["stamps"] == 2, "one stamp plus the referral bonus"
    again = await pages.service.changes.stamp(
        shop, new.card.serial, 1, actor="test", idempotency_key=None
    )
    assert again.card.counters.stamps == 3, "the bonus comes once"
    assert (await pages.service.cards.card(shop, friend.card.serial)).card.counters.stamps == 1


async def test_feedback_link_on_the_pass_after_a_redeem_and_answers_on_the_dashboard(
    pages: Pages, env: Env
) -> None:
    shop, key = await pages.shop(stamps=3)
    view = await pages.service.issuing.issue_card(shop, "test")
    secret, serial = view.card.page_secret, view.card.serial
    phone = pages.browser(**{"Accept-Language": "en"})
    before = verify_pkpass(
        (await phone.get(f"/c/{secret}/pass.pkpass")).content, env.settings.certs_dir / "wwdr.pem"
    )
    assert "feedback" not in [field["key"] for field in before["storeCard"]["backFields"]]
    assert "after your first redeemed reward" in (await phone.get(f"/c/{secret}/feedback")).text
    await pages.service.changes.stamp(shop, serial, 3, actor="test", idempotency_key=None)
    await pages.service.changes.redeem(shop, serial, actor="test", idempotency_key=None)
    after = verify_pkpass(
        (await phone.get(f"/c/{secret}/pass.pkpass")).content, env.settings.certs_dir / "wwdr.pem"
    )
    fields = {field["key"]: field for field in after["storeCard"]["backFields"]}
    assert fields["feedback"]["value"] == f"{view.urls['card']}/feedback"
    assert fields["feedback"]["label"] == "feedback_label"
    assert "How was your reward?" in (await phone.get(f"/c/{secret}")).text
    form = await phone.get(f"/c/{secret}/feedback")
    assert form.text.count('type="radio" ') == 5 and "<legend>" in form.text
    token, path = csrf_of(form), f"/c/{secret}/feedback"
    forged = await phone.post(path, data={"stars": "5"})
    assert forged.status_code == 403
    for stars in ("0", "6", "", "five", "٣"):
        refused = await phone.post(path, data={"csrf": token, "stars": stars})
        assert refused.status_code == 422 and "choose 1 to 5 stars" in refused.text
    long = await phone.post(path, data={"csrf": token, "stars": "4", "text": "x" * 501})
    assert long.status_code == 422 and "At most 500 characters" in long.text
    words = "<b>Lecker</b> " + "ü" * 480
    given = await phone.post(path, data={"csrf": token, "stars": "4", "text": words})
    assert given.status_code == 200 and "Thank you for your feedback" in given.text
    twice = await phone.post(path, data={"csrf": token, "stars": "1", "text": "again"})
    assert "already have your answer" in twice.text
    assert "already have your answer" in (await phone.get(path)).text
    owner, _ = await signed_in_owner(pages, shop, key)
    dashboard = (await owner.get(f"/dashboard/{shop.slug}")).text
    assert re.search(r'id="feedback-average">4\.0 ', dashboard)
    assert re.search(r'id="feedback-count">1<', dashboard)
    assert "&lt;b&gt;Lecker&lt;/b&gt;" in dashboard and "<b>Lecker" not in dashboard
    assert "again" not in dashboard


async def test_dashboard_previews_and_sends_a_campaign(pages: Pages) -> None:
    shop, key = await pages.shop()
    for _ in range(10):
        await pages.service.issuing.issue_card(shop, "test")
    owner, token = await signed_in_owner(pages, shop, key)
    path = f"/dashboard/{shop.slug}/campaigns"
    page = (await owner.get(f"/dashboard/{shop.slug}")).text
    assert "No messages yet." in page and '<option value="reward_due"' in page
    draft = {"csrf": token, "segment": "all", "text": "Double stamps this weekend!"}
    preview = await owner.post(path, data={**draft, "action": "preview"})
    assert preview.status_code == 200
    assert re.search(r'id="preview-recipients">9<', preview.text)
    assert re.search(r'id="preview-held-out">1<', preview.text)
    assert re.search(r'id="preview-over-limit">0<', preview.text)
    assert "Double stamps this weekend!</textarea>" in preview.text, "the draft stays"
    empty = await owner.post(path, data={**draft, "text": "  ", "action": "send"})
    assert empty.status_code == 422 and "needs 1 to 200 characters" in empty.text
    odd = await owner.post(path, data={**draft, "segment": "everyone", "action": "preview"})
    assert odd.status_code == 422 and "choose a group" in odd.text
    forged = await owner.post(path, data={**draft, "csrf": "nope", "action": "send"})
    assert forged.status_code == 403
    sent = await owner.post(path, data={**draft, "action": "send"})
    assert sent.status_code == 303 and "?sent=" in sent.headers["location"]
    after = (await owner.get(sent.headers["location"])).text
    assert "The message goes to 9 cards (1 held out for comparison)." in after
    row = re.search(r'<table id="campaign-history".*?</table>', after, re.S)
    assert row and "Double stamps this weekend!" in row.group(0)
    cells = re.findall(r'class="num" data-label="[^"]+">(\d+)</td>', row.group(0))
    assert cells == ["9", "1", "0", "0", "0"], "recipients, held out, delivered, failed, removed"
    stranger = pages.browser()
    stranger.cookies.set("passes_csrf", "t")
    refused = await stranger.post(path, data={**draft, "csrf": "t", "action": "send"})
    assert refused.status_code == 403


async def test_dashboard_rules_set_the_daily_cap_and_locations_reach_the_pass(
    pages: Pages, env: Env
) -> None:
    shop, key = await pages.shop()
    owner, token = await signed_in_owner(pages, shop, key)
    path = f"/dashboard/{shop.slug}/program"
    rules = {"daily_cap": "", "messages_per_week": "2", "holdout_percent": "10"}
    bad = await owner.post(path, data={"csrf": token, **rules, "welcome_stamps": "7"})
    assert bad.status_code == 422
    assert "Welcome stamps for new cards: please a whole number from 0 to 3." in bad.text
    assert 'value="7"' in bad.text, "the typed value stays for correction"
    saved = await owner.post(
        path, data={"csrf": token, **rules, "daily_cap": "1", "welcome_stamps": "0"}
    )
    assert saved.status_code == 303 and "saved=settings" in saved.headers["location"]
    page = (await owner.get(saved.headers["location"])).text
    assert "Rules saved." in page and re.search(r'name="daily_cap"[^>]*value="1"', page)
    serial = (await pages.service.issuing.issue_card(shop, "test")).card.serial
    staff, staff_token = await signed_in_staff(pages, shop)
    stamp = f"/staff/{shop.slug}/cards/{serial}/stamps"
    headers = {"X-CSRF-Token": staff_token}
    assert (await staff.post(stamp, json={"count": 1}, headers=headers)).status_code == 200
    refused = await staff.post(stamp, json={"count": 1}, headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "daily_cap"
    places = f"/dashboard/{shop.slug}/locations"
    wrong = await owner.post(
        places, data={"csrf": token, "address": "Mond", "latitude": "100", "longitude": "0"}
    )
    assert wrong.status_code == 422 and "latitude −90 to 90" in wrong.text
    place = {
        "csrf": token,
        "address": "Hauptstr. 1, Berlin",
        "latitude": "52,52",
        "longitude": "13.405",
    }
    added = await owner.post(places, data=place)
    assert added.status_code == 303
    listed = (await owner.get(added.headers["location"])).text
    assert "Hauptstr. 1, Berlin" in listed and "52.52000, 13.40500" in listed
    view = await pages.service.cards.card(shop, serial)
    pkpass = await pages.browser().get(str(view.urls["apple"]))
    pass_json = verify_pkpass(pkpass.content, env.settings.certs_dir / "wwdr.pem")
    assert pass_json["locations"][0]["latitude"] == 52.52
    assert pass_json["locations"][0]["longitude"] == 13.405
    assert pass_json["locations"][0]["relevantText"] == "relevant_text"
    with zipfile.ZipFile(io.BytesIO(pkpass.content)) as archive:
        assert "Noch 9 Stempel" in archive.read("de.lproj/pass.strings").decode()


async def test_dashboard_sets_reward_tiers_and_expiry_and_the_card_page_shows_them(
    pages: Pages,
) -> None:
    shop, key = await pages.shop()
    owner, token = await signed_in_owner(pages, shop, key)
    path = f"/dashboard/{shop.slug}/program"
    rules = {"daily_cap": "", "messages_per_week": "2", "holdout_percent": "10"}
    rules |= {"welcome_stamps": "0", "stamp_expiry_days": "90", "reward_expiry_days": ""}
    bad = await owner.post(
        path, data={"csrf": token, **rules, "tier_at_1": "10", "tier_reward_1": "1 Cookie"}
    )
    assert bad.status_code == 422
    assert "Reward tiers: each a stamp count from 1 to 9" in bad.text
    assert 'value="1 Cookie"' in bad.text, "the typed tier stays for correction"
    half = await owner.post(path, data={"csrf": token, **rules, "tier_at_1": "5"})
    assert half.status_code == 422
    saved = await owner.post(
        path,
        data={
            "csrf": token,
            **rules,
            "tier_at_1": "5",
            "tier_reward_1": "1 Cookie",
            "tier_at_2": "",
        },
    )
    assert saved.status_code == 303
    page = (await owner.get(saved.headers["location"])).text
    assert re.search(r'name="tier_at_1"[^>]*value="5"', page)
    assert re.search(r'name="stamp_expiry_days"[^>]*value="90"', page)
    view = await pages.service.issuing.issue_card(shop, "test")
    shop = await pages.service.shops.shop(shop.slug)
    await pages.service.changes.stamp(shop, view.card.serial, 3, actor="test", idempotency_key=None)
    async with pages.browser(**{"Accept-Language": "en"}) as phone:
        card = (await phone.get(f"/c/{view.card.page_secret}")).text
        assert "2 more stamps to: 1 Cookie" in card
        assert "5 Stamps: 1 Cookie" in card and "10 Stamps: 1 Vita Mix gratis" in card
        assert re.search(r"Stamps expire on \d{1,2} \w{3} \d{4} unless you visit before", card)
        await pages.service.changes.stamp(
            shop, view.card.serial, 2, actor="test", idempotency_key=None
        )
        card = (await phone.get(f"/c/{view.card.page_secret}")).text
        assert "Your reward is ready: 1 Cookie" in card
