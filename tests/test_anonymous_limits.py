"""Abuse without an account (issue #18): device registrations per card, anonymous strip images."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import secrets
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette

from passes.app import create_app
from passes.render import Artwork
from passes.service import Service
from tests.conftest import BASE_URL, Env, auth
from tests.fake_apns import FakeApns
from tests.live import create_shop, live_env, server, until
from tests.phones import Phone, pushes_to
from tests.pkpass_check import verify_pkpass

KEPT = 5
UNLIMITED = 10**6


@dataclasses.dataclass
class App:
    """An app of its own (its own rate limiters) on the session's database."""

    app: Starlette
    client: httpx.AsyncClient

    @property
    def service(self) -> Service:
        return self.app.state.service  # type: ignore[no-any-return]

    @property
    def artwork(self) -> Artwork:
        return self.app.state.wallet.artwork  # type: ignore[no-any-return]

    def from_address(self, host: str) -> httpx.AsyncClient:
        """A client the app sees coming from `host`."""
        transport = httpx.ASGITransport(app=self.app, client=(host, 4711))
        return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


@asynccontextmanager
async def own_app(env: Env, **settings: Any) -> AsyncIterator[App]:
    app = App(create_app(dataclasses.replace(env.settings, **settings), env.identity), env.client)
    try:
        async with app.from_address("203.0.113.7") as client:
            yield dataclasses.replace(app, client=client)
    finally:
        await app.service.store.close()


class Pass:
    """A pass as its holder has it: what the pass.json says, and nothing more."""

    def __init__(self, client: httpx.AsyncClient, pass_json: dict[str, Any]) -> None:
        self.client = client
        self.pass_type = pass_json["passTypeIdentifier"]
        self.serial = pass_json["serialNumber"]
        self.headers = {"Authorization": f"ApplePass {pass_json['authenticationToken']}"}

    async def register(
        self, device: str, push_token: str | None = None, client: httpx.AsyncClient | None = None
    ) -> httpx.Response:
        path = f"/wallet/v1/devices/{device}/registrations/{self.pass_type}/{self.serial}"
        body = {"pushToken": push_token or secrets.token_hex(32)}
        return await (client or self.client).post(path, json=body, headers=self.headers)


async def new_pass(client: httpx.AsyncClient, key: str, certs_dir: Path) -> Pass:
    card = await client.post("/api/v1/cards", headers=auth(key))
    assert card.status_code == 201, card.text
    pkpass = (await client.get(card.json()["urls"]["apple"])).content
    return Pass(client, verify_pkpass(pkpass, certs_dir / "wwdr.pem"))


async def deliveries(client: httpx.AsyncClient, key: str, serial: str) -> dict[str, Any]:
    answer = await client.get(f"/api/v1/cards/{serial}/deliveries", headers=auth(key))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def stamp(client: httpx.AsyncClient, key: str, serial: str) -> None:
    answer = await client.post(
        f"/api/v1/cards/{serial}/stamps", json={"count": 1}, headers=auth(key)
    )
    assert answer.status_code == 200, answer.text


# --- devices per card ---------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_card_keeps_its_newest_devices_and_a_stamp_pushes_to_those_only(env: Env) -> None:
    async with own_app(
        env, card_registrations_per_hour=UNLIMITED, client_registrations_per_minute=UNLIMITED
    ) as app:
        key = await env.new_shop()
        held = await new_pass(app.client, key, env.settings.certs_dir)
        crowd = [secrets.token_hex(16) for _ in range(100)]
        # All at once: on PostgreSQL these are concurrent transactions on one card.
        answers = await asyncio.gather(*(held.register(device) for device in crowd))
        assert [answer.status_code for answer in answers] == [201] * 100
        last = [secrets.token_hex(16) for _ in range(20)]
        for device in last:
            assert (await held.register(device)).status_code == 201
        shown = await deliveries(app.client, key, held.serial)
        kept = {entry["device"] for entry in shown["devices"]}
        assert kept == {device[:8] + "…" for device in last[-KEPT:]}, "the newest five"
        await stamp(app.client, key, held.serial)
        assert (await deliveries(app.client, key, held.serial))["pending_pushes"] == KEPT


async def test_renewing_a_device_is_not_a_new_one_and_keeps_it(env: Env) -> None:
    async with own_app(
        env, card_registrations_per_hour=UNLIMITED, client_registrations_per_minute=UNLIMITED
    ) as app:
        key = await env.new_shop()
        held = await new_pass(app.client, key, env.settings.certs_dir)
        phone, watch = secrets.token_hex(16), secrets.token_hex(16)
        assert (await held.register(phone)).status_code == 201
        assert (await held.register(watch)).status_code == 201
        for _ in range(KEPT * 3):
            assert (await held.register(phone)).status_code == 200, "the phone renews"
            assert (await held.register(secrets.token_hex(16))).status_code == 201
        shown = await deliveries(app.client, key, held.serial)
        kept = {entry["device"] for entry in shown["devices"]}
        assert phone[:8] + "…" in kept and watch[:8] + "…" not in kept
        assert len(kept) == KEPT


async def test_new_devices_of_one_card_are_rate_limited_renewals_are_not(env: Env) -> None:
    async with own_app(env, card_registrations_per_hour=4) as app:
        key = await env.new_shop()
        held = await new_pass(app.client, key, env.settings.certs_dir)
        devices = [secrets.token_hex(16) for _ in range(4)]
        for device in devices:
            assert (await held.register(device)).status_code == 201
        refused = await held.register(secrets.token_hex(16))
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "rate_limited"
        renewed = await held.register(devices[-1], push_token=secrets.token_hex(32))
        assert renewed.status_code == 200, "a known device renews even over the limit"
        other = await new_pass(app.client, key, env.settings.certs_dir)
        assert (await other.register(secrets.token_hex(16))).status_code == 201, "per card"
        shown = await deliveries(app.client, key, held.serial)
        assert len(shown["devices"]) == 4, "the refused device was not stored"


