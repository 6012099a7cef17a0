"""Branches: the shop's places named as branches (CLI, dashboard), stamps and redemptions
recorded where they happened (API), the figures per branch (dashboard, stats API), and a
removed branch that leaves the ledger and the people working."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from passes.lockout import Client
from passes.people import People
from passes.purchase_rules import PurchaseRule, parse_amount
from passes.sessions import STAFF, SessionBook
from passes.staff import StaffPins
from passes.store.branches import Location
from passes.store.shops import ShopRow
from passes.store.stats import ledger_since
from passes.store.tables import card_events, cards
from tests.api_calls import change, message, new_card
from tests.conftest import Env, auth
from tests.live import passes_env, run
from tests.pages_client import Pages, signed_in_owner
from tests.pkpass_check import verify_pkpass

ALTSTADT = Location("Markt 1, Lübeck", 53.866, 10.686, "Altstadt")
HAFEN = Location("Kai 7, Lübeck", 53.87, 10.69, "Hafen")


async def _shop_with_branches(env: Env, stamps: int = 10) -> tuple[ShopRow, str, int, int]:
    """A shop with the branches Altstadt and Hafen: the shop, its key and the two ids."""
    shop, key = await env.service.shops.create_shop(
        name="Café Sonne", stamps=stamps, reward="1 Kaffee", slug=f"cafe-{secrets.token_hex(4)}"
    )
    for place in (ALTSTADT, HAFEN):
        await env.service.shops.add_location(shop, place)
    altstadt, hafen = [place.id for place in await env.service.shops.locations(shop)]
    assert altstadt is not None and hafen is not None
    return shop, key, altstadt, hafen


async def _events(env: Env, serial: str) -> list[tuple[str, int, int | None, int | None]]:
    """The card's ledger after its issue: kind, count, branch and person, oldest first."""
    query = (
        select(card_events.c.kind, card_events.c.count, card_events.c.branch_id)
        .add_columns(card_events.c.staff_id)
        .join(cards, cards.c.id == card_events.c.card_id)
        .where(cards.c.serial == serial, card_events.c.kind != "issue")
        .order_by(card_events.c.id)
    )
    async with env.service.store.reading() as conn:
        return [tuple(row) for row in (await conn.execute(query)).all()]  # type: ignore[misc]


async def _post(env: Env, key: str, path: str, body: dict[str, Any]) -> httpx.Response:
    headers = {**auth(key), "Idempotency-Key": secrets.token_hex(8)}
    return await env.client.post(path, json=body, headers=headers)


async def _stats(env: Env, key: str, branch: str | None = None) -> dict[str, Any]:
    query = {} if branch is None else {"branch": branch}
    answer = await env.client.get("/api/v1/stats", params=query, headers=auth(key))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.mark.slow
