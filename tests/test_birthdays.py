"""Birthday bonuses: the customer gives day and month on the card page (with consent), the
worker's job gives the owner's bonus once a year on or just before the day, catches up after
downtime, never after erasure, and once with two workers on PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from datetime import date, timedelta

import httpx
import pytest

from passes.birthdays import Birthdays, local_day
from passes.program import BadSetting, ProgramChange
from passes.store import Store
from tests.api_calls import stamp
from tests.conftest import BASE_URL, Env, auth
from tests.pages_client import Pages, csrf_of, signed_in_owner
from tests.pkpass_check import verify_pkpass

BONUS = 2


async def _shop(env: Env, days_before: int = 0) -> tuple[str, str]:
    key = await env.new_shop()
    shop = await env.service.shops.authenticate(key)
    birthday = {"birthday_bonus_stamps": BONUS, "birthday_days_before": days_before}
    await env.service.shops.change_program(shop, ProgramChange(birthday=birthday))
    return shop.slug, key


async def _card_with_birthday(env: Env, key: str, birthday: date) -> dict[str, str]:
    """A new card whose holder gives `birthday` on their card page, as a phone would."""
    card = (await env.client.post("/api/v1/cards", headers=auth(key))).json()
    transport = httpx.ASGITransport(app=env.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as phone:
        page = await phone.get(card["urls"]["card"])
        assert 'id="birthday"' in page.text
        token = csrf_of(page)
        form = {"csrf": token, "day": str(birthday.day), "month": str(birthday.month)}
        sent = await phone.post(f"{card['urls']['card']}/birthday", data=form | {"consent": "yes"})
        assert sent.status_code == 303 and sent.headers["location"].endswith("saved#birthday")
    return card


async def _stamps(env: Env, key: str, serial: str) -> int:
    read = await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))
    return int(read.json()["stamps"])


async def _total(env: Env, key: str, serial: str) -> tuple[int, int]:
    """The card's stamps ever and its rewards due."""
    read = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
    return int(read["total_stamps"]), int(read["rewards_available"])


def _today(env: Env) -> date:
    return local_day(env.clock())


