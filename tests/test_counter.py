"""The counter page over HTTP: a manager signs the screen in, a customer's phone scans its
code and stamps its own card once; expired, replayed, another shop's, another card's and
forged codes stamp nothing."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from passes.people import People, Person
from passes.store.branches import Location
from passes.store.people import names_of
from passes.store.shops import ShopRow
from passes.store.tables import card_events, cards, staff_days
from tests.conftest import Env
from tests.pages_client import browser, csrf_of, new_slug

PIN = "4321"


@dataclass
class Counter:
    """A shop, its manager and the tablet signed in as its counter."""

    shop: ShopRow
    manager: Person
    tablet: httpx.AsyncClient

    async def code(self) -> str:
        """The code the screen shows now."""
        answer = await self.tablet.get(f"/counter/{self.shop.slug}/now")
        assert answer.status_code == 200, answer.text
        code: str = answer.json()["code"]
        return code


async def new_shop(env: Env) -> ShopRow:
    shop, _ = await env.service.shops.create_shop(
        name="Café Mond", stamps=10, reward="1 Vita Mix gratis", slug=new_slug()
    )
    return shop


async def sign_in(
    env: Env, opened: list[httpx.AsyncClient], shop: ShopRow, name: str, **extra: str
) -> tuple[httpx.AsyncClient, httpx.Response]:
    tablet = browser(env, opened, "en")
    token = csrf_of(await tablet.get(f"/counter/{shop.slug}"))
    fields = {"csrf": token, "name": name, "pin": PIN, **extra}
    return tablet, await tablet.post(f"/counter/{shop.slug}/login", data=fields)


async def counter(
    env: Env, opened: list[httpx.AsyncClient], shop: ShopRow | None = None
) -> Counter:
    shop = shop or await new_shop(env)
    manager = await People(env.service.store).add(shop, "Mia", PIN, "manager")
    tablet, signed = await sign_in(env, opened, shop, "mia")
    assert signed.status_code == 303, signed.text
    return Counter(shop, manager, tablet)


async def phone_with_card(
    env: Env, opened: list[httpx.AsyncClient], shop: ShopRow
) -> tuple[httpx.AsyncClient, str]:
    """A phone that opened its card page once; returns it and the card's serial."""
    view = await env.service.issuing.issue_card(shop, "test")
    phone = browser(env, opened, "en")
    assert (await phone.get(f"/c/{view.card.page_secret}")).status_code == 200
    return phone, view.card.serial


async def scan(phone: httpx.AsyncClient, shop: ShopRow, code: str) -> httpx.Response:
    """What the phone's camera does: open the link, then send the page's form."""
    path = f"/counter/{shop.slug}/s/{code}"
    page = await phone.get(path)
    if page.status_code != 200:
        return page
    return await phone.post(path, data={"csrf": csrf_of(page), "claim": claim_of(page)})


