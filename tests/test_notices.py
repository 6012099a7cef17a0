"""What the iPhone's lock screen says after each kind of change, on SQLite and PostgreSQL.

The phone is modelled as iOS behaves: it compares the pass it holds with the new one; a field
whose value changed and that carries a `changeMessage` notifies with that message ("%@" is
the new value, both looked up in the pass's strings); two such fields at once give only the
generic "Store card changed"; none gives no notice at all.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from passes.campaigns import Campaigns
from passes.jobs import Job
from passes.push import PushWorker
from passes.store.branches import Location
from tests.api_calls import message, new_card, stamp
from tests.conftest import Env, auth
from tests.pkpass_check import verify_pkpass

GENERIC = "Store card changed"


class Phone:
    """One pass in one Wallet, in German or English."""

    def __init__(self, env: Env, card: dict[str, Any], language: str = "de") -> None:
        self.env, self.card, self.language = env, card, language
        self.pass_json: dict[str, Any] = {}

    async def update(self) -> str | None:
        """Fetch the pass again; what the lock screen shows for the change (None: nothing)."""
        pkpass = (await self.env.client.get(self.card["urls"]["apple"])).content
        new = verify_pkpass(pkpass, self.env.settings.certs_dir / "wwdr.pem")
        strings = _strings(pkpass, self.language)
        old_values = {key: field["value"] for key, field in _fields(self.pass_json).items()}
        announced = [
            field
            for key, field in _fields(new).items()
            if "changeMessage" in field and old_values.get(key) != field["value"]
        ]
        self.pass_json = new
        if not announced:
            return None
        if len(announced) > 1:
            return GENERIC
        field = announced[0]
        template = strings[field["changeMessage"]]
        assert "%@" in template, f"{field['changeMessage']} lost its %@"
        return template.replace("%@", str(strings.get(str(field["value"]), field["value"])))

    def changed_fields(self) -> set[str]:
        return set(_fields(self.pass_json))


def _fields(pass_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    groups = pass_json.get("storeCard", {}).values()
    return {field["key"]: field for group in groups for field in group}


def _strings(pkpass: bytes, language: str) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        text = archive.read(f"{language}.lproj/pass.strings").decode()
    pairs = re.findall(r'^"((?:[^"\\]|\\.)*)"\s*=\s*"((?:[^"\\]|\\.)*)";', text, re.M)
    return {key: value.replace('\\"', '"') for key, value in pairs}


async def _undo_last(env: Env, key: str, card: dict[str, Any]) -> Any:
    path = f"/api/v1/cards/{card['serial']}/stamps/{card['last_change_id']}"
    undone = await env.client.delete(path, headers=auth(key))
    assert undone.status_code == 200, undone.text
    return undone.json()


async def _redeem(env: Env, key: str, serial: str, **body: Any) -> Any:
    path = f"/api/v1/cards/{serial}/redeem"
    redeemed = await env.client.post(path, json=body or None, headers=auth(key))
    assert redeemed.status_code == 200, redeemed.text
    return redeemed.json()


async def test_each_change_announces_one_thing_or_nothing(env: Env) -> None:
    key = await env.new_shop(stamps=3, reward="1 Vita Mix gratis")
    card = await new_card(env, key)
    phone, english = Phone(env, card), Phone(env, card, "en")
    assert await phone.update() is None and await english.update() is None
    assert "notice" in phone.changed_fields(), "the notice is there before the first stamp"

    first = await stamp(env, key, card["serial"])
    assert await phone.update() == "Neuer Stempel: 1 / 3"
    assert await english.update() == "New stamp: 1 / 3"

    completing = await stamp(env, key, card["serial"], 2)
    assert completing["rewards_available"] == 1
    assert await phone.update() == "Ihre Prämie ist bereit: 1 Vita Mix gratis"
    assert await english.update() == "Your reward is ready: 1 Vita Mix gratis"

    await _undo_last(env, key, completing)
    assert await phone.update() is None, "an undo announces nothing, least of all a new stamp"
    await _undo_last(env, key, first)
    assert await phone.update() is None

    await stamp(env, key, card["serial"], 3)
    assert await phone.update() == "Ihre Prämie ist bereit: 1 Vita Mix gratis", (
        "the same reward again is announced again"
    )
    await stamp(env, key, card["serial"], 3)
    assert await phone.update() == "Ihre Prämie ist bereit: 2 × 1 Vita Mix gratis"
    await _redeem(env, key, card["serial"])
    assert await phone.update() is None, "redeeming one of several rewards is no news"
    await _redeem(env, key, card["serial"])
    assert await phone.update() is None
    shown = _fields(phone.pass_json)["notice"]
    assert (shown["label"], shown["value"]) == ("notice_latest_label", "notice_redeemed")

    await stamp(env, key, card["serial"])
    assert await phone.update() == "Neuer Stempel: 1 / 3", "after a redeem the next stamp shows"

    shop = await env.service.shops.authenticate(key)
    await env.service.shops.add_location(shop, Location("Sonnenallee 1", 52.48, 13.43))
    assert await phone.update() is None, "a refresh of every pass announces nothing"

    voided = await env.client.post(f"/api/v1/cards/{card['serial']}/void", headers=auth(key))
    if voided.status_code == 200:
        assert await phone.update() is None, "voiding is shown, not announced"


async def test_a_campaign_announces_its_text_and_its_surprise_stamps_quietly(env: Env) -> None:
    key = await env.new_shop(stamps=3)
    await env.service.shops.update_program(
        await env.service.shops.authenticate(key), holdout_percent=0
    )
    card = await new_card(env, key)
    await stamp(env, key, card["serial"], 2)
    phone = Phone(env, card)
    await phone.update()
    campaigns = Campaigns(env.service.store, lambda: None)
    shop = await env.service.shops.authenticate(key)
    await campaigns.send(shop, "Danke! Ein Stempel geht auf uns.", "all", bonus=1)
    await _deliver_campaigns(env)
    assert await phone.update() == "Danke! Ein Stempel geht auf uns."
    front = _fields(phone.pass_json)
    assert front["stamps"]["value"] == "0 / 3", "the surprise stamp completed the card"
    assert front["reward"]["label"] == "reward_due_label"


async def test_a_promotion_announces_the_stamps_it_gave_once(env: Env) -> None:
    key = await env.new_shop(stamps=4)
    await env.service.shops.update_program(
        await env.service.shops.authenticate(key), holdout_percent=0
    )
    card = await new_card(env, key)
    phone = Phone(env, card)
    await phone.update()
    ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    started = await message(env, key, text="Heute doppelt!", multiplier=2, ends_at=ends)
    assert started.status_code == 202, started.text
    await _deliver_campaigns(env)
    assert await phone.update() == "Heute doppelt!"
    await stamp(env, key, card["serial"])
    assert await phone.update() == "Bonusstempel! Jetzt 2 / 4"
    await stamp(env, key, card["serial"])
    assert await phone.update() == "Ihre Prämie ist bereit: 1 Vita Mix gratis", (
        "the stamp made the reward due; its promotion stamps keep that the news"
    )


async def test_a_referral_announces_the_bonus_on_both_cards(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    referrer = await new_card(env, key)
    phone = Phone(env, referrer)
    await phone.update()
    response = await env.client.post(
        "/api/v1/cards", json={"referrer": referrer["serial"]}, headers=auth(key)
    )
    if response.status_code != 201:
        pytest.skip(f"referrals take another shape here: {response.text}")
    friend = response.json()
    await stamp(env, key, friend["serial"])
    assert await phone.update() == "Bonusstempel! Jetzt 1 / 10"


async def _deliver_campaigns(env: Env) -> None:
    campaigns = Campaigns(env.service.store, lambda: None)
    worker = PushWorker(
        env.service.store,
        [],
        backoff=lambda attempt: 0.0,
        jobs=[Job("scheduled campaigns", campaigns.resolve_due)],
    )
    for _ in range(20):  # other tests may have left work in this database
        if not await worker.run_once():
            break