async def test_the_bonus_comes_on_the_day_once_a_year(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = await _shop(env)
    card = await _card_with_birthday(env, key, _today(env) + timedelta(days=3))
    serial = card["serial"]
    job = Birthdays(env.service.store, clock=env.clock)
    await job.run()
    assert await _stamps(env, key, serial) == 0, "not before the day"
    monkeypatch.setattr(env.clock, "ahead", timedelta(days=3))
    await job.run()
    await job.run()
    assert await _stamps(env, key, serial) == BONUS, "once"
    monkeypatch.setattr(env.clock, "ahead", timedelta(days=4))
    await job.run()
    assert await _stamps(env, key, serial) == BONUS
    pkpass = await env.client.get(card["urls"]["apple"])
    pass_json = verify_pkpass(pkpass.content, env.settings.certs_dir / "wwdr.pem")
    notice = {f["key"]: f for f in pass_json["storeCard"]["backFields"]}["notice"]
    assert notice["label"] == "notice_birthday_label"
    assert notice["changeMessage"] == "notice_birthday_changed"
    assert notice["value"] == f"{BONUS} / 10"
    monkeypatch.setattr(env.clock, "ahead", timedelta(days=3 + 366))
    await job.run()
    assert await _stamps(env, key, serial) == 2 * BONUS, "again the next year"


async def test_stamps_expired_by_the_birthday_go_before_the_gift_comes(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on a stamp: what expired is recorded first, so the gift does not revive old stamps."""
    _, key = await _shop(env)
    shop = await env.service.shops.authenticate(key)
    expiry = ProgramChange(limits={"stamp_expiry_days": 30})
    await env.service.shops.change_program(shop, expiry)
    card = await _card_with_birthday(env, key, _today(env) + timedelta(days=40))
    await stamp(env, key, card["serial"], 3)
    monkeypatch.setattr(env.clock, "ahead", timedelta(days=40))
    await Birthdays(env.service.store, clock=env.clock).run()
    read = (await env.client.get(f"/api/v1/cards/{card['serial']}", headers=auth(key))).json()
    assert (read["stamps"], read["stamps_expired"]) == (BONUS, 3)


async def test_the_next_reward_as_the_gift_falls_due_on_the_day_once_a_year(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await env.new_shop()
    shop = await env.service.shops.authenticate(key)
    await env.service.shops.change_program(shop, ProgramChange(birthday_gift="reward"))
    card = await _card_with_birthday(env, key, _today(env) + timedelta(days=1))
    serial = card["serial"]
    await stamp(env, key, serial, count=3)
    job = Birthdays(env.service.store, clock=env.clock)
    await job.run()
    assert await _total(env, key, serial) == (3, 0), "not before the day"
    monkeypatch.setattr(env.clock, "ahead", timedelta(days=1))
    await job.run()
    await job.run()
    assert await _total(env, key, serial) == (10, 1), "the 7 missing stamps, once"
    pkpass = await env.client.get(card["urls"]["apple"])
    pass_json = verify_pkpass(pkpass.content, env.settings.certs_dir / "wwdr.pem")
    notice = {f["key"]: f for f in pass_json["storeCard"]["backFields"]}["notice"]
    assert notice["label"] == "notice_birthday_reward_label"
    assert notice["changeMessage"] == "notice_birthday_reward_changed"
    assert notice["value"] == shop.program.reward
    fields = pass_json["storeCard"]
    changing = [f for group in fields.values() for f in group if f.get("changeMessage")]
    assert changing == [notice], "one field announces, so Wallet shows its text"
    with zipfile.ZipFile(io.BytesIO(pkpass.content)) as archive:
        strings = archive.read("de.lproj/pass.strings").decode()
    greeting = "Alles Gute zum Geburtstag! Ihre Prämie ist bereit: %@"
    assert f'"notice_birthday_reward_changed" = "{greeting}";' in strings
    monkeypatch.setattr(env.clock, "ahead", timedelta(days=3))
    await job.run()
    assert await _total(env, key, serial) == (10, 1), "not again in the catch-up days"
    monkeypatch.setattr(env.clock, "ahead", timedelta(days=1 + 366))
    await job.run()
    assert await _total(env, key, serial) == (20, 2), "the next reward again the next year"


async def test_days_before_and_a_worker_down_on_the_day(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = await _shop(env, days_before=3)
    soon = await _card_with_birthday(env, key, _today(env) + timedelta(days=3))
    missed = await _card_with_birthday(env, key, _today(env) - timedelta(days=5))
    too_late = await _card_with_birthday(env, key, _today(env) - timedelta(days=8))
    await Birthdays(env.service.store, clock=env.clock).run()
    assert await _stamps(env, key, soon["serial"]) == BONUS, "three days before"
    assert await _stamps(env, key, missed["serial"]) == BONUS, "caught up"
    assert await _stamps(env, key, too_late["serial"]) == 0, "not a week late"


async def test_never_to_a_card_whose_data_was_erased(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = await _shop(env)
    card = await _card_with_birthday(env, key, _today(env) + timedelta(days=1))
    serial = card["serial"]
    url = f"/api/v1/cards/{serial}/personal-data"
    shown = (await env.client.get(url, headers=auth(key))).json()["personal_data"]
    birthday = _today(env) + timedelta(days=1)
    assert shown["birthday"] == f"--{birthday.month:02d}-{birthday.day:02d}"
    erased = await env.client.delete(url, headers=auth(key))
    assert erased.json()["erased"] is True
    monkeypatch.setattr(env.clock, "ahead", timedelta(days=1))
    await Birthdays(env.service.store, clock=env.clock).run()
    assert await _stamps(env, key, serial) == 0
    assert (await env.client.get(url, headers=auth(key))).json()["personal_data"] is None


async def test_the_card_page_refuses_a_day_that_does_not_exist_or_no_consent(env: Env) -> None:
    _, key = await _shop(env)
    card = (await env.client.post("/api/v1/cards", headers=auth(key))).json()
    transport = httpx.ASGITransport(app=env.app)
    async with httpx.AsyncClient(
        transport=transport, base_url=BASE_URL, headers={"Accept-Language": "de"}
    ) as phone:
        page = await phone.get(card["urls"]["card"])
        assert 'for="birthday-day"' in page.text and 'for="birthday-consent"' in page.text
        token = csrf_of(page)
        target = f"{card['urls']['card']}/birthday"
        for form in ({"day": "31", "month": "2", "consent": "yes"}, {"day": "1", "month": "5"}):
            sent = await phone.post(target, data=form | {"csrf": token})
            assert sent.headers["location"].endswith("invalid#birthday")
        shown = await phone.get(sent.headers["location"])
        assert 'role="status"' in shown.text and "Häkchen" in shown.text
        sent = await phone.post(
            target, data={"csrf": token, "day": "29", "month": "2", "consent": "yes"}
        )
        shown = await phone.get(sent.headers["location"])
        assert "Ihr Geburtstag: 29.02." in shown.text
        await phone.post(target, data={"csrf": token, "action": "remove"})
        shown = await phone.get(card["urls"]["card"])
        assert "Ihr Geburtstag:" not in shown.text


async def test_the_rules_form_chooses_the_next_reward_and_the_card_page_offers_it(
    pages: Pages,
) -> None:
    shop, key = await pages.shop()
    owner, token = await signed_in_owner(pages, shop, key)
    page = (await owner.get(f"/dashboard/{shop.slug}")).text
    assert '<option value="0" selected>' in page and 'for="rule-birthday_gift"' in page
    rules = {"messages_per_week": "2", "holdout_percent": "10", "welcome_stamps": "0"}
    form = {"csrf": token, **rules, "birthday_days_before": "2"}
    path = f"/dashboard/{shop.slug}/program"
    bad = await owner.post(path, data=form | {"birthday_gift": "cake"})
    assert bad.status_code == 422
    assert re.search(r'id="rule-birthday_gift"[^>]*aria-invalid="true"', bad.text)
    saved = await owner.post(path, data=form | {"birthday_gift": "3"})
    program = (await pages.service.shops.shop(shop.slug)).program
    assert (program.birthday_gift, program.birthday_bonus_stamps) == ("stamps", 3)
    saved = await owner.post(path, data=form | {"birthday_gift": "reward"})
    assert saved.status_code == 303, saved.text
    page = (await owner.get(saved.headers["location"])).text
    assert '<option value="reward" selected>' in page and "3 bonus stamps</option>" in page
    program = (await pages.service.shops.shop(shop.slug)).program
    assert (program.birthday_gift, program.birthday_days_before) == ("reward", 2)
    issued = await pages.service.issuing.issue_card(shop, "test")
    phone = pages.browser(**{"Accept-Language": "en"})
    card_page = await phone.get(f"/c/{issued.card.page_secret}")
    assert "every year we give you your next reward" in card_page.text


async def test_the_owner_setting_has_limits(env: Env) -> None:
    key = await env.new_shop()
    shop = await env.service.shops.authenticate(key)
    for birthday in ({"birthday_bonus_stamps": 6}, {"birthday_days_before": 8}):
        with pytest.raises(BadSetting):
            await env.service.shops.change_program(shop, ProgramChange(birthday=birthday))
    with pytest.raises(BadSetting):
        await env.service.shops.change_program(shop, ProgramChange(birthday_gift="cake"))


async def test_two_workers_give_each_birthday_once(env: Env) -> None:
    if not env.settings.database_url.startswith("postgresql"):
        pytest.skip("several workers share a database on PostgreSQL only")
    _, key = await _shop(env)
    cards = [await _card_with_birthday(env, key, _today(env)) for _ in range(6)]
    stores = [Store(env.settings.database_url) for _ in range(3)]
    try:
        jobs = [Birthdays(store, clock=env.clock) for store in stores]
        await asyncio.gather(*(job.run() for job in jobs))
    finally:
        for store in stores:
            await store.close()
    for card in cards:
        assert await _stamps(env, key, card["serial"]) == BONUS