def claim_of(page: httpx.Response) -> str:
    found = re.search(r'name="claim" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def events(env: Env, shop: ShopRow) -> list[dict[str, object]]:
    """The shop's stamps on the ledger."""
    query = select(card_events).where(
        card_events.c.shop_id == shop.id, card_events.c.kind == "stamp"
    )
    async with env.service.store.reading() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


async def test_only_a_manager_signs_the_counter_in(
    env: Env, browsers: list[httpx.AsyncClient]
) -> None:
    shop = await new_shop(env)
    nobody = await browser(env, browsers, "en").get(f"/counter/{shop.slug}")
    assert nobody.status_code == 409
    assert "no manager yet" in nobody.text and 'name="pin"' not in nobody.text
    people = People(env.service.store)
    await people.add(shop, "Ben", PIN, "staff")
    await people.add(shop, "Mia", PIN, "manager")
    _, staff = await sign_in(env, browsers, shop, "Ben")
    assert staff.status_code == 403
    assert "Only a manager can sign in the counter screen" in staff.text
    tablet, wrong = await sign_in(env, browsers, shop, "Mia", pin="0000")
    assert wrong.status_code == 401 and "Wrong PIN" in wrong.text
    assert (await tablet.get(f"/counter/{shop.slug}/now")).status_code == 401
    tablet, signed = await sign_in(env, browsers, shop, "Mia")
    assert signed.status_code == 303
    screen = await tablet.get(f"/counter/{shop.slug}")
    assert screen.status_code == 200 and "<svg" in screen.text and "Mia" in screen.text
    assert "Stamps at this counter" in screen.text
    german = await tablet.get(f"/counter/{shop.slug}?lang=de")
    assert "Stempel an dieser Theke" in german.text


async def test_a_scanned_code_stamps_the_phones_card_once(
    env: Env, browsers: list[httpx.AsyncClient]
) -> None:
    till = await counter(env, browsers)
    phone, serial = await phone_with_card(env, browsers, till.shop)
    code = await till.code()
    stamped = await scan(phone, till.shop, code)
    assert stamped.status_code == 200, stamped.text
    assert "Stamped!" in stamped.text and "1 of 10 stamps" in stamped.text
    [event] = await events(env, till.shop)
    assert event["actor"] == "counter" and event["staff_id"] == till.manager.id
    assert event["branch_id"] is None and event["count"] == 1
    async with env.service.store.reading() as conn:
        assert await names_of(conn, {till.manager.id}) == {till.manager.id: "Mia"}
    # The same code again: refused on opening, and when the old form is sent again.
    again = await phone.get(f"/counter/{till.shop.slug}/s/{code}")
    assert again.status_code == 409 and "used for your card already" in again.text
    assert (await scan(phone, till.shop, code)).status_code == 409
    assert len(await events(env, till.shop)) == 1
    # The screen lists the stamp: the card's last four characters and its stamps now.
    now = (await till.tablet.get(f"/counter/{till.shop.slug}/now")).json()
    assert [(s["card"], s["stamps"]) for s in now["stamps"]] == [(serial[-4:], 1)]
    after = now["stamps"][0]["id"]
    later = await till.tablet.get(f"/counter/{till.shop.slug}/now?after={after}&have={now['code']}")
    assert later.json()["stamps"] == [] and "svg" not in later.json()


async def test_two_sends_of_one_claim_stamp_once(
    env: Env, browsers: list[httpx.AsyncClient]
) -> None:
    till = await counter(env, browsers)
    phone, _ = await phone_with_card(env, browsers, till.shop)
    path = f"/counter/{till.shop.slug}/s/{await till.code()}"
    page = await phone.get(path)
    fields = {"csrf": csrf_of(page), "claim": claim_of(page)}
    answers = await asyncio.gather(*(phone.post(path, data=fields) for _ in range(2)))
    assert {answer.status_code for answer in answers} <= {200, 409}
    assert len(await events(env, till.shop)) == 1


async def test_codes_that_stamp_nothing(
    env: Env, browsers: list[httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    till = await counter(env, browsers)
    phone, _ = await phone_with_card(env, browsers, till.shop)
    code = await till.code()
    slug = till.shop.slug
    # Forged: a changed tag, and text that is no code at all.
    forged = code[:-2] + ("AA" if not code.endswith("AA") else "BB")
    for text in (forged, "not-a-code", "A" * 200):
        answer = await scan(phone, till.shop, text)
        assert answer.status_code == 400, text
        assert "not a counter code of ours" in answer.text
    # Another shop's: a code of its counter sent to this shop's address.
    other = await counter(env, browsers)
    answer = await scan(phone, till.shop, await other.code())
    assert answer.status_code == 403 and "another shop" in answer.text
    # Another card's: a form made for this phone's card, sent by a phone with another card.
    path = f"/counter/{slug}/s/{code}"
    claim = claim_of(await phone.get(path))
    thief, _ = await phone_with_card(env, browsers, till.shop)
    token = csrf_of(await thief.get(f"/counter/{slug}"))
    answer = await thief.post(path, data={"csrf": token, "claim": claim})
    assert answer.status_code == 403 and "opened for another card" in answer.text
    # No card named on this phone: where to get one.
    stranger = browser(env, browsers, "en")
    answer = await scan(stranger, till.shop, code)
    assert answer.status_code == 403 and "Open your card page once" in answer.text
    assert f'href="/join/{slug}"' in answer.text
    # Expired: 45 seconds on, past the code's window and its grace.
    monkeypatch.setattr(env.clock, "ahead", timedelta(seconds=45))
    answer = await scan(phone, till.shop, code)
    assert answer.status_code == 410 and "scan the code on the screen" in answer.text
    assert await events(env, till.shop) == []
    assert await events(env, other.shop) == []


async def test_a_removed_manager_or_signing_out_ends_the_codes(
    env: Env, browsers: list[httpx.AsyncClient]
) -> None:
    till = await counter(env, browsers)
    phone, _ = await phone_with_card(env, browsers, till.shop)
    code = await till.code()
    await People(env.service.store).remove(till.shop, "Mia")
    answer = await scan(phone, till.shop, code)
    assert answer.status_code == 410 and "counter screen was signed out" in answer.text
    assert (await till.tablet.get(f"/counter/{till.shop.slug}/now")).status_code == 401
    screen = await till.tablet.get(f"/counter/{till.shop.slug}")
    assert 'id="till-qr"' not in screen.text and "no manager yet" in screen.text
    # Signing out: the same.
    other = await counter(env, browsers)
    code = await other.code()
    logout = await other.tablet.post(
        f"/counter/{other.shop.slug}/logout",
        data={"csrf": csrf_of(await other.tablet.get(f"/counter/{other.shop.slug}"))},
    )
    assert logout.status_code == 303
    phone, _ = await phone_with_card(env, browsers, other.shop)
    assert (await scan(phone, other.shop, code)).status_code == 410
    assert await events(env, till.shop) == [] and await events(env, other.shop) == []


async def test_a_branch_counter_stamps_for_its_branch(
    env: Env, browsers: list[httpx.AsyncClient]
) -> None:
    shop = await new_shop(env)
    for address in ("Hauptstraße 1", "Bahnhof 2"):
        await env.service.shops.add_location(shop, Location(address, 52.5, 13.4))
    first_branch, second_branch = await env.service.shops.branches(shop)
    first, second = first_branch.name, second_branch.id
    manager = await People(env.service.store).add(shop, "Mia", PIN, "manager")
    tablet = browser(env, browsers, "en")
    page = await tablet.get(f"/counter/{shop.slug}")
    assert first in page.text and 'name="branch"' in page.text
    fields = {"csrf": csrf_of(page), "name": "Mia", "pin": PIN}
    missing = await tablet.post(f"/counter/{shop.slug}/login", data=fields)
    assert missing.status_code == 422 and "choose the branch" in missing.text
    fields["branch"] = str(second)
    assert (await tablet.post(f"/counter/{shop.slug}/login", data=fields)).status_code == 303
    till = Counter(shop, manager, tablet)
    phone, _ = await phone_with_card(env, browsers, shop)
    assert (await scan(phone, shop, await till.code())).status_code == 200
    [event] = await events(env, shop)
    assert (event["staff_id"], event["branch_id"]) == (manager.id, second)


async def test_the_rules_refusal_is_shown_and_nothing_stamped(
    env: Env, browsers: list[httpx.AsyncClient]
) -> None:
    till = await counter(env, browsers)
    phone, serial = await phone_with_card(env, browsers, till.shop)
    await env.service.changes.void(till.shop, serial, actor="test")
    answer = await scan(phone, till.shop, await till.code())
    assert answer.status_code == 409
    assert "This card is void." in answer.text and "Open my card" in answer.text
    assert await events(env, till.shop) == []


async def test_the_card_page_names_its_card_and_offers_the_scan(
    env: Env, browsers: list[httpx.AsyncClient]
) -> None:
    shop = await new_shop(env)
    first = await env.service.issuing.issue_card(shop, "test")
    second = await env.service.issuing.issue_card(shop, "test")
    phone = browser(env, browsers, "en")
    page = await phone.get(f"/c/{first.card.page_secret}")
    cookie = page.headers["set-cookie"].lower()
    assert "passes_card=" in cookie and f"path=/counter/{shop.slug}" in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=34560000" in cookie
    assert "Scan the code at the counter" not in page.text  # no counter screen signed in
    till = await counter(env, browsers, shop)
    # The card opened last is the one the counter stamps.
    page = await phone.get(f"/c/{second.card.page_secret}")
    assert "Scan the code at the counter" in page.text
    assert (await scan(phone, shop, await till.code())).status_code == 200
    [event] = await events(env, shop)
    async with env.service.store.reading() as conn:
        stamped = await conn.execute(select(cards.c.serial).where(cards.c.id == event["card_id"]))
    assert stamped.scalar_one() == second.card.serial


async def test_counter_stamps_name_the_manager_but_are_not_their_own_volume(
    env: Env, browsers: list[httpx.AsyncClient]
) -> None:
    """A customer's scan names the manager who opened the counter on the ledger, but the
    manager's per-person daily limit is for stamps they give by hand."""
    till = await counter(env, browsers)
    till.shop = await env.service.shops.update_program(till.shop, staff_daily_stamps=1)
    for _ in range(2):
        phone, _ = await phone_with_card(env, browsers, till.shop)
        assert (await scan(phone, till.shop, await till.code())).status_code == 200
    assert [event["staff_id"] for event in await events(env, till.shop)] == [till.manager.id] * 2
    async with env.service.store.reading() as conn:
        mine = select(staff_days.c.stamps).where(staff_days.c.shop_id == till.shop.id)
        counted = (await conn.execute(mine)).scalars().all()
    assert counted == []


async def test_a_customer_staying_at_the_screen_gets_one_stamp_per_ten_minutes(
    env: Env, browsers: list[httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each new code is a fresh one, so the counter waits COUNTER_COOLDOWN_MINUTES after the
    card's last stamp even when the shop set no cooldown."""
    till = await counter(env, browsers)
    assert till.shop.program.stamp_cooldown_minutes is None
    phone, _ = await phone_with_card(env, browsers, till.shop)
    assert (await scan(phone, till.shop, await till.code())).status_code == 200
    monkeypatch.setattr(env.clock, "ahead", timedelta(seconds=45))
    again = await scan(phone, till.shop, await till.code())
    assert again.status_code == 409, again.text
    assert "the next stamp is possible in 10 min" in again.text, again.text
    assert len(await events(env, till.shop)) == 1
    monkeypatch.setattr(env.clock, "ahead", timedelta(minutes=10, seconds=30))
    assert (await scan(phone, till.shop, await till.code())).status_code == 200
    assert len(await events(env, till.shop)) == 2
