"""Staff accounts over HTTP on both databases: sign-in by name and own PIN, the shared PIN
refused once people exist, removal signing devices out at once, the ledger and the card's
history naming the person, and the People section of the dashboard."""

from __future__ import annotations

import asyncio
import re

from tests.conftest import Env, auth
from tests.live import passes_env, run
from tests.pages_client import PIN, Pages, csrf_of
from tests.people_client import (
    BRANCH,
    MANAGER,
    STAFF,
    STAFF_PIN,
    ledger_rows,
    manager_signed_in,
    people_shop,
    staff_headers,
    staff_signed_in,
)


async def test_the_staff_page_asks_for_a_name_once_the_shop_has_people(pages: Pages) -> None:
    found = await people_shop(pages, with_people=False)
    slug = found.shop.slug
    shared = pages.browser(**{"Accept-Language": "en"})
    login = await shared.get(f"/staff/{slug}")
    assert 'autocomplete="username"' not in login.text
    signed = await shared.post(f"/staff/{slug}/login", data={"csrf": csrf_of(login), "pin": PIN})
    assert signed.status_code == 303
    assert (await shared.get(f"/staff/{slug}")).text.count('id="signed-in"') == 0

    await pages.service.people.add(found.shop, STAFF, STAFF_PIN, "staff", found.branch_id)
    # The device the shared PIN signed in is signed out, and the shared PIN no longer signs in.
    assert (await shared.get(f"/staff/{slug}/cards/NOPE")).status_code == 401
    again = await shared.get(f"/staff/{slug}")
    assert 'name="name" autocomplete="username"' in again.text
    token = csrf_of(again)
    refused = await shared.post(f"/staff/{slug}/login", data={"csrf": token, "pin": PIN})
    assert refused.status_code == 422 and "Enter your name" in refused.text
    wrong = await shared.post(
        f"/staff/{slug}/login", data={"csrf": token, "name": STAFF, "pin": PIN}
    )
    assert wrong.status_code == 401 and "Wrong PIN" in wrong.text
    client, _ = await staff_signed_in(pages, found.shop, name="  ana ")
    page = await client.get(f"/staff/{slug}")
    assert f"Signed in as {STAFF} · {BRANCH}" in page.text


async def test_removing_a_person_signs_their_devices_out_at_once(pages: Pages) -> None:
    found = await people_shop(pages)
    shop = found.shop
    view = await pages.service.issuing.issue_card(shop, "test")
    client, token = await staff_signed_in(pages, shop)
    stamps = f"/staff/{shop.slug}/cards/{view.card.serial}/stamps"
    assert (await client.post(stamps, headers=staff_headers(token))).status_code == 200
    removed = await pages.service.people.remove(shop, "ANA")
    assert removed.name == STAFF
    refused = await client.post(stamps, headers=staff_headers(token))
    assert refused.status_code == 401
    assert (await client.get(f"/staff/{shop.slug}/cards/{view.card.serial}")).status_code == 401
    assert 'autocomplete="username"' in (await client.get(f"/staff/{shop.slug}")).text
    gone = await client.post(
        f"/staff/{shop.slug}/login",
        data={"csrf": token, "name": STAFF, "pin": STAFF_PIN},
    )
    assert gone.status_code == 401