async def test_branches_are_added_named_renamed_and_listed_from_the_command_line(env: Env) -> None:
    cli = passes_env(env.settings.database_url, env.settings.certs_dir)
    slug = f"sonne-{secrets.token_hex(3)}"
    run(cli, "shop", "create", "--name", "Sonne", "--reward", "1 Kaffee", "--slug", slug)
    place = ("--lat", "53.866", "--lon", "10.686")
    added = run(
        cli,
        "shop",
        "location",
        "--shop",
        slug,
        "--address",
        "Markt 1",
        *place,
        "--name",
        "Altstadt",
    ).stdout
    found = re.search(r" 1\. 53\.86600, 10\.68600  Markt 1  \[branch (\d+): Altstadt\]", added)
    assert found, added
    first = found.group(1)
    listed = run(cli, "shop", "location", "--shop", slug, "--address", "Kai 7", *place).stdout
    assert re.search(r" 2\. 53\.86600, 10\.68600  Kai 7  \[branch \d+\]", listed), listed
    renamed = run(
        cli, "shop", "location", "--shop", slug, "--branch", "altstadt", "--name", "Mitte"
    )
    assert f"Markt 1  [branch {first}: Mitte]" in renamed.stdout
    cleared = run(cli, "shop", "location", "--shop", slug, "--branch", first, "--name", "")
    assert f"Markt 1  [branch {first}]" in cleared.stdout
    run(cli, "shop", "location", "--shop", slug, "--branch", "Kai 7", "--name", "Hafen")
    taken = run(
        cli, "shop", "location", "--shop", slug, "--branch", first, "--name", "HAFEN", ok=False
    )
    assert taken.returncode == 1 and "another branch is called 'HAFEN'" in taken.stderr
    long = run(
        cli, "shop", "location", "--shop", slug, "--address", "X", *place, "--name", "x" * 101,
        ok=False,
    )  # fmt: skip
    assert long.returncode == 1 and "1 to 100 printable characters" in long.stderr
    unknown = run(
        cli, "shop", "location", "--shop", slug, "--branch", "Nowhere", "--name", "N", ok=False
    )
    assert unknown.returncode == 1 and "no branch 'Nowhere'" in unknown.stderr
    alone = run(cli, "shop", "location", "--shop", slug, "--branch", first, ok=False)
    assert alone.returncode == 2 and "--branch needs the new --name" in alone.stderr
    stray = run(cli, "shop", "location", "--shop", slug, "--name", "Mitte", ok=False)
    assert stray.returncode == 2 and "--name goes with a new place or with --branch" in stray.stderr
    final = run(cli, "shop", "location", "--shop", slug).stdout
    assert "Markt 1  [branch" in final and ": Hafen]" in final and "X  [" not in final


async def test_the_dashboard_adds_named_branches_and_refuses_bad_names(pages: Pages) -> None:
    shop, key = await pages.shop()
    owner, token = await signed_in_owner(pages, shop, key)
    path = f"/dashboard/{shop.slug}/locations"
    place = {"csrf": token, "address": "Markt 1", "latitude": "53,866", "longitude": "10.686"}
    added = await owner.post(path, data={**place, "name": " Altstadt "})
    assert added.status_code == 303
    page = (await owner.get(added.headers["location"])).text
    assert '<h2 id="locations-h">Branches</h2>' in page
    assert "Near them the iPhone shows the card on the lock screen." in page
    assert "<strong>Altstadt</strong> – Markt 1" in page
    assert '<label for="branch-name">Branch name (optional)</label>' in page
    unnamed = await owner.post(path, data={**place, "address": "Kai 7", "name": ""})
    assert unnamed.status_code == 303
    page = (await owner.get(unnamed.headers["location"])).text
    assert "<li>Kai 7 <span" in page
    taken = await owner.post(path, data={**place, "address": "Holstenstr. 2", "name": "ALTSTADT"})
    assert taken.status_code == 422 and "Another branch has this name already." in taken.text
    assert 'value="Holstenstr. 2"' in taken.text and 'value="ALTSTADT"' in taken.text
    long = await owner.post(path, data={**place, "name": "x" * 101})
    assert long.status_code == 422 and "A branch name has at most 100 characters." in long.text
    assert [p.label for p in await pages.service.shops.locations(shop)] == ["Altstadt", "Kai 7"]
    for language, heading in (("de", "Filialen"), ("fr", "Succursales")):
        owner.headers["Accept-Language"] = language
        assert f'<h2 id="locations-h">{heading}</h2>' in (await owner.get(path[:-10])).text


async def test_names_leave_the_passes_as_they_were(pages: Pages) -> None:
    def places(pkpass: bytes) -> Any:
        return verify_pkpass(pkpass, pages.service.settings.certs_dir / "wwdr.pem")["locations"]

    seen = []
    for name in (None, "Altstadt"):
        shop, key = await pages.shop()
        await pages.service.shops.add_location(shop, Location("Markt 1", 53.866, 10.686, name))
        client = pages.browser()
        card = (await client.post("/api/v1/cards", headers=auth(key))).json()
        seen.append(places((await client.get(card["urls"]["apple"])).content))
    assert (
        seen[0]
        == seen[1]
        == [{"latitude": 53.866, "longitude": 10.686, "relevantText": "relevant_text"}]
    )
    renamed = await pages.service.shops.rename_branch(shop, "Altstadt", "Mitte")
    assert renamed.label == "Mitte" and renamed.address == "Markt 1"
    again = places((await client.get(card["urls"]["apple"])).content)
    assert again == seen[0], "a name is the dashboard's, not the pass's"


