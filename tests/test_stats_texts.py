"""The owner's figures (visits, bonus stamps apart) and count-bearing texts, over HTTP."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from passes.staff import StaffPins
from passes.texts import LANGUAGES, PAGE_TEXTS, TEXTS, counted, text
from tests.conftest import Env, auth
from tests.pages_client import browser, csrf_of

PIN = "5309"


async def new_card(env: Env, key: str) -> str:
    made = await env.client.post("/api/v1/cards", headers=auth(key))
    assert made.status_code == 201, made.text
    return str(made.json()["serial"])


async def stamp(env: Env, key: str, serial: str, count: int = 1) -> dict[str, Any]:
    headers = {**auth(key), "Idempotency-Key": secrets.token_hex(8)}
    done = await env.client.post(
        f"/api/v1/cards/{serial}/stamps", json={"count": count}, headers=headers
    )
    assert done.status_code == 200, done.text
    return dict(done.json())


async def stats(env: Env, key: str) -> dict[str, Any]:
    found = await env.client.get("/api/v1/stats", headers=auth(key))
    assert found.status_code == 200, found.text
    return dict(found.json())


async def promote(env: Env, key: str, multiplier: int = 2) -> None:
    ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    body = {
        "text": "Doppelte Stempel!",
        "segment": "all",
        "multiplier": multiplier,
        "ends_at": ends,
    }
    sent = await env.client.post("/api/v1/messages", json=body, headers=auth(key))
    assert sent.status_code == 202, sent.text


async def dashboard(env: Env, opened: list[httpx.AsyncClient], key: str, lang: str = "de") -> str:
    shop = await env.service.shops.authenticate(key)
    owner = browser(env, opened, lang)
    token = csrf_of(await owner.get(f"/dashboard/{shop.slug}"))
    signed = await owner.post(f"/dashboard/{shop.slug}/login", data={"csrf": token, "key": key})
    assert signed.status_code == 303, signed.text
    page = await owner.get(f"/dashboard/{shop.slug}")
    assert page.status_code == 200
    return page.text


async def test_visits_per_active_card_counts_stamping_occasions_not_stamps(env: Env) -> None:
    key = await env.new_shop(stamps=30)
    once, twice = await new_card(env, key), await new_card(env, key)
    await stamp(env, key, once, 3)  # one visit, three stamps
    await stamp(env, key, twice)
    await stamp(env, key, twice)
    taken_back = await stamp(env, key, twice)
    undone = await env.client.delete(
        f"/api/v1/cards/{twice}/stamps/{taken_back['last_change_id']}", headers=auth(key)
    )
    assert undone.status_code == 200, undone.text
    figures = await stats(env, key)
    assert figures["active_cards"] == 2
    assert figures["success"]["visits_per_active_card"] == 1.5, "3 visits (5 stamps) / 2 cards"


async def test_promotion_extras_are_no_visits(env: Env) -> None:
    key = await env.new_shop(stamps=30)
    shop = await env.service.shops.authenticate(key)
    await env.service.shops.update_program(shop, holdout_percent=0)
    serial = await new_card(env, key)
    await promote(env, key)
    assert (await stamp(env, key, serial, 2))["stamps"] == 4
    figures = await stats(env, key)
    assert figures["success"]["visits_per_active_card"] == 1.0
    assert figures["bonus_stamps_total"] == 2


async def test_stamps_in_total_and_the_chart_agree_with_bonus_stamps_apart(
    env: Env, browsers: list[httpx.AsyncClient]
) -> None:
    key = await env.new_shop(stamps=30)
    shop = await env.service.shops.authenticate(key)
    await env.service.shops.update_program(shop, holdout_percent=0, welcome_stamps=2)
    serial = await new_card(env, key)  # 2 welcome stamps
    await promote(env, key)
    await stamp(env, key, serial, 3)  # 3 stamps and 3 from the promotion
    undo = await stamp(env, key, serial)  # 1 + 1, then taken back together
    await env.client.delete(
        f"/api/v1/cards/{serial}/stamps/{undo['last_change_id']}", headers=auth(key)
    )
    figures = await stats(env, key)
    days = figures["stamps_per_day"]
    counter, bonus = sum(day["stamps"] for day in days), sum(day["bonus"] for day in days)
    assert (counter, bonus) == (3, 5)
    assert figures["bonus_stamps_total"] == bonus
    assert figures["stamps_total"] == counter + bonus == 8
    page = await dashboard(env, browsers, key)
    assert re.search(r'id="stamps-total">8<', page)
    assert re.search(r'id="stamps-bonus">davon 5 Bonusstempel<', page)
    assert page.count('<rect class="bonus"') == 1, "today's bonus stacked on today's bar"
    today = datetime.now(UTC).date()
    assert f"{today:%d.%m.}: Stempel 3, Bonus 5" in page
    assert "Bonusstempel</li>" in page, "the chart's legend names the bonus part"
    english = await dashboard(env, browsers, key, "en")
    assert re.search(r'id="stamps-bonus">of which 5 bonus stamps<', english)


async def test_without_bonus_stamps_the_figure_stands_alone(
    env: Env, browsers: list[httpx.AsyncClient]
) -> None:
    key = await env.new_shop()
    await stamp(env, key, await new_card(env, key), 2)
    page = await dashboard(env, browsers, key)
    assert re.search(r'id="stamps-total">2<', page) and 'id="stamps-bonus"' not in page
    assert '<rect class="bonus"' not in page


def test_no_text_leaves_its_plural_to_the_reader() -> None:
    for language in LANGUAGES:
        for table in (TEXTS, PAGE_TEXTS):
            for key, value in table[language].items():
                assert "(s)" not in value and "(e)" not in value and "(n)" not in value, key


@pytest.mark.parametrize(
    ("key", "count", "language", "said"),
    [
        ("page_to_go", 1, "en", "1 more stamp to: Kaffee"),
        ("page_to_go", 2, "en", "2 more stamps to: Kaffee"),
        ("page_to_go", 1, "de", "Noch 1 Stempel bis: Kaffee"),
        ("offer", 1, "en", "1 stamp = Kaffee"),
        ("offer", 0, "en", "0 stamps = Kaffee"),
        ("page_stamps", 1, "de", "0 von 1 Stempel"),
        ("page_stamps", 10, "de", "0 von 10 Stempeln"),
        ("wrong_pin", 1, "en", "Wrong PIN. 1 try left,"),
        ("wrong_pin", 2, "en", "Wrong PIN. 2 tries left,"),
        ("wrong_pin", 1, "de", "Falsche PIN. Noch 1 Versuch,"),
        ("wrong_pin", 2, "de", "Falsche PIN. Noch 2 Versuche,"),
        ("pin_locked", 1, "en", "sign-in here is locked for 1 minute."),
        ("pin_locked", 1, "de", "Die Anmeldung ist hier für 1 Minute gesperrt."),
        ("campaign_sent", 1, "de", "Die Nachricht geht an 1 Karte (0 zum"),
        ("campaign_sent", 1, "en", "The message goes to 1 card (0 held"),
        ("share_text", 1, "en", "receives 1 bonus stamp at"),
        ("share_text", 2, "en", "receives 2 bonus stamps at"),
        ("join_referred", 1, "en", "each get 1 bonus stamp."),
    ],
)
def test_counted_texts_agree_with_their_number(
    key: str, count: int, language: str, said: str
) -> None:
    values = {
        "missing": count,
        "reward": "Kaffee",
        "stamps": 0 if key == "page_stamps" else count,
        "required": count,
        "left": count,
        "minutes": count,
        "recipients": count,
        "held_out": 0,
        "bonus": count,
        "slug": "eck",
    }
    assert said in counted(key, count, language).format(**values)
    if count != 1:
        assert counted(key, count, language) == text(key, language)


async def test_pages_with_one_of_a_thing_say_it_in_the_singular(
    env: Env, browsers: list[httpx.AsyncClient]
) -> None:
    shop, key = await env.service.shops.create_shop(
        name="Kiosk", stamps=1, reward="1 Kaffee", slug=f"kiosk-{secrets.token_hex(4)}"
    )
    await env.service.shops.update_program(shop, holdout_percent=0, messages_per_week=1)
    english = browser(env, browsers, "en")
    join = await english.get(f"/join/{shop.slug}")
    assert "1 stamp = 1 Kaffee" in join.text and "1 stamps" not in join.text
    referred = await english.get(f"/join/{shop.slug}?ref=ABC")
    assert "each get 1 bonus stamp." in referred.text
    card = (await env.client.post("/api/v1/cards", headers=auth(key))).json()
    page = await english.get(card["urls"]["card"])
    assert "0 of 1 stamp<" in page.text or "0 of 1 stamp\n" in page.text, page.text
    assert "1 more stamp to: 1 Kaffee" in page.text
    assert "receives 1 bonus stamp at" in page.text
    german = await browser(env, browsers, "de").get(card["urls"]["card"])
    assert "0 von 1 Stempel" in german.text and "0 von 1 Stempeln" not in german.text
    sent = await env.client.post(
        "/api/v1/messages", json={"text": "Hallo", "segment": "all"}, headers=auth(key)
    )
    assert sent.json()["recipients"] == 1, sent.text
    owner = browser(env, browsers, "en")
    token = csrf_of(await owner.get(f"/dashboard/{shop.slug}"))
    await owner.post(f"/dashboard/{shop.slug}/login", data={"csrf": token, "key": key})
    notice = await owner.get(f"/dashboard/{shop.slug}?sent={sent.json()['campaign']}")
    assert "The message goes to 1 card (0 held out" in notice.text
    assert "At most 1 message per card and week" in notice.text
    await StaffPins(env.service.store).set_pin(shop, PIN)
    assert "1 tries" not in (await _wrong_pins(env, browsers, shop.slug))


async def _wrong_pins(env: Env, opened: list[httpx.AsyncClient], slug: str) -> str:
    """Every answer to wrong PINs until sign-in locks, joined."""
    staff = browser(env, opened, "en")
    said = []
    for _ in range(10):
        token = csrf_of(await staff.get(f"/staff/{slug}"))
        answer = await staff.post(f"/staff/{slug}/login", data={"csrf": token, "pin": "0000"})
        said.append(answer.text)
        if answer.status_code == 429:
            break
    assert "1 try left," in "".join(said)
    return "".join(said)


async def test_the_staff_stamp_answer_says_what_was_given_on_either_database(
    env: Env, browsers: list[httpx.AsyncClient]
) -> None:
    key = await env.new_shop(stamps=30)
    shop = await env.service.shops.authenticate(key)
    await env.service.shops.update_program(shop, holdout_percent=0)
    await StaffPins(env.service.store).set_pin(shop, PIN)
    friend = await new_card(env, key)
    made = await env.client.post("/api/v1/cards", json={"referrer": friend}, headers=auth(key))
    referred = str(made.json()["serial"])
    staff = browser(env, browsers, "de")
    token = csrf_of(await staff.get(f"/staff/{shop.slug}"))
    signed = await staff.post(f"/staff/{shop.slug}/login", data={"csrf": token, "pin": PIN})
    assert signed.status_code == 303, signed.text

    async def staff_stamp(serial: str, count: int = 1) -> dict[str, Any]:
        done = await staff.post(
            f"/staff/{shop.slug}/cards/{serial}/stamps",
            json={"count": count},
            headers={"X-CSRF-Token": token, "Idempotency-Key": secrets.token_hex(8)},
        )
        assert done.status_code == 200, done.text
        return dict(done.json())

    first = await staff_stamp(referred)  # the referral bonus comes with the first stamp
    assert first["said"] == "+2 gestempelt (1 + 1 Bonus)" and first["stamps"] == 2
    assert first["given"] == {"stamps": 1, "promotion": 0, "multiplier": 1, "bonus": 1}
    await promote(env, key, multiplier=3)
    promoted = await staff_stamp(friend, 2)
    assert promoted["said"] == "+6 gestempelt (2 + 4 Aktion ×3)", promoted
    assert promoted["stamps"] == 1 + 6, "the referral bonus, then 2 stamps counting 3 times"
    plain = await staff_stamp(await new_card(env, key))
    assert plain["said"] == "+1 gestempelt" and plain["given"]["promotion"] == 0
