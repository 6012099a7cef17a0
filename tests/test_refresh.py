"""Program changes reach every pass in a wallet, on SQLite and PostgreSQL: tiers, expiry, name
and colours move the cards in wallets (not the others), the phone's web service lists them, the
pass comes back 200 for the old If-Modified-Since and shows the change; batches are separate
transactions; the dashboard says how many passes a change updates."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from passes.program import BadSetting, ProgramChange
from passes.service import Service
from passes.store import Store
from passes.store.tables import cards, push_outbox
from tests.api_calls import new_card, stamp
from tests.conftest import Env, auth
from tests.live import passes_env, run
from tests.pages_client import Pages, signed_in_owner
from tests.phones import Phone, phone_for
from tests.pkpass_check import verify_pkpass

PassJson = dict[str, Any]


def back(pass_json: PassJson, key: str) -> Any:
    fields = {field["key"]: field for field in pass_json["storeCard"]["backFields"]}
    return fields[key]["value"] if key in fields else None


# Each change, and what the refreshed pass shows for it.
CHANGES: dict[str, tuple[ProgramChange, Callable[[PassJson], bool]]] = {
    "tiers": (
        ProgramChange(tiers=[(5, "1 Cookie")]),
        lambda p: "5: 1 Cookie" in (back(p, "rewards") or ""),
    ),
    "expiry": (
        ProgramChange(limits={"stamp_expiry_days": 30}),
        lambda p: back(p, "stamps_expire") is not None,
    ),
    "name": (ProgramChange(name="Café Mond"), lambda p: p["organizationName"] == "Café Mond"),
    "colours": (
        ProgramChange(colours={"background_color": "#1f6f50", "label_color": "#FFFFFF"}),
        lambda p: (
            (p["backgroundColor"], p["labelColor"]) == ("rgb(31, 111, 80)", "rgb(255, 255, 255)")
        ),
    ),
}


def announcing(pass_json: PassJson) -> list[str]:
    """The fields whose change the lock screen would announce."""
    groups = pass_json["storeCard"].values()
    return [field["key"] for group in groups for field in group if "changeMessage" in field]


async def shown(env: Env, key: str, serial: str) -> dict[str, Any]:
    response = await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))
    return dict(response.json())


async def pending(env: Env, key: str, serial: str) -> int:
    report = await env.client.get(f"/api/v1/cards/{serial}/deliveries", headers=auth(key))
    return int(report.json()["pending_pushes"])


@pytest.mark.parametrize("kind", list(CHANGES))
async def test_a_program_change_refreshes_the_passes_in_wallets(env: Env, kind: str) -> None:
    change, shows_it = CHANGES[kind]
    key = await env.new_shop(stamps=10)
    held, loose = await new_card(env, key), await new_card(env, key)
    serial = held["serial"]
    await stamp(env, key, serial)
    phone = await phone_for(env, held)
    before, loose_before = await shown(env, key, serial), await shown(env, key, loose["serial"])
    first = verify_pkpass((await env.client.get(held["urls"]["apple"])).content, phone.ca)
    assert not shows_it(first)
    assert announcing(first) == ["notice"], "the stamp is announced"
    assert await pending(env, key, serial) == 0

    shop = await env.service.shops.authenticate(key)
    changed = await env.service.shops.change_program(shop, change)
    assert changed.refreshed == 1, "the card in a wallet; the other one no phone holds"
    assert changed.shop.slug == shop.slug, "a new name keeps the slug (URLs, Google class id)"

    assert await phone.changed_serials() == [serial], "the web service lists the card"
    fetched = await phone.refresh()
    assert fetched.status_code == 200, "the old If-Modified-Since does not hide the new pass"
    refreshed = verify_pkpass(fetched.content, phone.ca)
    assert shows_it(refreshed)
    assert announcing(refreshed) == [], "a refresh announces nothing on the phone"
    assert (await phone.refresh()).status_code == 304
    assert await pending(env, key, serial) == 1, "one push for the phone"
    after = await shown(env, key, serial)
    assert after["last_change_id"] == before["last_change_id"], "no ledger event: undo still works"
    assert (after["stamps"], after["total_stamps"]) == (1, 1)
    assert after["version"] == before["version"] + 1, "a writer holding the card reads it again"
    loose_after = await shown(env, key, loose["serial"])
    assert loose_after["version"] == loose_before["version"], "a card in no wallet stays"

    again = await env.service.shops.change_program(changed.shop, change)
    assert again.refreshed == 0 and (await phone.refresh()).status_code == 304, "nothing new"
    # A stamp after the refresh gets a later tag: the phone that saw the refresh sees it too
    # (on SQLite the refresh took a ledger id no event will get).
    await stamp(env, key, serial)
    assert await phone.changed_serials() == [serial]
    assert (await phone.refresh()).status_code == 200


async def test_refresh_batches_are_transactions_of_their_own(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    held = [await new_card(env, key) for _ in range(5)]
    await new_card(env, key)  # in no wallet: not counted, not moved
    phones = [await phone_for(env, card) for card in held]
    await stamp(env, key, held[0]["serial"])  # its push waits: the refresh adds none
    service = Service(replace(env.settings, refresh_batch=2), env.service.store)
    reported: list[tuple[int, int]] = []

    shop = await service.shops.authenticate(key)
    changed = await service.shops.change_program(
        shop, ProgramChange(name="Café Mond"), lambda *seen: reported.append(seen)
    )
    assert changed.refreshed == 5
    assert reported == [(2, 5), (4, 5), (5, 5)], "batches of two, progress after each"
    for phone, card in zip(phones, held, strict=True):
        assert await phone.changed_serials() == [card["serial"]]
    serials = [card["serial"] for card in held]
    tags, ids = await _tags_and_ids(env, serials)
    assert tags[0] == tags[1] < tags[2] == tags[3] < tags[4], "one tag per batch: its own commit"
    assert await _queued(env, ids) == ids, "one push per phone, none doubled"
    await service.shops.change_program(changed.shop, ProgramChange(name="Café Sonne"))
    assert await _queued(env, ids) == ids, "pushes still waiting take the next refresh along"


async def _tags_and_ids(env: Env, serials: list[str]) -> tuple[list[int], list[int]]:
    query = select(cards.c.update_tag, cards.c.id).where(cards.c.serial.in_(serials))
    async with env.service.store.reading() as conn:
        rows = (await conn.execute(query.order_by(cards.c.id))).all()
    return [row.update_tag for row in rows], [row.id for row in rows]


async def _queued(env: Env, card_ids: list[int]) -> list[int]:
    query = select(push_outbox.c.card_id).where(push_outbox.c.card_id.in_(card_ids))
    async with env.service.store.reading() as conn:
        return sorted((await conn.execute(query)).scalars().all())


async def test_a_refused_change_changes_nothing(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    phone = await phone_for(env, await new_card(env, key))
    shop = await env.service.shops.authenticate(key)
    for change, field in (
        (ProgramChange(name=" "), "name"),
        (ProgramChange(name="Café\nMond"), "name"),
        (ProgramChange(name="Mond", colours={"background_color": "green"}), "background_color"),
        (ProgramChange(name="Mond", colours={"label_color": "#12"}), "label_color"),
        (ProgramChange(name="Mond", tiers=[(10, "x")]), "tiers"),
        (ProgramChange(name="Mond", limits={"stamp_expiry_days": 0}), "stamp_expiry_days"),
    ):
        with pytest.raises(BadSetting) as refused:
            await env.service.shops.change_program(shop, change)
        assert refused.value.name == field
    assert (await env.service.shops.authenticate(key)).name == shop.name
    assert (await phone.refresh()).status_code == 304, "the pass is as it was"


async def test_the_dashboard_says_how_many_passes_a_change_updates(pages: Pages) -> None:
    shop, key = await pages.shop()
    client = pages.browser()
    card = (await client.post("/api/v1/cards", headers=auth(key))).json()
    pkpass = (await client.get(card["urls"]["apple"])).content
    phone = Phone(client, pkpass, pages.service.settings.certs_dir / "wwdr.pem")
    assert await phone.register() == 201
    await phone.changed_serials()
    assert (await phone.refresh()).status_code == 200
    owner, token = await signed_in_owner(pages, shop, key)
    page = (await owner.get(f"/dashboard/{shop.slug}")).text
    assert "A change updates every card in a wallet (now 1)" in page
    assert re.search(r'name="background_color" type="color" value="#3B2A20"', page)
    rules = {"daily_cap": "", "messages_per_week": "2", "holdout_percent": "10"}
    rules |= {"welcome_stamps": "0", "stamp_expiry_days": "", "reward_expiry_days": ""}
    look = {"shop_name": "Café Mond", "background_color": "#1f6f50", "label_color": "#ffffff"}
    path = f"/dashboard/{shop.slug}/program"
    bad = await owner.post(path, data={"csrf": token, **rules, **look, "label_color": "weiß"})
    assert bad.status_code == 422 and "Labels: please give a colour like #3B2A20." in bad.text
    empty = await owner.post(path, data={"csrf": token, **rules, **look, "shop_name": " "})
    assert (
        empty.status_code == 422 and "The name needs 1 to 200 printable characters." in empty.text
    )
    assert (await phone.refresh()).status_code == 304, "a refused form changes nothing"
    saved = await owner.post(path, data={"csrf": token, **rules, **look})
    assert saved.status_code == 303 and "refreshed=1" in saved.headers["location"]
    page = (await owner.get(saved.headers["location"])).text
    assert "Rules saved. Cards in wallets being updated: 1." in page
    assert "<h1>Café Mond</h1>" in page
    assert await phone.changed_serials() == [card["serial"]]
    fetched = await phone.refresh()
    shown_now = verify_pkpass(fetched.content, phone.ca)
    assert (shown_now["organizationName"], shown_now["backgroundColor"]) == (
        "Café Mond",
        "rgb(31, 111, 80)",
    )
    unchanged = await owner.post(path, data={"csrf": token, **rules, **look})
    assert "refreshed=0" in unchanged.headers["location"]
    assert (await phone.refresh()).status_code == 304, "the same settings refresh nothing"


@pytest.mark.slow
async def test_the_command_line_refreshes_and_refuses_clearly(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    phone = await phone_for(env, await new_card(env, key))
    slug = (await env.service.shops.authenticate(key)).slug
    cli = passes_env(env.settings.database_url, env.settings.certs_dir)
    red = run(cli, "shop", "settings", "--shop", slug, "--background", "red", ok=False)
    assert red.returncode == 1
    assert "background_color: colour 'red' is not a hex colour" in red.stderr
    empty = run(cli, "shop", "settings", "--shop", slug, "--name", " ", ok=False)
    assert empty.returncode == 1 and "the shop name must be 1 to 200" in empty.stderr
    assert (await phone.refresh()).status_code == 304, "refused: nothing changed"
    refreshed = run(cli, "shop", "refresh", "--shop", slug)
    assert "passes refreshed: 1" in refreshed.stdout
    assert "refreshing passes: 1 of 1" in refreshed.stderr, "progress on stderr"
    assert phone.serial in await phone.changed_serials()
    assert (await phone.refresh()).status_code == 200


async def test_stamps_during_a_refresh_count_once_and_the_phones_see_both(env: Env) -> None:
    key = await env.new_shop(stamps=20)
    held = [await new_card(env, key) for _ in range(12)]
    phones = [await phone_for(env, card) for card in held]
    for card in held:  # each card remembered by this process's compare-and-set writer
        await stamp(env, key, card["serial"])
    service = Service(replace(env.settings, refresh_batch=3), env.service.store)
    shop = await service.shops.authenticate(key)
    stamping = [stamp(env, key, card["serial"]) for card in held for _ in range(2)]
    refreshing = service.shops.change_program(shop, ProgramChange(name="Café Mond"))
    *_, changed = await asyncio.gather(*stamping, refreshing)
    assert changed.refreshed == 12
    for phone, card in zip(phones, held, strict=True):
        shown_now = await shown(env, key, card["serial"])
        assert shown_now["total_stamps"] == 3, "no stamp lost or doubled"
        assert shown_now["version"] == 1 + 3 + 1, "issue, three stamps, one refresh"
        assert card["serial"] in await phone.changed_serials()
        fetched = verify_pkpass((await phone.refresh()).content, phone.ca)
        assert fetched["organizationName"] == "Café Mond"
        assert fetched["storeCard"]["secondaryFields"][0]["value"] == "3 / 20"


async def test_sqlite_never_hands_out_a_ledger_id_twice(tmp_path: Path) -> None:
    # A refresh's update tag on SQLite is a ledger id no event gets (store/refresh.py). SQLite
    # reflection does not see AUTOINCREMENT: a later migration that rebuilds card_events must
    # pass table_kwargs={"sqlite_autoincrement": True}, or this fails.
    store = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    await store.migrate()
    async with store.reading() as conn:
        ddl = (
            await conn.execute(
                text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'card_events'")
            )
        ).scalar_one()
    await store.close()
    assert "AUTOINCREMENT" in ddl
