"""Fraud controls (issue #15): the cooldown between stamps on a card, the per-person daily limit,
the review list of unusual activity and its ledger page, and their settings, on SQLite and
PostgreSQL (`env`), through the API, the staff page, the dashboard and the CLI."""

from __future__ import annotations

import asyncio
import html
import re
import secrets
import subprocess
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from passes.errors import Conflict, http_answer
from passes.fraud_rules import far_above, staff_limit_reached, unusual_days
from passes.people import People
from passes.store.ledger import Origin
from passes.store.shops import ShopRow
from passes.store.tables import card_events, cards
from passes.texts import text
from tests.api_calls import new_card
from tests.conftest import Env, auth
from tests.live import passes_env, run
from tests.pages_client import Pages, signed_in_owner
from tests.test_pages import signed_in_staff


async def stamp(env: Env, key: str, serial: str, count: int = 1) -> httpx.Response:
    headers = {**auth(key), "Idempotency-Key": secrets.token_hex(8)}
    return await env.client.post(
        f"/api/v1/cards/{serial}/stamps", json={"count": count}, headers=headers
    )


async def shop_with(env: Env, **settings: int | None) -> tuple[ShopRow, str]:
    key = await env.new_shop(stamps=10)
    shop = await env.service.shops.authenticate(key)
    return await env.service.shops.update_program(shop, **settings), key


async def person_stamps(
    env: Env, shop: ShopRow, serial: str, staff_id: int, count: int = 1
) -> object:
    """A stamp given by the person `staff_id`, as the staff and counter pages give it; the
    card, or the refusal."""
    try:
        return await env.service.changes.stamp(
            shop, serial, count, actor="staff", idempotency_key=None, origin=Origin(staff_id)
        )
    except Conflict as refused:
        return refused


def codes(answers: list[object]) -> list[str]:
    return [a.code if isinstance(a, Conflict) else "ok" for a in answers]


async def stamps_in_ledger(env: Env, serial: str) -> int:
    async with env.service.store.reading() as conn:
        query = (
            card_events.select()
            .join(cards, cards.c.id == card_events.c.card_id)
            .where(cards.c.serial == serial, card_events.c.kind == "stamp")
        )
        return len((await conn.execute(query)).all())


# --- the rules, pure -------------------------------------------------------------------------


def test_a_day_far_above_the_usual_is_more_than_three_times_it_and_at_least_twenty() -> None:
    assert not far_above(19, None) and far_above(20, None), "no days before: the minimum alone"
    assert far_above(31, 10) and not far_above(30, 10) and not far_above(12, 2)
    day = date(2027, 3, 10)
    volumes = {(1, day - timedelta(days=n)): 10 for n in range(1, 29)}
    volumes |= {(1, day): 31, (2, day): 25, (2, day - timedelta(days=3)): 9}
    volumes |= {(3, day): 60, (3, day - timedelta(days=29)): 50}  # 29 days before: too long ago
    found = unusual_days(volumes, [day])
    assert [(e.staff_id, e.stamps, e.usual) for e in found] == [(3, 60, None), (1, 31, 10.0)]


# --- the cooldown ----------------------------------------------------------------------------


async def test_cooldown_refuses_the_next_stamp_and_says_when_it_is_possible(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = await shop_with(env, stamp_cooldown_minutes=10)
    serial = (await new_card(env, key))["serial"]
    first = await stamp(env, key, serial)
    assert first.status_code == 200
    refused = await stamp(env, key, serial)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "cooldown"
    said = refused.json()["error"]["message"]
    assert "one stamp per card every 10 minutes" in said and "(in 10 minutes)" in said, said
    monkeypatch.setattr(env.clock, "ahead", timedelta(minutes=9))
    assert "(in 1 minute)" in (await stamp(env, key, serial)).json()["error"]["message"]
    monkeypatch.setattr(env.clock, "ahead", timedelta(minutes=10, seconds=1))
    assert (await stamp(env, key, serial)).status_code == 200, "after the cooldown"
    other = (await new_card(env, key))["serial"]
    assert (await stamp(env, key, other)).status_code == 200, "each card waits on its own"


async def test_an_undone_stamp_does_not_hold_back_the_next(env: Env) -> None:
    _, key = await shop_with(env, stamp_cooldown_minutes=60)
    serial = (await new_card(env, key))["serial"]
    given = (await stamp(env, key, serial)).json()
    undone = await env.client.delete(
        f"/api/v1/cards/{serial}/stamps/{given['last_change_id']}", headers=auth(key)
    )
    assert undone.status_code == 200
    assert (await stamp(env, key, serial)).status_code == 200, "a stamp by mistake: no wait"
    assert (await stamp(env, key, serial)).json()["error"]["code"] == "cooldown"


async def test_cooldown_holds_when_a_card_is_stamped_twenty_times_at_once(env: Env) -> None:
    _, key = await shop_with(env, stamp_cooldown_minutes=5)
    serial = (await new_card(env, key))["serial"]
    answers = await asyncio.gather(*(stamp(env, key, serial) for _ in range(20)))
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == 1 and statuses.count(409) == 19, statuses
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"cooldown"}
    assert await stamps_in_ledger(env, serial) == 1


