"""Staff PIN lock-out: the guesser is locked, not the shop; counted before the PIN is checked,
so parallel sign-ins across several server processes never get more than five checks."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright
from starlette.applications import Starlette

from passes.app import create_app
from passes.config import Settings
from passes.lockout import MAX_TRIES, SHOP_TRIES
from passes.service import Service
from passes.staff import StaffPins
from passes.store import Store
from passes.store.shops import ShopRow
from tests.browser import launch, new_shop, phone, screenshot
from tests.conftest import BASE_URL, Env
from tests.live import passes_env, run, server
from tests.pages_client import csrf_of, new_slug

PIN = "4711"
WRONG = "0000"


@dataclass
class Shops:
    """A fresh app on the session's database; clients from any address."""

    app: Starlette
    service: Service
    clients: list[httpx.AsyncClient]

    def client(self, address: str = "203.0.113.1") -> httpx.AsyncClient:
        """One browser (its own cookie jar) at `address`."""
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        made = httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, headers={"Accept-Language": "en"}
        )
        self.clients.append(made)
        return made

    async def shop(self) -> ShopRow:
        shop, _ = await self.service.shops.create_shop(
            name="Café Sonne", stamps=10, reward="1 Vita Mix gratis", slug=new_slug()
        )
        await StaffPins(self.service.store).set_pin(shop, PIN)
        return shop


@pytest.fixture
async def shops(env: Env) -> AsyncIterator[Shops]:
    app = create_app(env.settings, env.identity)
    made = Shops(app, app.state.service, [])
    yield made
    for client in made.clients:
        await client.aclose()
    await app.state.service.store.close()


async def try_pin(client: httpx.AsyncClient, shop: ShopRow, pin: str) -> httpx.Response:
    """Open the sign-in page (once per browser) and send `pin`."""
    token = client.cookies.get("passes_csrf") or csrf_of(await client.get(f"/staff/{shop.slug}"))
    return await client.post(f"/staff/{shop.slug}/login", data={"csrf": token, "pin": pin})