async def test_api_changes_record_their_branch_and_refuse_unknown_ones(env: Env) -> None:
    shop, key, altstadt, hafen = await _shop_with_branches(env)
    _, _, other_shops, _ = await _shop_with_branches(env)
    serial = (await new_card(env, key))["serial"]
    stamps = f"/api/v1/cards/{serial}/stamps"
    await change(env, key, stamps, count=2, branch=altstadt)  # type: ignore[arg-type]
    named = await _post(env, key, stamps, {"count": 9, "branch": "hafen"})
    assert named.status_code == 200, named.text
    await change(env, key, stamps)
    redeemed = await _post(env, key, f"/api/v1/cards/{serial}/redeem", {"branch": "Kai 7, Lübeck"})
    assert redeemed.status_code == 200, redeemed.text
    await env.service.purchases.set_rule(shop, PurchaseRule("per_amount", parse_amount("5.00")))
    bought = await _post(
        env,
        key,
        f"/api/v1/cards/{serial}/purchases",
        {"amount": "10.00", "currency": "EUR", "reference": "TX-1", "branch": altstadt},
    )
    assert bought.status_code == 201, bought.text
    assert await _events(env, serial) == [
        ("stamp", 2, altstadt, None),
        ("stamp", 9, hafen, None),
        ("stamp", 1, None, None),
        ("redeem", 1, hafen, None),
        ("stamp", 2, altstadt, None),
    ], "the API key is its own actor: no person"
    for wrong in (other_shops, 999_999_999, "Nowhere", str(other_shops)):
        refused = await _post(env, key, stamps, {"branch": wrong})
        assert refused.status_code == 422, (wrong, refused.text)
        assert refused.json()["error"]["code"] == "unknown_branch"
    refused = await _post(env, key, f"/api/v1/cards/{serial}/redeem", {"branch": other_shops})
    assert refused.json()["error"]["code"] == "unknown_branch"
    for bad in (True, 0, "", "x" * 201):
        invalid = await _post(env, key, stamps, {"branch": bad})
        assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "invalid", bad
    assert len(await _events(env, serial)) == 5, "nothing refused was written"
    document = (await env.client.get("/api/v1/openapi.json")).json()
    described = document["components"]["schemas"]["StampRequest"]["properties"]["branch"]
    assert "unknown_branch" in str(described)


async def test_figures_per_branch_add_up_to_the_whole_shop(env: Env) -> None:
    shop, key, altstadt, hafen = await _shop_with_branches(env, stamps=5)
    first, second = [(await new_card(env, key))["serial"] for _ in range(2)]
    for serial, count, branch in (
        (first, 3, altstadt), (second, 2, altstadt), (first, 1, hafen), (second, 4, None)
    ):  # fmt: skip
        body = {"count": count} if branch is None else {"count": count, "branch": branch}
        assert (await _post(env, key, f"/api/v1/cards/{serial}/stamps", body)).status_code == 200
    undone = await _post(env, key, f"/api/v1/cards/{first}/stamps", {"branch": altstadt})
    change_id = undone.json()["last_change_id"]
    # Undone without a branch: the stamp leaves Altstadt's figures, where it was given.
    headers = auth(key)
    gone = await env.client.delete(f"/api/v1/cards/{first}/stamps/{change_id}", headers=headers)
    assert gone.status_code == 200, gone.text
    redeem = await _post(env, key, f"/api/v1/cards/{second}/redeem", {"branch": hafen})
    assert redeem.status_code == 200, redeem.text
    whole = await _stats(env, key)
    assert whole["branch"] is None
    rows = {row["branch"]: row for row in whole["branches"]}
    assert [row["branch"] for row in whole["branches"]] == [altstadt, hafen, None]
    assert (rows[altstadt]["name"], rows[altstadt]["stamps"]) == ("Altstadt", 5)
    assert (rows[hafen]["stamps"], rows[None]["stamps"], rows[None]["name"]) == (1, 4, None)
    assert (rows[altstadt]["rewards_redeemed"], rows[hafen]["rewards_redeemed"]) == (0, 1)
    assert whole["rewards_redeemed"] == whole["rewards_redeemed_recently"] == 1
    per_day = sum(day["stamps"] for day in whole["stamps_per_day"])
    assert per_day == whole["stamps_total"] == sum(row["stamps"] for row in rows.values()) == 10
    at_altstadt = await _stats(env, key, str(altstadt))
    assert at_altstadt["branch"] == altstadt
    assert sum(day["stamps"] for day in at_altstadt["stamps_per_day"]) == 5
    assert at_altstadt["stamps_total"] == 5 and at_altstadt["active_cards"] == 2
    assert at_altstadt["rewards_redeemed"] == 0
    assert at_altstadt["cards_issued"] == 2, "cards have no branch: the whole shop's"
    assert at_altstadt["branches"] == whole["branches"]
    at_hafen = await _stats(env, key, "hafen")
    found = (at_hafen["branch"], at_hafen["stamps_total"], at_hafen["active_cards"])
    assert found == (hafen, 1, 2), "Hafen stamped one card and redeemed another's reward"
    assert at_hafen["rewards_redeemed"] == at_hafen["rewards_redeemed_recently"] == 1
    for wrong in ("Nowhere", "999999999"):
        refused = await env.client.get(f"/api/v1/stats?branch={wrong}", headers=auth(key))
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_branch"
    assert shop.id