async def test_cooldown_holds_for_a_person_stamping_one_card_many_times_at_once(env: Env) -> None:
    """A person's stamps take the locked path: the last stamp is read under the card's lock."""
    shop, key = await shop_with(env, stamp_cooldown_minutes=5)
    ana = await People(env.service.store).add(shop, "Ana", "2580")
    serial = (await new_card(env, key))["serial"]
    answers = await asyncio.gather(*(person_stamps(env, shop, serial, ana.id) for _ in range(20)))
    assert sorted(codes(answers)) == ["cooldown"] * 19 + ["ok"]
    assert await stamps_in_ledger(env, serial) == 1


async def test_staff_page_says_the_cooldown_in_its_own_words(pages: Pages) -> None:
    shop, _ = await pages.shop()
    shop = await pages.service.shops.update_program(shop, stamp_cooldown_minutes=15)
    serial = (await pages.service.issuing.issue_card(shop, "test")).card.serial
    client, token = await signed_in_staff(pages, shop)
    path = f"/staff/{shop.slug}/cards/{serial}/stamps"
    headers = {"X-CSRF-Token": token}
    assert (await client.post(path, json={"count": 1}, headers=headers)).status_code == 200
    refused = await client.post(path, json={"count": 1}, headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "cooldown"
    assert "nächste Stempel ist in 15 Min. möglich" in refused.json()["error"]["message"]
    for language, said in (("en", "possible in 15 min"), ("fr", "possible dans 15 min")):
        asked = await client.post(
            path, json={"count": 1}, headers={**headers, "Accept-Language": language}
        )
        assert said in asked.json()["error"]["message"], asked.text


# --- the per-person daily limit ----------------------------------------------------------------


async def test_a_persons_daily_limit_holds_under_twenty_stamps_at_once(env: Env) -> None:
    shop, key = await shop_with(env, staff_daily_stamps=5)
    people = People(env.service.store)
    ana, ben = await people.add(shop, "Ana", "2580"), await people.add(shop, "Ben", "1470")
    serials = [(await new_card(env, key))["serial"] for _ in range(21)]
    answers = await asyncio.gather(
        *(person_stamps(env, shop, serial, ana.id) for serial in serials[:20])
    )
    assert sorted(codes(answers)) == ["ok"] * 5 + ["staff_daily_limit"] * 15
    refused = next(a for a in answers if isinstance(a, Conflict))
    assert "per person and day (5)" in str(refused)
    assert sum([await stamps_in_ledger(env, serial) for serial in serials[:20]]) == 5
    assert codes([await person_stamps(env, shop, serials[20], ben.id)]) == ["ok"], "Ben's own"
    api = await stamp(env, key, serials[20])
    assert api.status_code == 200, "stamps of no person (the API key) have no person's limit"


async def test_an_undone_stamp_gives_the_person_their_place_back(env: Env) -> None:
    shop, key = await shop_with(env, staff_daily_stamps=2)
    ana = await People(env.service.store).add(shop, "Ana", "2580")
    serials = [(await new_card(env, key))["serial"] for _ in range(3)]
    given = [await person_stamps(env, shop, serial, ana.id) for serial in serials]
    assert codes(given) == ["ok", "ok", "staff_daily_limit"]
    view = given[1]
    event = view.card.last_event_id  # type: ignore[attr-defined]
    await env.service.undo.undo_stamp(shop, serials[1], event, actor="staff", origin=Origin(ana.id))
    assert codes([await person_stamps(env, shop, serials[2], ana.id)]) == ["ok"]
    too_many = await person_stamps(env, shop, serials[0], ana.id, count=3)
    assert codes([too_many]) == ["staff_daily_limit"]


async def test_daily_cap_holds_for_a_persons_stamps_at_once_on_one_card(env: Env) -> None:
    shop, key = await shop_with(env, daily_cap=3)
    ana = await People(env.service.store).add(shop, "Ana", "2580")
    serial = (await new_card(env, key))["serial"]
    answers = await asyncio.gather(*(person_stamps(env, shop, serial, ana.id) for _ in range(20)))
    assert sorted(codes(answers)) == ["daily_cap"] * 17 + ["ok"] * 3
    assert await stamps_in_ledger(env, serial) == 3


def test_the_persons_limit_is_told_with_the_limit_in_every_language() -> None:
    """What the staff page says (its refusal_<code> text with what the rule named); the page
    stamps as a person once people sign in on it."""
    answer = http_answer(staff_limit_reached(40))
    assert (answer.status, answer.code, answer.params) == (409, "staff_daily_limit", {"limit": 40})
    assert "(40)" in answer.message
    for language, said in (("de", "erlaubt sind (40)"), ("en", "one person may (40)")):
        assert said in text("refusal_staff_daily_limit", language).format(**answer.params)


# --- the review list and its ledger page -------------------------------------------------------


async def test_review_list_links_each_entry_to_exactly_the_rows_behind_it(
    pages: Pages, env: Env
) -> None:
    shop, key = await pages.shop()
    shop = await env.service.shops.update_program(shop, review_card_stamps=3)
    ana = await People(env.service.store).add(shop, "Ana Lima", "2580")
    card = (await env.service.issuing.issue_card(shop, "test")).card
    busy = card.serial
    quiet = (await env.service.issuing.issue_card(shop, "test")).card.serial
    for _ in range(4):  # more than 3 a day: reviewed
        await env.service.changes.stamp(shop, busy, 1, actor="api", idempotency_key=None)
    await env.service.changes.stamp(shop, quiet, 3, actor="api", idempotency_key=None)
    others = [(await env.service.issuing.issue_card(shop, "test")).card.serial for _ in range(7)]
    for serial in others:  # 21 stamps by Ana with no days before: far above
        assert codes([await person_stamps(env, shop, serial, ana.id, count=3)]) == ["ok"]
    owner, _ = await signed_in_owner(pages, shop, key)
    page = html.unescape((await owner.get(f"/dashboard/{shop.slug}")).text)
    today = datetime.now(UTC).date().isoformat()
    listed = re.search(r'<ul class="review-list" id="review-cards".*?</ul>', page, re.S)
    assert listed and f"Card {busy} on {today}: 4 stamps" in listed.group(0)
    assert quiet not in listed.group(0) and "more than 3 stamps on one day" in page
    people = re.search(r'<ul class="review-list" id="review-people".*?</ul>', page, re.S)
    assert people and f"Ana Lima on {today}: 21 stamps (no days before to compare)" in page
    assert "at least 20 stamps and more than 3 times the person's usual" in page
    card_link = f"/dashboard/{shop.slug}/ledger?card={busy}&day={today}"
    person_link = f"/dashboard/{shop.slug}/ledger?person={ana.id}&day={today}"
    assert card_link in listed.group(0) and person_link in people.group(0)
    card_rows = await owner.get(card_link)
    assert card_rows.status_code == 200
    in_ledger = await event_ids(env, card_events.c.card_id == card.id)
    assert shown_rows(card_rows.text) == in_ledger and len(in_ledger) == 5, "issued, 4 stamps"
    assert f"Card {busy} on {today}" in card_rows.text and "<td" in card_rows.text
    person_rows = await owner.get(person_link)
    assert shown_rows(person_rows.text) == await event_ids(env, card_events.c.staff_id == ana.id)
    assert len(shown_rows(person_rows.text)) == 7 and "Ana Lima" in person_rows.text
    assert "Changes by Ana Lima on" in person_rows.text


async def test_the_ledger_page_is_the_owners_and_refuses_incomplete_links(
    pages: Pages, env: Env
) -> None:
    shop, key = await pages.shop()
    other, _ = await pages.shop()
    theirs = (await env.service.issuing.issue_card(other, "test")).card.serial
    await env.service.changes.stamp(other, theirs, 1, actor="api", idempotency_key=None)
    today = datetime.now(UTC).date().isoformat()
    stranger = pages.browser()
    path = f"/dashboard/{shop.slug}/ledger?card={theirs}&day={today}"
    assert (await stranger.get(path)).status_code == 303, "signed out: to the sign-in"
    owner, _ = await signed_in_owner(pages, shop, key)
    foreign = await owner.get(path)
    assert foreign.status_code == 200 and shown_rows(foreign.text) == []
    assert "No ledger rows on this day." in foreign.text, "another shop's card shows nothing"
    for query in (
        "day=" + today,
        f"card={theirs}",
        "card=X&person=1&day=" + today,
        "person=abc&day=" + today,
        "card=X&day=2027-02-30",
        "card=X&day=yesterday",
    ):
        refused = await owner.get(f"/dashboard/{shop.slug}/ledger?{query}")
        assert refused.status_code == 422 and "review link is incomplete" in refused.text, query
    french = await owner.get(f"{path}&lang=fr")
    assert "Aucune ligne du journal" in french.text
    assert f'href="?card={theirs}&amp;day={today}&amp;lang=de"' in french.text, "keeps its query"


def shown_rows(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr role="row" id="event-(\d+)"', page)]


async def event_ids(env: Env, where: object) -> list[int]:
    start = datetime.combine(datetime.now(UTC).date(), datetime.min.time(), tzinfo=UTC)
    async with env.service.store.reading() as conn:
        query = (
            card_events.select()
            .with_only_columns(card_events.c.id)
            .where(where, card_events.c.created_at >= start)  # type: ignore[arg-type]
            .order_by(card_events.c.id)
        )
        return [int(row[0]) for row in (await conn.execute(query)).all()]


# --- settings ----------------------------------------------------------------------------------


async def test_dashboard_rules_set_the_fraud_controls_and_mark_a_bad_one(pages: Pages) -> None:
    shop, key = await pages.shop()
    owner, token = await signed_in_owner(pages, shop, key)
    path = f"/dashboard/{shop.slug}/program"
    rules = {"daily_cap": "", "messages_per_week": "2", "holdout_percent": "10"}
    rules |= {"welcome_stamps": "0", "csrf": token}
    fraud = {
        "fraud_controls": "1",
        "stamp_cooldown_minutes": "0",
        "staff_daily_stamps": "",
        "review_card_stamps": "5",
    }
    bad = await owner.post(path, data={**rules, **fraud})
    assert bad.status_code == 422
    field = re.search(
        r'<input id="rule-stamp_cooldown_minutes"[^>]*>\s*<p class="error"[^>]*>'
        r"([^<]*)</p>",
        bad.text,
    )
    assert field and "please a whole number from 1 to 1440" in field.group(1), bad.text
    assert 'aria-invalid="true"' in field.group(0) and 'value="0"' in field.group(0)
    assert bad.text.count('id="rules-error"') == 1
    too_many = {**fraud, "stamp_cooldown_minutes": "", "review_card_stamps": "101"}
    assert (await owner.post(path, data={**rules, **too_many})).status_code == 422
    blank = {**fraud, "stamp_cooldown_minutes": "", "review_card_stamps": ""}
    assert (await owner.post(path, data={**rules, **blank})).status_code == 422, "it is required"
    good = {
        "fraud_controls": "1",
        "stamp_cooldown_minutes": "30",
        "staff_daily_stamps": "200",
        "review_card_stamps": "8",
    }
    saved = await owner.post(path, data={**rules, **good})
    assert saved.status_code == 303, saved.text
    program = (await pages.service.shops.shop(shop.slug)).program
    assert (program.stamp_cooldown_minutes, program.staff_daily_stamps) == (30, 200)
    assert program.review_card_stamps == 8
    page = (await owner.get(saved.headers["location"])).text
    assert re.search(r'name="stamp_cooldown_minutes"[^>]*value="30"', page)
    cleared = {**good, "stamp_cooldown_minutes": "", "staff_daily_stamps": ""}
    assert (await owner.post(path, data={**rules, **cleared})).status_code == 303
    program = (await pages.service.shops.shop(shop.slug)).program
    assert (program.stamp_cooldown_minutes, program.staff_daily_stamps) == (None, None)
    await owner.post(path, data=rules)  # an older page without the fields keeps them
    assert (await pages.service.shops.shop(shop.slug)).program.review_card_stamps == 8


async def test_shop_settings_sets_and_clears_the_fraud_controls(env: Env) -> None:
    shop, _ = await env.service.shops.create_shop(
        name="Kiosk", stamps=10, reward="1 Tee", slug=f"kiosk-{secrets.token_hex(4)}"
    )
    cli = passes_env(env.settings.database_url, env.settings.certs_dir)
    base = ("shop", "settings", "--shop", shop.slug)

    def settings(*options: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        return run(cli, *base, *options, ok=ok)

    shown = await asyncio.to_thread(
        settings,
        "--stamp-cooldown",
        "10",
        "--staff-daily-stamps",
        "300",
        "--review-card-stamps",
        "7",
    )
    assert "stamp cooldown:    10 minutes per card" in shown.stdout
    assert "stamps per person: at most 300 a day" in shown.stdout
    assert "review cards over: 7 stamps a day" in shown.stdout
    bad = await asyncio.to_thread(settings, "--stamp-cooldown", "0", ok=False)
    assert bad.returncode == 1 and "stamp_cooldown_minutes must be 1 to 1440" in bad.stderr
    bad = await asyncio.to_thread(settings, "--review-card-stamps", "101", ok=False)
    assert bad.returncode == 1 and "review_card_stamps must be 1 to 100" in bad.stderr
    cleared = await asyncio.to_thread(settings, "--no-stamp-cooldown", "--no-staff-daily-stamps")
    assert "stamp cooldown:    none" in cleared.stdout
    assert "stamps per person: no limit" in cleared.stdout
    assert "review cards over: 7 stamps a day" in cleared.stdout, "the others stay"