async def test_new_devices_from_one_address_are_rate_limited(env: Env) -> None:
    async with own_app(env, client_registrations_per_minute=3) as app:
        key = await env.new_shop()
        passes = [await new_pass(app.client, key, env.settings.certs_dir) for _ in range(4)]
        for held in passes[:3]:
            assert (await held.register(secrets.token_hex(16))).status_code == 201
        refused = await passes[3].register(secrets.token_hex(16))
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        async with app.from_address("198.51.100.9") as elsewhere:
            answer = await passes[3].register(secrets.token_hex(16), client=elsewhere)
        assert answer.status_code == 201, "another address has its own allowance"


@pytest.mark.slow
async def test_the_next_stamp_reaches_only_the_kept_devices(
    tmp_path: Path, certs_dir: Path, apns: FakeApns
) -> None:
    env = live_env(
        f"sqlite:///{tmp_path / 'passes.db'}",
        certs_dir,
        apns,
        PASSES_CARD_REGISTRATIONS_PER_HOUR=str(UNLIMITED),
    )
    key = create_shop(env)
    with server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            card = (await client.post("/api/v1/cards", headers=auth(key))).json()
            pkpass = (await client.get(card["urls"]["apple"])).content
            phones = [Phone(client, pkpass, certs_dir / "wwdr.pem") for _ in range(30)]
            for phone in phones:
                assert await phone.register() == 201
            await stamp(client, key, card["serial"])
            newest = phones[-KEPT:]
            await until(lambda: all(pushes_to(apns, phone.push_token) for phone in newest))
            await asyncio.sleep(1.0)
    tokens = [request.token for request in apns.requests]
    assert sorted(tokens) == sorted(phone.push_token for phone in newest)


# --- public strip images ------------------------------------------------------------------------


def _colour() -> str:
    return secrets.token_hex(3)


async def _look(service: Service, stamps: int = 10) -> tuple[str, str]:
    """A new shop whose program has colours of its own; returns them as URL parts."""
    background, stamp_colour = _colour(), _colour()
    colours = {"background_color": f"#{background}", "stamp_color": f"#{stamp_colour}"}
    await service.shops.create_shop(
        name=f"Café {secrets.token_hex(3)}", stamps=stamps, reward="1 Tee", colours=colours
    )
    return background, stamp_colour


async def test_unknown_looks_are_404_and_draw_nothing(env: Env) -> None:
    async with own_app(env) as app:
        before = app.artwork.drawn
        background, stamp_colour = _colour(), _colour()
        for path in (
            f"/img/strip/{background}/{stamp_colour}/10/4@2x.png",
            f"/img/google/hero/{background}/{stamp_colour}/10/4.png",
            f"/img/google/logo/{background}.png",
            "/img/strip/3b2a20/f2c879/10/4@2x.png?tiers=1.2.3.4.5.6.7.8.9",
        ):
            answer = await app.client.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["error"]["code"] == "not_found"
        assert app.artwork.drawn == before, "nothing drawn for what no program shows"


async def test_a_programs_strip_is_served_drawing_only_the_size_asked_for(env: Env) -> None:
    async with own_app(env) as app:
        background, stamp_colour = await _look(app.service)
        before = app.artwork.drawn
        strip = await app.client.get(f"/img/strip/{background}/{stamp_colour}/10/3@2x.png")
        assert strip.status_code == 200 and strip.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(strip.content)).size == (750, 246)
        assert app.artwork.drawn == before + 1, "one size drawn, not three"
        hero = await app.client.get(f"/img/google/hero/{background}/{stamp_colour}/10/3.png")
        assert Image.open(io.BytesIO(hero.content)).size == (1032, 336)
        logo = await app.client.get(f"/img/google/logo/{background}.png")
        assert logo.status_code == 200
        assert app.artwork.drawn == before + 3
        again = await app.client.get(f"/img/strip/{background}/{stamp_colour}/10/3@2x.png")
        assert again.content == strip.content and app.artwork.drawn == before + 3, "cached"


@pytest.mark.slow
async def test_strips_are_drawn_off_the_event_loop(env: Env) -> None:
    """While new strips are drawn the server's event loop keeps turning: the median delay of a
    1 ms timer stays far below the time one strip takes (drawn on the loop, it is that time)."""
    async with own_app(env) as app:
        background, stamp_colour = await _look(app.service, stamps=30)

        def path(count: int) -> str:
            return f"/img/strip/{background}/{stamp_colour}/30/{count}@2x.png"

        one = []
        for count in range(3):
            began = time.perf_counter()
            assert (await app.client.get(path(count))).status_code == 200
            one.append(time.perf_counter() - began)
        lags = await _loop_lags_during(
            lambda: asyncio.gather(*(app.client.get(path(count)) for count in range(3, 31)))
        )
        assert statistics.median(lags) < statistics.median(one) / 4, (lags, one)


async def _loop_lags_during(work: Callable[[], Awaitable[object]]) -> list[float]:
    lags: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        while not done.is_set():
            began = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(time.perf_counter() - began - 0.001)

    ticker = asyncio.create_task(tick())
    try:
        await work()
    finally:
        done.set()
        await ticker
    return lags