async def test_the_dashboard_shows_a_branchs_figures_and_compares_the_branches(
    pages: Pages, env: Env
) -> None:
    shop, key = await pages.shop()
    for place in (ALTSTADT, HAFEN):
        await pages.service.shops.add_location(shop, place)
    altstadt, hafen = [place.id for place in await pages.service.shops.locations(shop)]
    client = pages.browser()
    serial = (await client.post("/api/v1/cards", headers=auth(key))).json()["serial"]
    for count, branch in ((3, altstadt), (2, hafen), (4, None)):
        body = {"count": count} if branch is None else {"count": count, "branch": branch}
        path = f"/api/v1/cards/{serial}/stamps"
        assert (await client.post(path, json=body, headers=auth(key))).status_code == 200
    owner, _ = await signed_in_owner(pages, shop, key)
    page = (await owner.get(f"/dashboard/{shop.slug}")).text
    assert '<option value="" selected>Whole shop</option>' in page
    assert 'id="stamps-total">9<' in page
    table = page[page.index('id="branches-compared"') :]
    assert re.search(r'<th scope="row">Altstadt</th>\s*<td>3</td><td>0</td>', table)
    assert re.search(r'<th scope="row">Hafen</th>\s*<td>2</td><td>0</td>', table)
    assert re.search(r'<th scope="row">No branch</th>\s*<td>4</td><td>0</td>', table)
    shown = (await owner.get(f"/dashboard/{shop.slug}?branch={hafen}")).text
    assert f'<option value="{hafen}" selected>Hafen</option>' in shown
    assert 'id="stamps-total">2<' in shown and 'id="active">1<' in shown
    assert "Stamps, rewards and active cards of the branch Hafen" in shown
    assert 'Cards issued <span class="whole-shop">(whole shop)</span>' in shown
    _, _, foreign, _ = await _shop_with_branches(env)
    for wrong in (str(foreign), "nothing"):
        refused = await owner.get(f"/dashboard/{shop.slug}?branch={wrong}")
        assert (
            refused.status_code == 422
            and 'role="alert">This shop has no such branch' in refused.text
        )
        assert 'id="stamps-total">9<' in refused.text, "the whole shop's figures instead"
    owner.headers["Accept-Language"] = "de"
    german = (await owner.get(f"/dashboard/{shop.slug}?branch={altstadt}")).text
    assert "Zahlen für" in german and "Ganzer Laden" in german and "Ohne Filiale" in german