async def test_the_ledger_and_the_history_name_who_stamped(env: Env, pages: Pages) -> None:
    found = await people_shop(pages)
    shop, key = found.shop, found.key
    serial = (await env.client.post("/api/v1/cards", headers=auth(key))).json()["serial"]
    client, token = await staff_signed_in(pages, shop)
    path = f"/staff/{shop.slug}/cards/{serial}"
    stamped = await client.post(f"{path}/stamps", json={"count": 2}, headers=staff_headers(token))
    assert stamped.status_code == 200, stamped.text
    change = stamped.json()["last_change_id"]
    undone = await client.delete(f"{path}/stamps/{change}", headers=staff_headers(token))
    assert undone.status_code == 200, undone.text
    await client.post(f"{path}/stamps", headers=staff_headers(token))
    api = await env.client.post(f"/api/v1/cards/{serial}/stamps", json={}, headers=auth(key))
    assert api.status_code == 200
    await pages.service.people.remove(shop, STAFF)

    history = await env.client.get(f"/api/v1/cards/{serial}/history", headers=auth(key))
    assert history.status_code == 200, history.text
    events = history.json()["events"]
    assert [e["kind"] for e in events] == ["stamp", "stamp", "undo", "stamp", "issue"]
    assert [e["id"] for e in events] == sorted((e["id"] for e in events), reverse=True)
    by_api, *by_staff, issued = events
    assert by_api["actor"].startswith("api:") and by_api["person"] is None
    assert by_api["branch"] is None
    for event in by_staff:
        assert (event["actor"], event["person"], event["branch"]) == ("staff", STAFF, BRANCH)
    assert issued["person"] is None

    owner = pages.browser()
    token = csrf_of(await owner.get(f"/dashboard/{shop.slug}"))
    await owner.post(f"/dashboard/{shop.slug}/login", data={"csrf": token, "key": key})
    rows = ledger_rows((await owner.get(f"/dashboard/{shop.slug}/ledger.csv")).text)
    mine = [row for row in rows if row["serial"] == serial]
    assert [(r["kind"], r["person"], r["branch"]) for r in mine] == [
        ("issue", "", ""),
        ("stamp", STAFF, BRANCH),
        ("undo", STAFF, BRANCH),
        ("stamp", STAFF, BRANCH),
        ("stamp", "", ""),
    ]
    cli = passes_env(env.settings.database_url, env.settings.certs_dir)
    shown = await asyncio.to_thread(run, cli, "card", "history", "--shop", shop.slug, serial)
    lines = shown.stdout.splitlines()
    assert lines[0].endswith(serial) and "api:" in lines[1]
    assert f"stamp 1  staff  {STAFF} ({BRANCH})" in lines[2]


async def test_the_history_is_the_key_shops_own(env: Env, pages: Pages) -> None:
    found = await people_shop(pages, with_people=False)
    serial = (await env.client.post("/api/v1/cards", headers=auth(found.key))).json()["serial"]
    other = await env.new_shop()
    elsewhere = await env.client.get(f"/api/v1/cards/{serial}/history", headers=auth(other))
    assert elsewhere.status_code == 404
    unknown = await env.client.get("/api/v1/cards/NOPE-1234/history", headers=auth(found.key))
    assert unknown.status_code == 404
    anonymous = await env.client.get(f"/api/v1/cards/{serial}/history")
    assert anonymous.status_code == 401
    document = (await env.client.get("/api/v1/openapi.json")).json()
    operation = document["paths"]["/cards/{serial}/history"]["get"]
    assert operation["operationId"] == "cardHistory"
    assert "History" in document["components"]["schemas"]