async def test_a_guesser_locks_their_address_not_the_shop(shops: Shops) -> None:
    shop = await shops.shop()
    guesser = shops.client("203.0.113.7")
    answers = [await try_pin(guesser, shop, WRONG) for _ in range(MAX_TRIES)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert "Wrong PIN. 4 tries left" in answers[0].text
    assert "Wrong PIN. 1 try left" in answers[3].text
    refused = await try_pin(guesser, shop, PIN)
    assert refused.status_code == 429, "the right PIN from the guesser's address waits too"
    assert "locked for 15 minutes" in refused.text
    assert f"passes shop pin --shop {shop.slug}" in refused.text, "the page says what to do"
    assert 14 * 60 < int(refused.headers["retry-after"]) <= 15 * 60
    same_network = shops.client("203.0.113.7")
    assert (await try_pin(same_network, shop, PIN)).status_code == 429, "a new device there too"
    elsewhere = shops.client("198.51.100.20")
    signed = await try_pin(elsewhere, shop, PIN)
    assert signed.status_code == 303, "the right PIN from another address signs in"


async def test_a_device_that_signed_in_before_is_not_locked_by_a_guesser_on_its_network(
    shops: Shops,
) -> None:
    shop = await shops.shop()
    staff_phone = shops.client("203.0.113.9")
    assert (await try_pin(staff_phone, shop, PIN)).status_code == 303
    token = staff_phone.cookies["passes_csrf"]
    await staff_phone.post(f"/staff/{shop.slug}/logout", data={"csrf": token})
    guesser = shops.client("203.0.113.9")  # the shop's Wi-Fi: one public address
    for _ in range(MAX_TRIES + 2):
        await try_pin(guesser, shop, WRONG)
    assert (await try_pin(guesser, shop, PIN)).status_code == 429
    assert (await try_pin(staff_phone, shop, PIN)).status_code == 303


async def test_a_new_pin_lifts_every_lock(shops: Shops) -> None:
    shop = await shops.shop()
    guesser = shops.client("203.0.113.11")
    for _ in range(MAX_TRIES):
        await try_pin(guesser, shop, WRONG)
    assert (await try_pin(guesser, shop, PIN)).status_code == 429
    await StaffPins(shops.service.store).set_pin(shop, "9876")
    assert (await try_pin(guesser, shop, "9876")).status_code == 303


@pytest.mark.slow
async def test_the_shop_wide_ceiling_only_slows_fresh_devices(shops: Shops) -> None:
    shop = await shops.shop()
    known = shops.client("198.51.100.1")
    assert (await try_pin(known, shop, PIN)).status_code == 303
    await known.post(f"/staff/{shop.slug}/logout", data={"csrf": known.cookies["passes_csrf"]})
    # Many addresses, each within its own limit: a distributed guess.
    for n in range(SHOP_TRIES):
        answer = await try_pin(shops.client(f"203.0.113.{100 + n // 4}"), shop, WRONG)
        assert answer.status_code in (401, 429)
    slowed = await try_pin(shops.client("192.0.2.50"), shop, PIN)
    assert slowed.status_code == 429
    assert "try again in" in slowed.text and "Devices that signed in here before" in slowed.text
    assert 0 < int(slowed.headers["retry-after"]) <= 60, "a minute at most, never a lock-out"
    assert (await try_pin(known, shop, PIN)).status_code == 303, "known devices are not slowed"


@pytest.mark.slow
def test_staff_sign_in_page_says_how_long_and_what_to_do(tmp_path: Path) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", tmp_path / "certs")
    run(env, "init")
    slug, _ = new_shop(env, PIN)
    with server(env, "--no-worker") as (base, _), sync_playwright() as playwright:
        browser = launch(playwright)
        staff = phone(browser, "en-US").new_page()
        staff.goto(f"{base}/staff/{slug}")
        staff.get_by_label("PIN").fill(PIN)
        staff.get_by_role("button", name="Sign in").click()
        staff.get_by_role("button", name="Sign out").click()
        guesser = phone(browser, "en-US").new_page()
        guesser.goto(f"{base}/staff/{slug}")
        for _ in range(MAX_TRIES):
            guesser.get_by_label("PIN").fill(WRONG)
            guesser.get_by_role("button", name="Sign in").click()
        alert = guesser.get_by_role("alert")
        expect(alert).to_contain_text("sign-in here is locked for 15 minutes")
        expect(alert).to_contain_text(f"passes shop pin --shop {slug}")
        expect(alert).to_contain_text("Devices that signed in here before are not locked")
        screenshot(guesser, "staff-locked-what-to-do")
        staff.get_by_label("PIN").fill(PIN)
        staff.get_by_role("button", name="Sign in").click()
        expect(staff.get_by_role("button", name="Sign out")).to_be_visible()
        browser.close()


@dataclass
class Trial:
    statuses: list[int]
    right_at: int

    @property
    def wrong(self) -> int:
        """Wrong PINs answered as such (the fifth wrong one is answered with the lock, 429)."""
        return self.statuses.count(401)

    @property
    def accepted(self) -> bool:
        return 303 in self.statuses


@pytest.fixture
def three_servers(postgres_url: str, certs_dir: Path) -> Iterator[list[str]]:
    """Three `passes serve` processes on one PostgreSQL database."""
    env = passes_env(postgres_url, certs_dir)
    with ExitStack() as stack:
        # One after another: each migrates the database as it starts.
        yield [stack.enter_context(server(env, "--no-worker"))[0] for _ in range(3)]


@pytest.mark.slow
def test_parallel_sign_ins_across_three_servers_get_no_more_than_five_checks(
    three_servers: list[str], postgres_url: str, certs_dir: Path
) -> None:
    settings = Settings(database_url=postgres_url, base_url=BASE_URL, certs_dir=certs_dir)
    trials = asyncio.run(_race(settings, three_servers, trials=3))
    for trial in trials:
        # At most five PINs checked: four wrong ones answered 401, then either the fifth wrong
        # one starts the lock or the right one is among the five; every other try is refused.
        assert trial.wrong <= MAX_TRIES - 1, trial
        assert trial.wrong + trial.accepted <= MAX_TRIES, trial
        assert trial.statuses.count(429) >= len(trial.statuses) - MAX_TRIES, trial
    print("right PIN at, accepted:", [(t.right_at, t.accepted) for t in trials])


async def _race(settings: Settings, bases: list[str], trials: int) -> list[Trial]:
    store = Store(settings.database_url)
    service = Service(settings, store)
    try:
        return [await _one_race(service, bases) for _ in range(trials)]
    finally:
        await store.close()


async def _one_race(service: Service, bases: list[str]) -> Trial:
    """30 parallel sign-ins from one address over the three servers; the right PIN is 6th-11th."""
    shop, _ = await service.shops.create_shop(
        name="Café", stamps=10, reward="1 Kaffee", slug=new_slug()
    )
    await StaffPins(service.store).set_pin(shop, PIN)
    right_at = random.randint(6, 11)
    pins = [PIN if n == right_at else f"{1000 + n}" for n in range(1, 31)]
    # A guesser keeps no cookies: each try is a fresh browser (the CSRF pair made up).
    clients = [
        httpx.AsyncClient(base_url=bases[n % len(bases)], timeout=60, cookies={"passes_csrf": "t"})
        for n in range(len(pins))
    ]

    async def attempt(client: httpx.AsyncClient, pin: str) -> int:
        form = {"csrf": "t", "pin": pin}
        return (await client.post(f"/staff/{shop.slug}/login", data=form)).status_code

    try:
        statuses = await asyncio.gather(*map(attempt, clients, pins))
    finally:
        for client in clients:
            await client.aclose()
    return Trial(list(statuses), right_at)
