"""Sessions that end (logout, a new PIN, a new API key), no key material in cookies, key
rotation refused at once, and client addresses from X-Forwarded-For only via trusted proxies."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from starlette.applications import Starlette

from passes.app import create_app
from passes.config import Settings
from passes.errors import ConfigError
from passes.keys import ShopKeys
from passes.program import ProgramChange
from passes.service import Service
from passes.staff import StaffPins
from passes.store.shops import ShopRow
from passes.web.session import load_secret
from tests.api_calls import new_card
from tests.conftest import BASE_URL, Env, auth
from tests.live import passes_env, run, server
from tests.pages_client import csrf_of, new_slug

PIN = "4711"


@dataclass
class Site:
    """A fresh app (its own in-process limits) on the session's database."""

    app: Starlette
    service: Service
    clients: list[httpx.AsyncClient]

    def browser(self, address: str = "203.0.113.1", **headers: str) -> httpx.AsyncClient:
        """One browser, with its own cookie jar, at `address`."""
        transport = httpx.ASGITransport(app=self.app, client=(address, 40000))
        made = httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers)
        self.clients.append(made)
        return made

    async def shop(self) -> tuple[ShopRow, str]:
        shop, key = await self.service.shops.create_shop(
            name="Café Sonne", stamps=10, reward="1 Vita Mix gratis", slug=new_slug()
        )
        await StaffPins(self.service.store).set_pin(shop, PIN)
        return shop, key


@pytest.fixture
async def site(env: Env) -> AsyncIterator[Site]:
    app = create_app(env.settings, env.identity)
    made = Site(app, app.state.service, [])
    yield made
    for client in made.clients:
        await client.aclose()
    await app.state.service.store.close()


async def staff_signed_in(site: Site, shop: ShopRow) -> tuple[httpx.AsyncClient, str]:
    client = site.browser()
    token = csrf_of(await client.get(f"/staff/{shop.slug}"))
    signed = await client.post(f"/staff/{shop.slug}/login", data={"csrf": token, "pin": PIN})
    assert signed.status_code == 303, signed.text
    return client, token


async def owner_signed_in(site: Site, shop: ShopRow, key: str) -> tuple[httpx.AsyncClient, str]:
    client = site.browser()
    token = csrf_of(await client.get(f"/dashboard/{shop.slug}"))
    signed = await client.post(f"/dashboard/{shop.slug}/login", data={"csrf": token, "key": key})
    assert signed.status_code == 303, signed.text
    return client, token


def replay(site: Site, name: str, value: str) -> httpx.AsyncClient:
    """Another browser carrying a copied cookie."""
    thief = site.browser("198.51.100.66")
    thief.cookies.set(name, value)
    return thief


async def test_a_staff_cookie_replayed_after_logout_is_refused(site: Site) -> None:
    shop, _ = await site.shop()
    serial = (await site.service.issuing.issue_card(shop, "test")).card.serial
    staff, token = await staff_signed_in(site, shop)
    copied = staff.cookies["passes_staff"]
    card = f"/staff/{shop.slug}/cards/{serial}"
    assert (await replay(site, "passes_staff", copied).get(card)).status_code == 200
    out = await staff.post(f"/staff/{shop.slug}/logout", data={"csrf": token})
    assert out.status_code == 303
    assert (await replay(site, "passes_staff", copied).get(card)).status_code == 401


async def test_a_new_pin_ends_every_staff_session(site: Site) -> None:
    shop, _ = await site.shop()
    serial = (await site.service.issuing.issue_card(shop, "test")).card.serial
    first, _ = await staff_signed_in(site, shop)
    second, _ = await staff_signed_in(site, shop)
    await StaffPins(site.service.store).set_pin(shop, "9876")
    for staff in (first, second):
        assert (await staff.get(f"/staff/{shop.slug}/cards/{serial}")).status_code == 401


async def test_an_owner_cookie_replayed_after_logout_is_refused(site: Site) -> None:
    shop, key = await site.shop()
    owner, token = await owner_signed_in(site, shop, key)
    copied = owner.cookies["passes_owner"]
    ledger = f"/dashboard/{shop.slug}/ledger.csv"
    assert (await replay(site, "passes_owner", copied).get(ledger)).status_code == 200
    await owner.post(f"/dashboard/{shop.slug}/logout", data={"csrf": token})
    refused = await replay(site, "passes_owner", copied).get(ledger)
    assert refused.status_code == 303, "sent to the sign-in page"


async def test_the_owner_cookie_carries_no_key_material(site: Site, env: Env) -> None:
    shop, key = await site.shop()
    owner, _ = await owner_signed_in(site, shop, key)
    raw = owner.cookies["passes_owner"]
    serializer = URLSafeTimedSerializer(load_secret(env.settings.certs_dir), "passes.session")
    content = str(serializer.loads(raw))
    for secret in (key, key[4:], hashlib.sha256(key.encode()).hexdigest()):
        assert secret not in content and secret not in raw
    assert set(serializer.loads(raw)) == {"sid", "cookie"}