async def test_a_removed_branch_keeps_its_ledger_and_its_people(env: Env) -> None:
    shop, key, altstadt, hafen = await _shop_with_branches(env)
    people = People(env.service.store)
    await people.add(shop, "Ada", "4711", "staff", altstadt)
    pins = StaffPins(env.service.store)
    token = await pins.sign_in(shop, "4711", Client("10.0.0.1", None), name="Ada")
    book = SessionBook(env.service.store)
    session = await book.signed_in(token, STAFF)
    assert session is not None and session.branch_id == altstadt
    serial = (await new_card(env, key))["serial"]
    assert (
        await _post(env, key, f"/api/v1/cards/{serial}/stamps", {"count": 3, "branch": altstadt})
    ).status_code == 200
    places = await env.service.shops.locations(shop)
    removed, _ = await env.service.shops.remove_location(shop, 1, "Markt 1, Lübeck")
    assert removed.id == altstadt and [p.id for p in places][1] == hafen
    (ada,) = await people.list(shop)
    assert ada.branch_id is None, "the person stays, without a branch"
    session = await book.signed_in(token, STAFF)
    assert session is not None and session.branch_id is None, "still signed in"
    again = await pins.sign_in(shop, "4711", Client("10.0.0.2", None), name="Ada")
    assert await book.signed_in(again, STAFF) is not None
    assert await _events(env, serial) == [("stamp", 3, altstadt, None)], "the ledger keeps it"
    whole = await _stats(env, key)
    assert whole["stamps_total"] == 3
    rows = [
        (row["branch"], row["name"], row["removed"], row["stamps"]) for row in whole["branches"]
    ]
    assert rows == [(hafen, "Hafen", False, 0), (altstadt, None, True, 3)]
    refused = await env.client.get(f"/api/v1/stats?branch={altstadt}", headers=auth(key))
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_branch"
    stamped = await _post(env, key, f"/api/v1/cards/{serial}/stamps", {"branch": altstadt})
    assert stamped.status_code == 422, "no new stamps at a removed branch"
    await env.service.shops.add_location(
        shop, Location("Markt 1, Lübeck", 53.866, 10.686, "Altstadt")
    )
    assert (await _stats(env, key))["branches"][-1]["removed"], "a new branch is another id"


async def test_an_undo_counts_where_its_stamp_was_even_across_the_windows_start(env: Env) -> None:
    shop, key, altstadt, _ = await _shop_with_branches(env)
    serial = (await new_card(env, key))["serial"]
    given = await _post(env, key, f"/api/v1/cards/{serial}/stamps", {"branch": altstadt})
    undo = f"/api/v1/cards/{serial}/stamps/{given.json()['last_change_id']}"
    assert (await env.client.delete(undo, headers=auth(key))).status_code == 200
    async with env.service.store.reading() as conn:
        (at,) = (
            await conn.execute(
                select(card_events.c.created_at).where(
                    card_events.c.shop_id == shop.id, card_events.c.kind == "undo"
                )
            )
        ).scalars()
        # The window starts between the stamp and its undo: the stamp is not among the rows.
        rows = await ledger_since(conn, shop.id, at)
    assert [(row.kind, row.branch_id) for row in rows] == [("undo", altstadt)]


async def test_a_promotions_bonus_stamps_count_where_the_stamp_was_given(env: Env) -> None:
    shop, key, altstadt, _ = await _shop_with_branches(env)
    await env.service.shops.update_program(shop, holdout_percent=0)
    serial = (await new_card(env, key))["serial"]
    ends = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    sent = await message(env, key, text="Doppelt!", multiplier=2, ends_at=ends)
    assert sent.status_code == 202 and sent.json()["recipients"] == 1, sent.text
    given = await _post(env, key, f"/api/v1/cards/{serial}/stamps", {"branch": altstadt})
    assert given.json()["total_stamps"] == 2, given.text
    assert await _events(env, serial) == [
        ("stamp", 1, altstadt, None),
        ("bonus", 1, altstadt, None),
    ]
    at_altstadt = await _stats(env, key, str(altstadt))
    assert (at_altstadt["stamps_total"], at_altstadt["bonus_stamps_total"]) == (2, 1)
