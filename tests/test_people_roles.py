"""Roles on every dashboard route, enumerated from the app's routes so new ones are covered:
a staff person never gets in (their dashboard sign-in is 403, their staff cookie opens
nothing), a manager does (but the webhooks: 403), and another shop's manager or staff cannot
act on this shop, on its dashboard or its staff page."""

from __future__ import annotations

import httpx
from starlette.routing import Route

from tests.pages_client import Pages, csrf_of
from tests.people_client import (
    STAFF,
    STAFF_PIN,
    manager_signed_in,
    people_shop,
    staff_headers,
    staff_signed_in,
)

DASHBOARD = "/dashboard/{shop}"
# Open to anyone by design: signing in and out.
SIGN_IN_OUT = {f"{DASHBOARD}/login", f"{DASHBOARD}/logout"}


def dashboard_routes(pages: Pages) -> list[tuple[str, str]]:
    """Every (method, path) under /dashboard/{shop} but signing in and out."""
    found = [
        (method, route.path)
        for route in pages.app.routes
        if isinstance(route, Route) and route.path.startswith(DASHBOARD)
        for method in sorted(route.methods or ())
        if method != "HEAD" and route.path not in SIGN_IN_OUT
    ]
    assert len(found) >= 15, found
    return found


async def call(client: httpx.AsyncClient, method: str, path: str, token: str) -> httpx.Response:
    """The route as its form sends it: a GET, or a POST with the CSRF token (multipart where
    the route takes an upload)."""
    if method == "GET":
        return await client.get(path)
    posted = await client.post(path, data={"csrf": token})
    if posted.status_code == 415:
        posted = await client.post(path, data={"csrf": token}, files={"none": ("", b"")})
    return posted


def shut_out(answer: httpx.Response, slug: str) -> bool:
    """Whether the answer gives nothing of the dashboard: a refusal, the way to the sign-in,
    or the sign-in page itself."""
    if answer.status_code in (401, 403):
        return True
    if answer.status_code == 303:
        return answer.headers["location"] == f"/dashboard/{slug}"
    return answer.status_code == 200 and 'id="key-login"' in answer.text


async def test_staff_never_get_into_the_dashboard(pages: Pages) -> None:
    found = await people_shop(pages)
    slug = found.shop.slug
    client, token = await staff_signed_in(pages, found.shop)
    login = f"/dashboard/{slug}/login"
    refused = await client.post(login, data={"csrf": token, "name": STAFF, "pin": STAFF_PIN})
    assert refused.status_code == 403 and "Only managers" in refused.text
    # Their staff session's cookie, offered to the dashboard as its own, opens nothing.
    staff_cookie = client.cookies.get("passes_staff")
    assert staff_cookie
    client.cookies.set("passes_owner", staff_cookie, path=f"/dashboard/{slug}")
    for method, path in dashboard_routes(pages):
        answer = await call(client, method, path.format(shop=slug), token)
        assert shut_out(answer, slug), (method, path, answer.status_code)


async def test_a_manager_gets_everywhere_but_the_webhooks(pages: Pages) -> None:
    found = await people_shop(pages)
    slug = found.shop.slug
    client, token = await manager_signed_in(pages, found.shop)
    for method, path in dashboard_routes(pages):
        answer = await call(client, method, path.format(shop=slug), token)
        if path.startswith(f"{DASHBOARD}/webhooks"):
            assert answer.status_code == 403, (method, path)
            assert "Only the holder of the API key" in answer.text
        else:
            assert not shut_out(answer, slug), (method, path, answer.status_code)
    assert (await client.get(f"/dashboard/{slug}")).status_code == 200, "still signed in"


async def test_another_shops_people_cannot_act_here(pages: Pages) -> None:
    here = await people_shop(pages)
    there = await people_shop(pages)
    slug = here.shop.slug
    view = await pages.service.issuing.issue_card(here.shop, "test")
    manager, token = await manager_signed_in(pages, there.shop)
    # The cookie is scoped to the other shop's path; sent here anyway, it opens nothing.
    session = manager.cookies.get("passes_owner")
    assert session
    manager.cookies.set("passes_owner", session, path=f"/dashboard/{slug}")
    login = await manager.get(f"/dashboard/{slug}")
    assert 'id="key-login"' in login.text
    for method, path in dashboard_routes(pages):
        answer = await call(manager, method, path.format(shop=slug), csrf_of(login))
        assert shut_out(answer, slug), (method, path, answer.status_code)
    staff, staff_token = await staff_signed_in(pages, there.shop)
    cookie = staff.cookies.get("passes_staff")
    assert cookie
    staff.cookies.set("passes_staff", cookie, path=f"/staff/{slug}")
    card = f"/staff/{slug}/cards/{view.card.serial}"
    headers = staff_headers(staff_token)
    assert (await staff.get(card)).status_code == 401
    assert (await staff.post(f"{card}/stamps", headers=headers)).status_code == 401
    assert (await staff.post(f"{card}/redeem", headers=headers)).status_code == 401
    assert (await staff.delete(f"{card}/stamps/1", headers=headers)).status_code == 401
    after = await pages.service.cards.card(here.shop, view.card.serial)
    assert after.card.version == view.card.version, "nothing changed"
    assert token
