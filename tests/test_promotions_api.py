"""Reaching customers over HTTP, on SQLite and PostgreSQL: stamp promotions, scheduled campaigns
that take their segment when sent, long-standing customers, locations that refresh passes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, update

from passes.campaigns import Campaigns
from passes.jobs import Job
from passes.push import PushWorker
from passes.store.branches import Location
from passes.store.tables import cards
from tests.api_calls import message, new_card, stamp
from tests.conftest import Env, auth
from tests.phones import Phone
from tests.pkpass_check import verify_pkpass


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def pass_json(env: Env, card: dict[str, Any]) -> dict[str, Any]:
    pkpass = (await env.client.get(card["urls"]["apple"])).content
    return dict(verify_pkpass(pkpass, env.settings.certs_dir / "wwdr.pem"))


async def test_a_promotion_doubles_the_recipients_stamps_once(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    serials = [(await new_card(env, key))["serial"] for _ in range(10)]
    # A stamp before the promotion: this process now remembers "no promotions".
    assert (await stamp(env, key, serials[0]))["total_stamps"] == 1
    sent = await message(
        env, key, text="Doppelte Stempel bis Sonntag!", multiplier=2, ends_at=later(hours=2)
    )
    assert sent.status_code == 202, sent.text
    assert (sent.json()["recipients"], sent.json()["held_out"]) == (9, 1)
    idem = "visit-42"
    totals = []
    for serial in serials:
        totals.append((await stamp(env, key, serial, 2, idem=idem))["total_stamps"])
        again = await stamp(env, key, serial, 2, idem=idem)
        assert again["total_stamps"] <= totals[-1], "a retry stamps nothing more"
    for serial, total in zip(serials, totals, strict=True):
        shown = await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))
        assert shown.json()["total_stamps"] == total, "retries added nothing"
    totals[0] -= 1  # its stamp before the promotion
    assert sorted(totals) == [2] + [4] * 9, "the held-out card gets no promotion"
    figures = (await env.client.get("/api/v1/stats", headers=auth(key))).json()
    given = sum(day["stamps"] for day in figures["stamps_per_day"])
    assert given == 21, "stamps per day count the stamps given, not the promotion's extra"
    history = (await env.client.get("/api/v1/messages", headers=auth(key))).json()["campaigns"]
    assert history[0]["multiplier"] == 2 and history[0]["ends_at"] is not None


async def test_a_promotion_waits_for_its_start_and_overlaps_take_the_best(env: Env) -> None:
    key = await env.new_shop(stamps=30)
    await env.service.shops.update_program(
        await env.service.shops.authenticate(key), holdout_percent=0
    )
    serial = (await new_card(env, key))["serial"]
    soon = await message(
        env,
        key,
        text="Ab morgen dreifach",
        multiplier=3,
        starts_at=later(days=1),
        ends_at=later(days=2),
    )
    assert soon.status_code == 202, soon.text
    assert (await stamp(env, key, serial))["total_stamps"] == 1, "not before its start"
    await message(env, key, text="Heute doppelt", multiplier=2, ends_at=later(hours=1))
    await message(env, key, text="Auch heute doppelt", multiplier=2, ends_at=later(hours=1))
    assert (await stamp(env, key, serial))["total_stamps"] == 3, "overlaps do not multiply"


async def test_bad_promotions_are_refused(env: Env) -> None:
    key = await env.new_shop()
    await new_card(env, key)
    for body in (
        {"multiplier": 1, "ends_at": later(hours=1)},
        {"multiplier": 6, "ends_at": later(hours=1)},
        {"multiplier": "2", "ends_at": later(hours=1)},
        {"multiplier": True, "ends_at": later(hours=1)},
        {"multiplier": 2},
        {"multiplier": 2, "ends_at": "tomorrow"},
        {"multiplier": 2, "ends_at": "2030-01-01T09:00:00"},
        {"multiplier": 2, "ends_at": later(hours=-1)},
        {"multiplier": 2, "starts_at": later(days=3), "ends_at": later(days=2)},
        {"multiplier": 2, "ends_at": later(days=15)},
        {"multiplier": 2, "starts_at": later(days=31), "ends_at": later(days=32)},
        {"multiplier": 2, "ends_at": later(hours=1), "send_at": later(minutes=5)},
        {"ends_at": later(hours=1)},
    ):
        refused = await message(env, key, text="Aktion", **body)
        assert refused.status_code == 422, (body, refused.text)
        error = refused.json()["error"]
        assert error["code"] and error["message"]
    history = (await env.client.get("/api/v1/messages", headers=auth(key))).json()["campaigns"]
    assert history == [], "nothing refused was recorded"


@contextmanager
def statements(env: Env) -> Iterator[list[str]]:
    """The SQL the app sends meanwhile (both engines)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.append(sql)

    engines = {env.service.store.writer.sync_engine, env.service.store.reader.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def test_a_shop_without_promotions_asks_for_them_once_not_per_stamp(env: Env) -> None:
    key = await env.new_shop()
    serial = (await new_card(env, key))["serial"]
    with statements(env) as first:
        await stamp(env, key, serial)
    with statements(env) as second:
        for _ in range(3):
            await stamp(env, key, serial)
    asked = [sql for sql in first + second if "multiplier" in sql]
    assert len(asked) == 1, "the promotions are cached between stamps"
    assert len(second) < 3 * len(first), "later stamps cost fewer statements than the first"


async def test_a_scheduled_campaign_takes_its_segment_when_sent(env: Env) -> None:
    key = await env.new_shop(stamps=2)
    shop = await env.service.shops.authenticate(key)
    await env.service.shops.update_program(shop, holdout_percent=0)
    first, second = [await new_card(env, key) for _ in range(2)]
    scheduled = await message(
        env, key, text="Ihre Prämie wartet!", segment="reward_due", send_at=later(seconds=1)
    )
    assert scheduled.status_code == 202 and scheduled.json()["recipients"] == 0, "none is due yet"
    await stamp(env, key, first["serial"], 2)  # now a reward is due on the first card
    waiting = (await env.client.get("/api/v1/messages", headers=auth(key))).json()["campaigns"]
    assert waiting[0]["segment_taken_at"] is None and waiting[0]["finished_at"] is None
    await asyncio.sleep(1.1)
    campaigns = Campaigns(env.service.store, lambda: None)
    worker = PushWorker(
        env.service.store,
        [],
        backoff=lambda attempt: 0.0,
        jobs=[Job("scheduled campaigns", campaigns.resolve_due)],
    )
    assert await worker.run_once() >= 1
    history = (await env.client.get("/api/v1/messages", headers=auth(key))).json()["campaigns"]
    assert (history[0]["recipients"], history[0]["held_out"]) == (1, 0)
    assert history[0]["segment_taken_at"] is not None and history[0]["finished_at"] is not None
    news = {f["key"]: f for f in (await pass_json(env, first))["storeCard"]["backFields"]}
    assert news["notice"]["value"] == "Ihre Prämie wartet!"
    other = {f["key"] for f in (await pass_json(env, second))["storeCard"]["backFields"]}
    assert "news" not in other
    assert await worker.run_once() == 0, "taken once"


async def test_the_weekly_limit_is_counted_when_a_scheduled_campaign_is_sent(env: Env) -> None:
    key = await env.new_shop()
    await env.service.shops.update_program(
        await env.service.shops.authenticate(key), holdout_percent=0
    )
    for _ in range(3):
        await new_card(env, key)
    scheduled = await message(env, key, text="Später", send_at=later(seconds=1))
    assert scheduled.json()["recipients"] == 3
    for text in ("Eins", "Zwei"):  # the weekly limit (2) is reached meanwhile
        assert (await message(env, key, text=text)).json()["recipients"] == 3
    await asyncio.sleep(1.1)
    assert await Campaigns(env.service.store, lambda: None).resolve_due(datetime.now(UTC)) == 1
    history = (await env.client.get("/api/v1/messages", headers=auth(key))).json()["campaigns"]
    taken = next(row for row in history if row["text"] == "Später")
    assert (taken["recipients"], taken["over_limit"]) == (0, 3)


async def test_a_long_standing_card_gets_its_bonus_once_and_shows_the_perk(env: Env) -> None:
    key = await env.new_shop(stamps=2)
    shop = await env.service.shops.update_long_standing(
        await env.service.shops.authenticate(key),
        loyal_after_cards=2,
        loyal_bonus_stamps=1,
        perk="Immer 10 % auf Kuchen",
    )
    assert shop.program.loyal_perk == "Immer 10 % auf Kuchen"
    card = await new_card(env, key)
    await stamp(env, key, card["serial"], 2)
    fields = (await pass_json(env, card))["storeCard"]
    assert "auxiliaryFields" not in fields, "one card full: not yet long-standing"
    turned = await stamp(env, key, card["serial"], 2)
    assert turned["total_stamps"] == 5, "the second full card brings the one-time bonus"
    shown = (await pass_json(env, card))["storeCard"]
    perk = {f["key"]: f for f in shown["auxiliaryFields"]}
    assert perk["perk"]["value"] == "Immer 10 % auf Kuchen"
    # The same stamp filled the card: the reward is the one thing the lock screen says.
    notice = {f["key"]: f for f in shown["backFields"]}["notice"]
    assert notice["changeMessage"] == "notice_reward_changed"
    assert "changeMessage" not in perk["perk"]
    for _ in range(3):
        later_stamp = await stamp(env, key, card["serial"], 2)
    assert later_stamp["total_stamps"] == 11, "no second bonus"


async def test_months_since_joining_make_a_card_long_standing_at_its_next_stamp(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    await env.service.shops.update_long_standing(
        await env.service.shops.authenticate(key), loyal_after_months=6, loyal_bonus_stamps=2
    )
    old, young = await new_card(env, key), await new_card(env, key)
    async with env.service.store.transaction() as conn:  # a card that joined 7 months ago
        await conn.execute(
            update(cards)
            .where(cards.c.serial == old["serial"])
            .values(created_at=datetime.now(UTC) - timedelta(days=213))
        )
    assert (await stamp(env, key, old["serial"]))["total_stamps"] == 3
    assert (await stamp(env, key, young["serial"]))["total_stamps"] == 1
    assert (await stamp(env, key, old["serial"]))["total_stamps"] == 4


async def test_bad_long_standing_settings_are_refused(env: Env) -> None:
    from passes.errors import InvalidInput

    key = await env.new_shop()
    shop = await env.service.shops.authenticate(key)
    for changes in (
        {"loyal_after_cards": -1},
        {"loyal_after_cards": 51},
        {"loyal_after_months": 61},
        {"loyal_bonus_stamps": 11},
        {"perk": "x" * 101},
        {"perk": "tab\x07"},
    ):
        try:
            await env.service.shops.update_long_standing(shop, **changes)  # type: ignore[arg-type]
        except InvalidInput:
            continue
        raise AssertionError(f"{changes} was accepted")


async def test_a_new_location_refreshes_the_passes_in_wallets(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    card = await new_card(env, key)
    pkpass = (await env.client.get(card["urls"]["apple"])).content
    phone = Phone(env.client, pkpass, env.settings.certs_dir / "wwdr.pem")
    assert await phone.register() == 201
    await phone.changed_serials()
    assert (await phone.refresh()).status_code == 200
    assert await phone.changed_serials() == []
    shop = await env.service.shops.authenticate(key)
    await env.service.shops.add_location(shop, Location("Sonnenallee 1, Berlin", 52.4862, 13.4319))
    deliveries = await env.client.get(
        f"/api/v1/cards/{card['serial']}/deliveries", headers=auth(key)
    )
    assert deliveries.json()["pending_pushes"] >= 1, "the phone is told"
    assert await phone.changed_serials() == [card["serial"]]
    fetched = await phone.refresh()
    assert fetched.status_code == 200, "a new Last-Modified: the phone takes the new pass"
    shown = verify_pkpass(fetched.content, env.settings.certs_dir / "wwdr.pem")
    assert shown["locations"][0]["latitude"] == 52.4862
    unchanged = await env.client.get(f"/api/v1/cards/{card['serial']}", headers=auth(key))
    assert unchanged.json()["total_stamps"] == 0 and unchanged.json()["stamps"] == 0


async def test_undoing_a_promoted_stamp_takes_back_its_extra_stamps(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    await env.service.shops.update_program(
        await env.service.shops.authenticate(key), holdout_percent=0
    )
    serial = (await new_card(env, key))["serial"]
    await message(env, key, text="Dreifach!", multiplier=3, ends_at=later(hours=1))
    stamped = await stamp(env, key, serial, 2)
    assert (stamped["stamps"], stamped["total_stamps"]) == (6, 6)
    # Staff undo the card's last change: here the promotion's bonus, which means its stamp.
    path = f"/api/v1/cards/{serial}/stamps/{stamped['last_change_id']}"
    undone = await env.client.delete(path, headers=auth(key))
    assert undone.status_code == 200, undone.text
    assert (undone.json()["stamps"], undone.json()["total_stamps"]) == (0, 0)
    again = await env.client.delete(path, headers=auth(key))
    assert again.status_code == 200 and again.json()["total_stamps"] == 0, "once only"
    figures = (await env.client.get("/api/v1/stats", headers=auth(key))).json()
    assert sum(day["stamps"] for day in figures["stamps_per_day"]) == 0


async def test_a_changed_perk_refreshes_the_regulars_passes_only(env: Env) -> None:
    key = await env.new_shop(stamps=1)
    shop = await env.service.shops.update_long_standing(
        await env.service.shops.authenticate(key), loyal_after_cards=1, perk="Immer 10 % auf Kuchen"
    )
    regular, other = await new_card(env, key), await new_card(env, key)
    await stamp(env, key, regular["serial"])
    phones = []
    for card in (regular, other):
        pkpass = (await env.client.get(card["urls"]["apple"])).content
        phone = Phone(env.client, pkpass, env.settings.certs_dir / "wwdr.pem")
        assert await phone.register() == 201
        await phone.changed_serials()
        phones.append(phone)
    await env.service.shops.update_long_standing(shop, perk="Immer 10 % auf Kuchen")
    assert [await phone.changed_serials() for phone in phones] == [[], []], "same perk: no update"
    await env.service.shops.update_long_standing(shop, perk="Immer 20 % auf Kuchen")
    assert await phones[0].changed_serials() == [regular["serial"]]
    assert await phones[1].changed_serials() == [], "not a regular: nothing to show"
    shown = verify_pkpass((await phones[0].refresh()).content, env.settings.certs_dir / "wwdr.pem")
    assert shown["storeCard"]["auxiliaryFields"][0]["value"] == "Immer 20 % auf Kuchen"


async def test_two_campaigns_for_the_same_cards_land_in_one_round_in_order(env: Env) -> None:
    key = await env.new_shop()
    await env.service.shops.update_program(
        await env.service.shops.authenticate(key), holdout_percent=0
    )
    issued = [await new_card(env, key) for _ in range(3)]
    for text in ("Erste Nachricht", "Zweite Nachricht"):
        sent = await message(env, key, text=text, segment="all")
        assert sent.status_code == 202 and sent.json()["recipients"] == 3
    worker = PushWorker(env.service.store, [], backoff=lambda attempt: 0.0)
    assert await worker.run_once() >= 6, "both campaigns' messages in one batch"
    for card in issued:
        read = (await env.client.get(f"/api/v1/cards/{card['serial']}", headers=auth(key))).json()
        assert read["version"] == card["version"] + 2, "one change per message, none lost"
        back = {f["key"]: f for f in (await pass_json(env, card))["storeCard"]["backFields"]}
        assert back["notice"]["value"] == "Zweite Nachricht", "the latest message shows"
    history = (await env.client.get("/api/v1/messages", headers=auth(key))).json()["campaigns"]
    assert [c["finished_at"] is not None for c in history] == [True, True]