async def test_a_manager_manages_people_on_the_dashboard(pages: Pages) -> None:
    found = await people_shop(pages)
    shop = found.shop
    login = await pages.browser(**{"Accept-Language": "en"}).get(f"/dashboard/{shop.slug}")
    assert 'id="manager-login"' in login.text and 'id="key-login"' in login.text
    client, token = await manager_signed_in(pages, shop)
    page = await client.get(f"/dashboard/{shop.slug}")
    assert f"Signed in as {MANAGER} (manager)" in page.text
    assert 'id="people"' in page.text and 'id="webhooks"' not in page.text
    assert 'id="staff-pin"' not in page.text, "the shared PIN is gone once there are people"
    assert f'<option value="{found.branch_id}">{BRANCH}</option>' in page.text

    form = {"csrf": token, "name": "Ben", "pin": "9999", "role": "staff"}
    added = await client.post(f"/dashboard/{shop.slug}/people", data=form | {"branch": "1"})
    assert added.status_code == 422 and "no longer among" in added.text
    branch = str(found.branch_id)
    added = await client.post(f"/dashboard/{shop.slug}/people", data=form | {"branch": branch})
    assert added.headers["location"] == f"/dashboard/{shop.slug}?people=added#people"
    listed = await client.get(added.headers["location"])
    assert re.search(r'person-name">Ben<.*person-role">staff<.*' + BRANCH, listed.text)
    assert "Person added." in listed.text
    taken = await client.post(f"/dashboard/{shop.slug}/people", data=form | {"name": "BEN"})
    assert taken.status_code == 409 and "Someone of that name" in taken.text
    assert 'value="BEN"' in taken.text, "the form keeps what was typed, never the PIN"
    bad_pin = await client.post(f"/dashboard/{shop.slug}/people", data=form | {"pin": "12"})
    assert bad_pin.status_code == 422 and "4 to 12 digits" in bad_pin.text
    bad_role = await client.post(f"/dashboard/{shop.slug}/people", data=form | {"role": "boss"})
    assert bad_role.status_code == 422 and "staff or manager" in bad_role.text

    ben, ben_token = await staff_signed_in(pages, shop, "Ben", "9999")
    remove = f"/dashboard/{shop.slug}/people/remove"
    removed = await client.post(remove, data={"csrf": token, "name": "ben"})
    assert removed.headers["location"].endswith("?people=removed#people")
    assert (await ben.get(f"/staff/{shop.slug}/cards/X")).status_code == 401
    again = await client.post(remove, data={"csrf": token, "name": "ben"})
    assert again.headers["location"].endswith("?people=gone#people")
    names = [person.name for person in await pages.service.people.list(shop)]
    assert names == [STAFF, MANAGER]
    assert ben_token


async def test_staff_and_wrong_pins_are_refused_on_the_dashboard(pages: Pages) -> None:
    found = await people_shop(pages)
    slug = found.shop.slug
    client = pages.browser(**{"Accept-Language": "en"})
    token = csrf_of(await client.get(f"/dashboard/{slug}"))
    login = f"/dashboard/{slug}/login"
    staff = await client.post(login, data={"csrf": token, "name": STAFF, "pin": STAFF_PIN})
    assert staff.status_code == 403 and "Only managers sign in" in staff.text
    assert "passes_owner" not in staff.cookies
    wrong = await client.post(login, data={"csrf": token, "name": MANAGER, "pin": "0000"})
    assert wrong.status_code == 401 and "Wrong PIN" in wrong.text
    empty = await client.post(login, data={"csrf": token, "name": "", "pin": "0000"})
    assert empty.status_code == 422, empty.text
    bare = await people_shop(pages, with_people=False)
    token = csrf_of(await client.get(f"/dashboard/{bare.shop.slug}"))
    shared = await client.post(
        f"/dashboard/{bare.shop.slug}/login", data={"csrf": token, "name": "x", "pin": PIN}
    )
    assert shared.status_code == 403, "the shared PIN never opens the dashboard"


async def test_a_persons_daily_limit_on_the_staff_page_says_why(pages: Pages) -> None:
    """Stamps given on the staff page count for the person signed in: past the owner's
    per-person limit the page refuses in the staff's language, and nothing is stamped."""
    found = await people_shop(pages)
    shop = await pages.service.shops.update_program(found.shop, staff_daily_stamps=2)
    client, token = await staff_signed_in(pages, shop)
    serials = [(await pages.service.issuing.issue_card(shop, "test")).card.serial for _ in range(2)]
    first = f"/staff/{shop.slug}/cards/{serials[0]}/stamps"
    assert (
        await client.post(first, json={"count": 2}, headers=staff_headers(token))
    ).status_code == 200
    german = staff_headers(token) | {"Accept-Language": "de"}
    refused = await client.post(f"/staff/{shop.slug}/cards/{serials[1]}/stamps", headers=german)
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "staff_daily_limit"
    assert "(2)" in error["message"] and "mehr ab morgen" in error["message"], error
    card = await pages.service.cards.card(shop, serials[1])
    assert card.card.counters.stamps == 0
