"""The pages as a phone's or owner's browser sees them, over HTTP without a browser: a fresh
app on the session's database, clients with their own cookie jars, a signed-in owner."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import httpx
from starlette.applications import Starlette

from passes.service import Service
from passes.staff import StaffPins
from passes.store.shops import ShopRow
from tests.conftest import BASE_URL, Env

PIN = "4711"


@dataclass
class Pages:
    """A fresh app (its own rate limits) on the session's database."""

    app: Starlette
    service: Service
    clients: list[httpx.AsyncClient]

    def browser(self, **headers: str) -> httpx.AsyncClient:
        """A client with its own cookie jar, like one phone's browser."""
        transport = httpx.ASGITransport(app=self.app)
        client = httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers)
        self.clients.append(client)
        return client

    async def shop(self, stamps: int = 10) -> tuple[ShopRow, str]:
        shop, key = await self.service.shops.create_shop(
            name="Café Sonne", stamps=stamps, reward="1 Vita Mix gratis", slug=new_slug()
        )
        await StaffPins(self.service.store).set_pin(shop, PIN)
        return shop, key


def new_slug() -> str:
    return f"cafe-{secrets.token_hex(4)}"


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def signed_in_owner(pages: Pages, shop: ShopRow, key: str) -> tuple[httpx.AsyncClient, str]:
    client = pages.browser(**{"Accept-Language": "en"})
    token = csrf_of(await client.get(f"/dashboard/{shop.slug}"))
    signed = await client.post(f"/dashboard/{shop.slug}/login", data={"csrf": token, "key": key})
    assert signed.status_code == 303, signed.text
    return client, token


def browser(env: Env, opened: list[httpx.AsyncClient], language: str) -> httpx.AsyncClient:
    """A browser on `env`'s app asking for pages in `language`, closed with `opened`."""
    transport = httpx.ASGITransport(app=env.app)
    client = httpx.AsyncClient(
        transport=transport, base_url=BASE_URL, headers={"Accept-Language": language}
    )
    opened.append(client)
    return client
