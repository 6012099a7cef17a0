"""Reaching customers from the dashboard and the command line: the campaign form's promotion,
the rules form's long-standing customers, `passes message send --multiplier`."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import auth
from tests.live import create_shop, passes_env, run
from tests.pages_client import Pages, signed_in_owner

LOCAL = "%Y-%m-%dT%H:%M"


def _local(**delta: float) -> str:
    return (datetime.now() + timedelta(**delta)).strftime(LOCAL)


async def test_the_campaign_form_starts_a_promotion(pages: Pages) -> None:
    shop, key = await pages.shop()
    serials = [(await pages.service.issuing.issue_card(shop, "test")).card.serial for _ in range(2)]
    await pages.service.shops.update_program(shop, holdout_percent=0)
    owner, token = await signed_in_owner(pages, shop, key)
    page = (await owner.get(f"/dashboard/{shop.slug}")).text
    assert 'name="multiplier"' in page and "Every stamp counts 2 times" in page
    path = f"/dashboard/{shop.slug}/campaigns"
    draft = {"csrf": token, "segment": "all", "text": "Double stamps this weekend!"}
    too_long = {**draft, "multiplier": "2", "ends_at": _local(days=20), "action": "send"}
    refused = await owner.post(path, data=too_long)
    assert refused.status_code == 422 and "at most 14 days long" in refused.text
    assert 'value="2" selected' in refused.text, "the draft stays"
    garbled = await owner.post(path, data={**too_long, "multiplier": "9"})
    assert garbled.status_code == 422
    sent = await owner.post(path, data={**too_long, "ends_at": _local(days=2)})
    assert sent.status_code == 303, sent.text
    history = (await owner.get(sent.headers["location"])).text
    assert re.search(r'class="meta promotion">×2 ', history)
    client = pages.browser()
    stamped = await client.post(
        f"/api/v1/cards/{serials[0]}/stamps", json={"count": 1}, headers=auth(key)
    )
    assert stamped.json()["total_stamps"] == 2, "the promotion applies at once in this process"


async def test_the_rules_form_sets_long_standing_customers(pages: Pages) -> None:
    shop, key = await pages.shop()
    owner, token = await signed_in_owner(pages, shop, key)
    path = f"/dashboard/{shop.slug}/program"
    rules = {
        "daily_cap": "",
        "messages_per_week": "2",
        "holdout_percent": "10",
        "welcome_stamps": "0",
    }
    loyal = {
        "loyal_after_cards": "3",
        "loyal_after_months": "",
        "loyal_bonus_stamps": "2",
        "loyal_perk": "Always 10 % off cake",
    }
    bad = await owner.post(path, data={"csrf": token, **rules, **loyal, "loyal_bonus_stamps": "99"})
    assert (
        bad.status_code == 422 and "One-time bonus stamps for it: please a whole number" in bad.text
    )
    long_perk = await owner.post(
        path, data={"csrf": token, **rules, **loyal, "loyal_perk": "x" * 150}
    )
    assert long_perk.status_code == 422 and "at most 100 characters" in long_perk.text
    unchanged = await pages.service.shops.shop(shop.slug)
    assert unchanged.program.loyal_after_cards == 0, "a refused form changes nothing"
    saved = await owner.post(path, data={"csrf": token, **rules, **loyal})
    assert saved.status_code == 303
    page = (await owner.get(saved.headers["location"])).text
    assert re.search(r'name="loyal_after_cards"[^>]*value="3"', page)
    assert 'value="Always 10 % off cake"' in page
    program = (await pages.service.shops.shop(shop.slug)).program
    assert (program.loyal_after_cards, program.loyal_after_months) == (3, 0)
    assert (program.loyal_bonus_stamps, program.loyal_perk) == (2, "Always 10 % off cake")


@pytest.mark.slow
def test_message_send_with_a_multiplier(tmp_path: Path, certs_dir: Path) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir)
    create_shop(env, slug="eck")
    run(env, "shop", "settings", "--shop", "eck", "--holdout", "0")
    serial = json.loads(run(env, "card", "issue", "--shop", "eck", "--json").stdout)["serial"]
    until = (datetime.now() + timedelta(days=2)).strftime(LOCAL)
    refused = run(
        env, "message", "send", "--shop", "eck", "--from", _local(hours=1), "Hallo", ok=False
    )
    assert refused.returncode != 0 and "--multiplier" in refused.stderr
    too_much = run(
        env,
        "message",
        "send",
        "--shop",
        "eck",
        "--multiplier",
        "9",
        "--until",
        until,
        "Hallo",
        ok=False,
    )
    assert too_much.returncode == 1 and "multiplier must be 2 to 5" in too_much.stderr
    sent = run(
        env,
        "message",
        "send",
        "--shop",
        "eck",
        "--multiplier",
        "2",
        "--until",
        until,
        "Doppelte Stempel bis Sonntag!",
    )
    assert "recipients: 1" in sent.stdout and "promotion: stamps count 2x" in sent.stdout
    stamped = json.loads(run(env, "card", "stamp", serial, "--json").stdout)
    assert stamped["total_stamps"] == 2
