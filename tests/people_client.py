"""A shop with people (a manager, a staff member, a branch) and their browsers, over HTTP
without a browser, for the staff account tests."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import httpx

from passes.store.branches import Location
from passes.store.shops import ShopRow
from tests.pages_client import Pages, csrf_of

MANAGER, MANAGER_PIN = "Mara", "2580"
STAFF, STAFF_PIN = "Ana", "1357"
BRANCH = "Sonnenallee 1, Berlin"


@dataclass
class PeopleShop:
    """A shop (shared PIN set, then people added), its API key and its branch's id."""

    shop: ShopRow
    key: str
    branch_id: int


async def people_shop(pages: Pages, *, with_people: bool = True) -> PeopleShop:
    """A shop with a branch; with a manager and a staff member (at the branch) unless not."""
    shop, key = await pages.shop()
    await pages.service.shops.add_location(shop, Location(BRANCH, 52.4862, 13.4319))
    branch_id = await pages.service.shops.branch(shop, BRANCH)
    if with_people:
        await pages.service.people.add(shop, MANAGER, MANAGER_PIN, "manager")
        await pages.service.people.add(shop, STAFF, STAFF_PIN, "staff", branch_id)
    return PeopleShop(shop, key, branch_id)


async def staff_signed_in(
    pages: Pages, shop: ShopRow, name: str = STAFF, pin: str = STAFF_PIN
) -> tuple[httpx.AsyncClient, str]:
    """A phone signed in on the staff page by name and PIN; the CSRF token for its actions."""
    client = pages.browser(**{"Accept-Language": "en"})
    token = csrf_of(await client.get(f"/staff/{shop.slug}"))
    signed = await client.post(
        f"/staff/{shop.slug}/login", data={"csrf": token, "name": name, "pin": pin}
    )
    assert signed.status_code == 303, signed.text
    return client, token


async def manager_signed_in(
    pages: Pages, shop: ShopRow, name: str = MANAGER, pin: str = MANAGER_PIN
) -> tuple[httpx.AsyncClient, str]:
    """A browser signed in on the dashboard as a manager; the CSRF token for its forms."""
    client = pages.browser(**{"Accept-Language": "en"})
    token = csrf_of(await client.get(f"/dashboard/{shop.slug}"))
    signed = await client.post(
        f"/dashboard/{shop.slug}/login", data={"csrf": token, "name": name, "pin": pin}
    )
    assert signed.status_code == 303, signed.text
    return client, token


def staff_headers(token: str) -> dict[str, str]:
    """What staff.js sends with a change."""
    return {"X-CSRF-Token": token, "Content-Type": "application/json"}


def ledger_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))
