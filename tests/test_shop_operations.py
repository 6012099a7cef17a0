"""Everyday shop operations: the main reward and its stamps (cards in progress keep theirs, a
lowered goal makes the reward due at once), removing a location, listing shops, the root page
and the favicon; through the dashboard and API over HTTP and the command line."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from passes import loyalty
from passes.app import create_app
from passes.program import ProgramChange
from passes.store.branches import Location
from tests.api_calls import stamp
from tests.conftest import BASE_URL, Env, auth
from tests.live import passes_env, run
from tests.pages_client import Pages, signed_in_owner
from tests.phones import Phone
from tests.pkpass_check import verify_pkpass

RULES = {
    "daily_cap": "",
    "messages_per_week": "2",
    "holdout_percent": "10",
    "welcome_stamps": "0",
    "stamp_expiry_days": "",
    "reward_expiry_days": "",
}


def fields_of(pass_json: dict[str, Any]) -> dict[str, Any]:
    return {f["key"]: f["value"] for group in pass_json["storeCard"].values() for f in group}


async def card_in_wallet(pages: Pages, key: str, stamps: int) -> tuple[dict[str, Any], Phone]:
    client = pages.browser()
    card = (await client.post("/api/v1/cards", headers=auth(key))).json()
    if stamps:
        headers = {**auth(key), "Idempotency-Key": f"k-{card['serial']}"}
        path = f"/api/v1/cards/{card['serial']}/stamps"
        assert (await client.post(path, json={"count": stamps}, headers=headers)).status_code == 200
    pkpass = (await client.get(card["urls"]["apple"])).content
    phone = Phone(client, pkpass, pages.service.settings.certs_dir / "wwdr.pem")
    assert await phone.register() == 201
    await phone.changed_serials()
    assert (await phone.refresh()).status_code == 200
    return card, phone


async def test_a_lower_goal_makes_the_reward_due_at_once_and_updates_passes(
    pages: Pages,
) -> None:
    shop, key = await pages.shop(stamps=10)
    near, phone = await card_in_wallet(pages, key, 8)
    early, _ = await card_in_wallet(pages, key, 3)
    owner, token = await signed_in_owner(pages, shop, key)
    page = (await owner.get(f"/dashboard/{shop.slug}")).text
    assert re.search(r'name="stamps_required" type="number"[^>]* value="10"', page)
    assert "Cards that already have the new number get the reward at once" in page

    path = f"/dashboard/{shop.slug}/program"
    goal = {"stamps_required": "6", "reward": "1 Smoothie"}
    saved = await owner.post(path, data={"csrf": token, **RULES, **goal})
    assert saved.status_code == 303 and "refreshed=2" in saved.headers["location"]

    api = pages.browser()
    after = (await api.get(f"/api/v1/cards/{near['serial']}", headers=auth(key))).json()
    assert (after["stamps"], after["stamps_required"], after["rewards_available"]) == (2, 6, 1)
    assert after["total_stamps"] == 8, "nothing was stamped"
    kept = (await api.get(f"/api/v1/cards/{early['serial']}", headers=auth(key))).json()
    assert (kept["stamps"], kept["rewards_available"]) == (3, 0), "in progress: keeps its stamps"

    assert await phone.changed_serials() == [near["serial"]]
    shown = verify_pkpass((await phone.refresh()).content, phone.ca)
    assert fields_of(shown)["stamps"] == "2 / 6"
    assert "1 Smoothie" in fields_of(shown)["reward"]
    assert fields_of(shown)["notice"] == "1 Smoothie", "the lock screen says the reward is ready"
    redeemed = await api.post(f"/api/v1/cards/{near['serial']}/redeem", headers=auth(key))
    assert redeemed.status_code == 200 and redeemed.json()["rewards_available"] == 0


async def test_the_goal_form_refuses_clearly_and_changes_nothing(pages: Pages) -> None:
    shop, key = await pages.shop(stamps=10)
    await pages.service.shops.set_tiers(shop, [(8, "1 Cookie")])
    _, phone = await card_in_wallet(pages, key, 4)
    owner, token = await signed_in_owner(pages, shop, key)
    path = f"/dashboard/{shop.slug}/program"
    cases = {
        "6": "The intermediate rewards must lie below the main reward&#39;s stamps",
        "31": "Stamps for the main reward: please",
        "x": "whole number from 1 to 30.",
    }
    for stamps, said in cases.items():
        form = {"csrf": token, **RULES, "stamps_required": stamps, "reward": "1 Tee"}
        refused = await owner.post(path, data=form)
        assert refused.status_code == 422 and said in refused.text, refused.text
        assert f'value="{stamps}"' in refused.text, "the form comes back as typed"
    blank = await owner.post(path, data={"csrf": token, **RULES, "reward": " "})
    assert blank.status_code == 422 and "The reward needs 1 to 200 characters." in blank.text
    assert (await phone.refresh()).status_code == 304, "a refused form changes nothing"
    fresh = await pages.service.shops.shop(shop.slug)
    assert (fresh.program.stamps_required, fresh.program.reward) == (10, "1 Vita Mix gratis")


async def test_a_higher_goal_keeps_due_rewards_as_the_main_reward(env: Env) -> None:
    key = await env.new_shop(stamps=4)
    card = (await env.client.post("/api/v1/cards", headers=auth(key))).json()
    await stamp(env, key, card["serial"], count=5)
    shop = await env.service.shops.authenticate(key)
    await env.service.shops.change_program(
        shop, ProgramChange(stamps_required=12, reward="1 Kuchen")
    )
    now = (await env.client.get(f"/api/v1/cards/{card['serial']}", headers=auth(key))).json()
    assert (now["stamps"], now["stamps_required"], now["rewards_available"]) == (1, 12, 1)
    assert [(r["at"], r["reward"], r["due"]) for r in now["rewards"]] == [(12, "1 Kuchen", 1)]
    await stamp(env, key, card["serial"], count=10)
    again = (await env.client.get(f"/api/v1/cards/{card['serial']}", headers=auth(key))).json()
    assert (again["stamps"], again["rewards_available"]) == (11, 1), "12 now, not 4"


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return passes_env(f"sqlite:///{tmp_path / 'passes.db'}", tmp_path / "certs")


@pytest.mark.slow
def test_the_command_line_changes_stamps_and_reward(cli_env: dict[str, str]) -> None:
    run(cli_env, "init")
    run(cli_env, "shop", "create", "--name", "Teeladen", "--stamps", "10", "--reward", "1 Tee")
    serial = _issue(cli_env, "teeladen")
    run(cli_env, "card", "stamp", serial, "--count", "7")
    changed = run(
        cli_env, "shop", "settings", "--shop", "teeladen", "--stamps", "5", "--reward", "1 Chai"
    ).stdout
    assert "reward at  5:      1 Chai" in changed
    assert "cards in progress: keep their stamps" in changed and "1 card got it now" in changed
    shown = run(cli_env, "card", "show", serial).stdout
    assert "stamps:  2 / 5" in shown and "rewards: 1 due" in shown
    bad = run(cli_env, "shop", "settings", "--shop", "teeladen", "--stamps", "0", ok=False)
    assert bad.returncode == 1 and "stamps required must be 1 to 30" in bad.stderr
    run(cli_env, "shop", "settings", "--shop", "teeladen", "--tier", "4=1 Keks")
    below = run(cli_env, "shop", "settings", "--shop", "teeladen", "--stamps", "3", ok=False)
    assert "the reward tiers (4 stamps) must lie below the 3 stamps required" in below.stderr
    both = ("--stamps", "3", "--tier", "2=1 Keks")
    assert (
        "reward at  3:      1 Chai"
        in run(cli_env, "shop", "settings", "--shop", "teeladen", *both).stdout
    )


def _issue(env: dict[str, str], slug: str) -> str:
    found = re.search(r"serial:\s+(\S+)", run(env, "card", "issue", "--shop", slug).stdout)
    assert found
    return found.group(1)


@pytest.mark.slow
def test_shops_are_listed_with_their_links(cli_env: dict[str, str]) -> None:
    run(cli_env, "init")
    assert "no shops yet" in run(cli_env, "shop", "list").stdout
    created = run(cli_env, "shop", "create", "--name", "Café Sonne", "--reward", "1 Kaffee").stdout
    base = "http://127.0.0.1:8000"
    for line in (
        f"join:      {base}/join/cafe-sonne",
        f"staff:     {base}/staff/cafe-sonne",
        f"dashboard: {base}/dashboard/cafe-sonne",
    ):
        assert line in created, created
    run(cli_env, "shop", "create", "--name", "Apfelbaum", "--reward", "1 Apfel")
    _issue(cli_env, "cafe-sonne")
    listed = run(cli_env, "shop", "list").stdout
    assert listed.index("apfelbaum  Apfelbaum  (0 cards)") < listed.index(
        "cafe-sonne  Café Sonne  (1 card)"
    )
    assert f"poster:    {base}/join/apfelbaum/poster" in listed


@pytest.mark.slow
def test_locations_are_listed_and_removed_from_the_command_line(cli_env: dict[str, str]) -> None:
    run(cli_env, "init")
    run(cli_env, "shop", "create", "--name", "Sonne", "--reward", "1 Kaffee")
    for address, lat in (("Sonnenallee 1", "52.48"), ("Karl-Marx-Str. 2", "52.47")):
        run(
            cli_env,
            *("shop", "location", "--shop", "sonne", "--address", address),
            *("--lat", lat, "--lon", "13.43"),
        )
    listed = run(cli_env, "shop", "location", "--shop", "sonne").stdout
    assert " 1. 52.48000, 13.43000  Sonnenallee 1" in listed
    assert " 2. 52.47000, 13.43000  Karl-Marx-Str. 2" in listed
    removed = run(cli_env, "shop", "location", "--shop", "sonne", "--delete", "1").stdout
    assert "Sonnenallee" not in removed and " 1. 52.47000" in removed
    assert "passes refreshed: 0" in removed
    missing = run(cli_env, "shop", "location", "--shop", "sonne", "--delete", "5", ok=False)
    assert missing.returncode == 1 and "no location 5 (the shop has 1)" in missing.stderr
    half = run(cli_env, "shop", "location", "--shop", "sonne", "--lat", "1", ok=False)
    assert half.returncode == 2 and "--address, --lat and --lon" in half.stderr


async def test_the_dashboard_removes_a_location_from_every_pass(pages: Pages) -> None:
    shop, key = await pages.shop()
    for address, lat in (("Sonnenallee 1", 52.48), ("Karl-Marx-Str. 2", 52.47)):
        await pages.service.shops.add_location(shop, Location(address, lat, 13.43))
    _, phone = await card_in_wallet(pages, key, 1)
    owner, token = await signed_in_owner(pages, shop, key)
    page = (await owner.get(f"/dashboard/{shop.slug}")).text
    assert 'aria-label="Remove location Sonnenallee 1"' in page
    path = f"/dashboard/{shop.slug}/locations/delete"
    stale = await owner.post(path, data={"csrf": token, "position": "1", "address": "Elsewhere"})
    assert stale.status_code == 409 and "The locations have changed" in stale.text
    assert (await phone.refresh()).status_code == 304, "nothing removed"
    form = {"csrf": token, "position": "1", "address": "Sonnenallee 1"}
    removed = await owner.post(path, data=form)
    assert removed.status_code == 303
    shown = (await owner.get(removed.headers["location"])).text
    assert "Location removed." in shown and "Sonnenallee 1" not in shown
    assert [p.address for p in await pages.service.shops.locations(shop)] == ["Karl-Marx-Str. 2"]
    assert await phone.changed_serials() == [phone.serial]
    pass_json = verify_pkpass((await phone.refresh()).content, phone.ca)
    assert [place["latitude"] for place in pass_json["locations"]] == [52.47]
    anonymous = pages.browser()
    token_page = await anonymous.get(f"/dashboard/{shop.slug}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', token_page.text)
    assert csrf
    refused = await anonymous.post(path, data={"csrf": csrf.group(1), "position": "1"})
    assert refused.status_code == 403, "signed-in owners only"
    assert len(await pages.service.shops.locations(shop)) == 1


async def test_the_root_page_says_where_a_visitor_is(pages: Pages, env: Env) -> None:
    shop, _ = await pages.shop()
    client = pages.browser(**{"Accept-Language": "en"})
    home = await client.get("/")
    assert home.status_code == 200 and "<h1>Digital stamp cards</h1>" in home.text
    assert "Scan the QR code at your shop" in home.text and "passes shop list" in home.text
    assert shop.slug not in home.text, "shops stay unlisted unless the operator opts in"
    assert '<link rel="icon" href="/favicon.ico"' in home.text

    listing = create_app(replace(env.settings, list_shops=True))
    transport = httpx.ASGITransport(app=listing)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as other:
        listed = (await other.get("/", headers={"Accept-Language": "de"})).text
    await listing.state.service.store.close()
    assert "<h1>Digitale Stempelkarten</h1>" in listed
    assert f'<a href="{BASE_URL}/join/{shop.slug}">Café Sonne</a>' in listed


async def test_the_favicon_is_an_icon(env: Env, tmp_path: Path) -> None:
    icon = await env.client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    (tmp_path / "favicon.ico").write_bytes(icon.content)
    with Image.open(tmp_path / "favicon.ico") as image:
        assert image.format == "ICO" and (32, 32) in image.info["sizes"]
    page = await env.client.get("/join/nope")
    assert '<link rel="icon" href="/favicon.ico"' in page.text


def test_a_card_stamped_under_the_old_goal_gets_its_reward_with_the_next_stamp() -> None:
    # A process that still had the old program cached (up to 30 s) may leave a card past
    # a lowered goal; the next stamp settles it instead of counting past the reward.
    program = loyalty.Program(6, "1 Smoothie")
    behind = loyalty.CardState(stamps=8, total_stamps=8)
    assert loyalty.next_reward(program, behind) == (1, "1 Smoothie")
    after = loyalty.stamp(program, behind, 1)
    assert (after.stamps, after.rewards_available, after.total_stamps) == (3, 1, 9)


async def test_the_whole_rules_form_with_every_tier_row_is_taken(pages: Pages) -> None:
    shop, key = await pages.shop(stamps=12)
    owner, token = await signed_in_owner(pages, shop, key)
    look = {"shop_name": "Café Sonne", "background_color": "#3B2A20", "foreground_color": "#FFFFFF"}
    look |= {"label_color": "#F2C879", "stamp_color": "#F2C879"}
    loyal = {"loyal_after_cards": "0", "loyal_after_months": "0", "loyal_bonus_stamps": "0"}
    loyal |= {"loyal_perk": ""}
    tiers = {f"tier_at_{i}": str(i * 2) for i in range(1, 6)}
    tiers |= {f"tier_reward_{i}": f"{i} Keks" for i in range(1, 6)}
    form = {"csrf": token, **RULES, **look, **loyal, **tiers, "stamps_required": "11"}
    saved = await owner.post(f"/dashboard/{shop.slug}/program", data={**form, "reward": "1 Tee"})
    assert saved.status_code == 303, saved.text
    program = (await pages.service.shops.shop(shop.slug)).program
    assert (program.stamps_required, len(program.tiers)) == (11, 5)
    flood = {**form, **{f"x{i}": "1" for i in range(40)}}
    refused = await owner.post(f"/dashboard/{shop.slug}/program", data=flood)
    assert refused.status_code == 413, "too many fields: refused, not a server error"