@pytest.mark.slow
async def test_a_rotated_key_is_refused_at_once_and_ends_owner_sessions(
    site: Site, env: Env, database_url: str, certs_dir: Path
) -> None:
    shop, old_key = await site.shop()
    owner, _ = await owner_signed_in(site, shop, old_key)
    # The key is in use: a process that remembered it would go on taking it.
    assert (await env.client.get("/api/v1/stats", headers=auth(old_key))).status_code == 200
    cli = run(passes_env(database_url, certs_dir), "shop", "key", "--shop", shop.slug)
    found = re.search(r"api key: (\S+)", cli.stdout)
    assert found and found.group(1) != old_key
    assert "old key no longer works" in cli.stderr
    new_key = found.group(1)
    refused = await env.client.get("/api/v1/stats", headers=auth(old_key))
    assert refused.status_code == 401
    assert (await env.client.get("/api/v1/stats", headers=auth(new_key))).status_code == 200
    ledger = await owner.get(f"/dashboard/{shop.slug}/ledger.csv")
    assert ledger.status_code == 303, "the dashboard session ended with the old key"
    await owner_signed_in(site, shop, new_key)


async def test_another_process_rotating_the_key_or_changing_the_program_shows_at_once(
    env: Env,
) -> None:
    """Another process (here a second service: its own connections and memory) changes the
    program, then rotates the key, while this one is busy stamping with it: each shows in
    this process's very next requests, many at once sharing their key lookup included."""
    key = await env.new_shop(stamps=10)
    serial = (await new_card(env, key))["serial"]
    path = f"/api/v1/cards/{serial}/stamps"

    async def stamps(with_key: str, times: int = 20) -> list[httpx.Response]:
        one = env.client.post
        return await asyncio.gather(
            *(one(path, json={"count": 1}, headers=auth(with_key)) for _ in range(times))
        )

    assert {answer.status_code for answer in await stamps(key)} == {200}
    other = Service.open(env.settings)
    try:
        shop = await other.shops.authenticate(key)
        await other.shops.change_program(shop, ProgramChange(stamps_required=25))
        assert {answer.json()["stamps_required"] for answer in await stamps(key)} == {25}
        new_key = await ShopKeys(other.store).rotate(shop)
    finally:
        await other.aclose()
    assert {answer.status_code for answer in await stamps(key)} == {401}
    assert {answer.status_code for answer in await stamps(new_key, 1)} == {200}


async def test_forwarded_for_names_the_client_behind_a_trusted_proxy(env: Env) -> None:
    settings = replace(env.settings, trusted_proxies="10.0.0.0/8, ::1")
    app = create_app(settings)
    made = Site(app, app.state.service, [])
    try:
        shop, _ = await made.shop()
        guesser = made.browser("10.1.2.3", **{"X-Forwarded-For": "203.0.113.5"})
        token = csrf_of(await guesser.get(f"/staff/{shop.slug}"))
        for _ in range(5):
            await guesser.post(f"/staff/{shop.slug}/login", data={"csrf": token, "pin": "0000"})
        # Through the same proxy, another customer is another client.
        other = made.browser("10.1.2.3", **{"X-Forwarded-For": "1.2.3.4, 198.51.100.8"})
        token = csrf_of(await other.get(f"/staff/{shop.slug}"))
        signed = await other.post(f"/staff/{shop.slug}/login", data={"csrf": token, "pin": PIN})
        assert signed.status_code == 303
        # And the guesser stays locked whatever it claims before the proxy's entry.
        claims = made.browser("10.1.2.3", **{"X-Forwarded-For": "198.51.100.8, 203.0.113.5"})
        token = csrf_of(await claims.get(f"/staff/{shop.slug}"))
        again = await claims.post(f"/staff/{shop.slug}/login", data={"csrf": token, "pin": PIN})
        assert again.status_code == 429
    finally:
        for client in made.clients:
            await client.aclose()
        await app.state.service.store.close()


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ConfigError, match="PASSES_TRUSTED_PROXIES"):
        Settings.from_env({"PASSES_TRUSTED_PROXIES": "proxy.local"}, env_file=None)
    assert Settings.from_env({}, env_file=None).trusted_proxies == ""


@pytest.mark.slow
def test_passes_serve_ignores_forwarded_for_unless_told(tmp_path: Path, certs_dir: Path) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir)
    slug = f"cafe-{secrets.token_hex(4)}"
    run(env, "shop", "create", "--name", "Café", "--slug", slug, "--reward", "1 Kaffee")
    with server(env, "--no-worker") as (base, _):
        statuses = [_join(base, slug, forwarded=f"192.0.2.{n}") for n in range(21)]
    assert statuses[:20] == [303] * 20
    assert statuses[20] == 429, "uvicorn's own trust of 127.0.0.1 is off"
    trusting = {**env, "PASSES_TRUSTED_PROXIES": "127.0.0.1"}
    with server(trusting, "--no-worker") as (base, _):
        statuses = [_join(base, slug, forwarded=f"198.51.100.{n}") for n in range(21)]
    assert statuses == [303] * 21, "behind the named proxy, each customer is a client"


def _join(base: str, slug: str, forwarded: str) -> int:
    with httpx.Client(base_url=base, cookies={"passes_csrf": "t"}) as client:
        answer = client.post(
            f"/join/{slug}",
            data={"csrf": "t", "wallet": "apple"},
            headers={"X-Forwarded-For": forwarded},
        )
    return answer.status_code
