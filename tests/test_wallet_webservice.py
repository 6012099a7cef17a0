"""Apple's Wallet web service, driven the way a device drives it (no pushes here)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import pytest
from sqlalchemy import event

from passes.config import Settings
from passes.service import Service
from passes.store import Store
from passes.store.branches import Location
from passes.store.cards import card_by_serial_any_shop
from passes.store.fetches import FLUSH_SECONDS
from tests.api_calls import new_card, stamp
from tests.conftest import BASE_URL, Env, auth
from tests.phones import Device
from tests.pkpass_check import verify_pkpass


async def _device_for_new_card(env: Env, stamps: int = 10) -> tuple[str, dict, Device]:
    key = await env.new_shop(stamps=stamps)
    card = await new_card(env, key)
    pkpass = (await env.client.get(card["urls"]["apple"])).content
    pass_json = verify_pkpass(pkpass, env.settings.certs_dir / "wwdr.pem")
    return key, card, Device(env, pass_json)


async def test_register_then_known_then_unregister(env: Env) -> None:
    _, _, device = await _device_for_new_card(env)
    assert (await device.register()).status_code == 201
    assert (await device.register()).status_code == 200
    assert (await device.changed()).status_code == 200
    removed = await env.client.delete(device.registration(), headers=device.headers)
    assert removed.status_code == 200
    device.tag = None
    assert (await device.changed()).status_code == 204


async def test_wrong_token_or_other_cards_token_is_401(env: Env) -> None:
    _, _, device = await _device_for_new_card(env)
    _, _, other = await _device_for_new_card(env)
    for headers in (
        {},
        {"Authorization": "ApplePass wrong-token-wrong-token"},
        {"Authorization": f"Bearer {device.token}"},
        other.headers,
    ):
        response = await env.client.post(
            device.registration(), json={"pushToken": device.push_token}, headers=headers
        )
        assert response.status_code == 401, headers
        assert (
            await env.client.get(
                f"/wallet/v1/passes/{device.pass_type}/{device.serial}", headers=headers
            )
        ).status_code == 401
        assert (await env.client.delete(device.registration(), headers=headers)).status_code == 401
    unknown = await env.client.get(
        f"/wallet/v1/passes/{device.pass_type}/NOSUCHSERIAL", headers=device.headers
    )
    assert unknown.status_code == 401
    wrong_type = await env.client.get(
        f"/wallet/v1/passes/pass.other.type/{device.serial}", headers=device.headers
    )
    assert wrong_type.status_code == 404


@pytest.mark.parametrize(
    "body", [{}, {"pushToken": 5}, {"pushToken": "../../etc"}, {"pushToken": "zz" * 20}]
)
async def test_bad_push_token_is_400(env: Env, body: dict) -> None:
    _, _, device = await _device_for_new_card(env)
    response = await env.client.post(device.registration(), json=body, headers=device.headers)
    assert response.status_code == 400
    assert (await device.changed()).status_code == 204, "nothing registered"


async def test_serials_changed_since_tag_and_the_new_pass(env: Env) -> None:
    key, card, device = await _device_for_new_card(env, stamps=10)
    await device.register()
    first = await device.changed()
    assert first.json()["serialNumbers"] == [card["serial"]]
    assert (await device.changed()).status_code == 204, "nothing changed since the tag"
    fetched = await device.fetch()
    last_modified = fetched.headers["last-modified"]
    assert (await device.fetch(since=last_modified)).status_code == 304

    await stamp(env, key, card["serial"], 4)
    changed = await device.changed()
    assert changed.json()["serialNumbers"] == [card["serial"]]
    latest = await device.fetch(since=last_modified)
    assert latest.status_code == 200
    assert latest.headers["content-type"] == "application/vnd.apple.pkpass"
    pass_json = verify_pkpass(latest.content, env.settings.certs_dir / "wwdr.pem")
    fields = {f["key"]: f for group in pass_json["storeCard"].values() for f in group}
    assert fields["stamps"]["value"] == "4 / 10"


async def test_two_changes_in_one_second_are_never_missed(env: Env) -> None:
    key, card, device = await _device_for_new_card(env, stamps=10)
    await device.register()
    await device.changed()
    await stamp(env, key, card["serial"])
    seen = await device.fetch()
    # The second stamp lands within the same second as the first.
    await stamp(env, key, card["serial"])
    assert (await device.changed()).json()["serialNumbers"] == [card["serial"]]
    again = await device.fetch(since=seen.headers["last-modified"])
    assert again.status_code == 200, "a change in the same second must not be a 304"
    assert parsedate_to_datetime(again.headers["last-modified"]) > parsedate_to_datetime(
        seen.headers["last-modified"]
    )


async def test_tags_hold_under_concurrent_changes(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    cards = [await new_card(env, key) for _ in range(4)]
    devices = []
    library_id = secrets.token_hex(16)
    for card in cards:
        pkpass = (await env.client.get(card["urls"]["apple"])).content
        device = Device(env, verify_pkpass(pkpass, env.settings.certs_dir / "wwdr.pem"))
        device.library_id = library_id
        await device.register()
        devices.append(device)
    poller = devices[0]
    await poller.changed()
    reported: set[str] = set()

    async def poll() -> None:
        for _ in range(15):
            response = await poller.changed()
            if response.status_code == 200:
                reported.update(response.json()["serialNumbers"])
            await asyncio.sleep(0)

    await asyncio.gather(poll(), *(stamp(env, key, card["serial"]) for card in cards))
    final = await poller.changed()
    if final.status_code == 200:
        reported.update(final.json()["serialNumbers"])
    assert reported == {card["serial"] for card in cards}


async def test_if_modified_since_garbage_is_ignored(env: Env) -> None:
    _, _, device = await _device_for_new_card(env)
    for value in (
        "yesterday",
        "",
        format_datetime(parsedate_to_datetime("Mon, 01 Jan 1990 00:00:00 GMT")),
    ):
        assert (await device.fetch(since=value)).status_code == 200


async def test_device_logs_are_kept_bounded_and_shown_in_deliveries(env: Env) -> None:
    key, card, device = await _device_for_new_card(env)
    message = f"Web service error for {device.pass_type} (https://x/wallet/v1/passes/{device.pass_type}/{card['serial']}): 500"
    for _ in range(3):
        response = await env.client.post(
            "/wallet/v1/log", json={"logs": [message, "\x00 unrelated"]}
        )
        assert response.status_code == 200
    report = (
        await env.client.get(f"/api/v1/cards/{card['serial']}/deliveries", headers=auth(key))
    ).json()
    assert [log["message"] for log in report["unverified_device_logs"]] == [message] * 3
    assert report["device_logs"] == [], "the sender never proved the card"
    assert (await env.client.post("/wallet/v1/log", json=["x"])).status_code == 422
    assert (
        await env.client.post(
            "/wallet/v1/log", content=b"{", headers={"Content-Type": "application/json"}
        )
    ).status_code == 400


async def test_log_endpoint_is_rate_limited(env: Env) -> None:
    statuses = [
        (await env.client.post("/wallet/v1/log", json={"logs": ["hello"]})).status_code
        for _ in range(40)
    ]
    assert 429 in statuses and statuses[0] == 200


async def test_deliveries_show_devices_and_fetches(env: Env) -> None:
    key, card, device = await _device_for_new_card(env)
    await device.register()
    await device.fetch()
    await stamp(env, key, card["serial"])
    report = (
        await env.client.get(f"/api/v1/cards/{card['serial']}/deliveries", headers=auth(key))
    ).json()
    assert len(report["devices"]) == 1
    assert device.push_token not in str(report), "tokens are shown only by their start"
    assert report["last_fetched_at"] is not None
    assert report["pending_pushes"] == 1
    other = await env.new_shop()
    assert (
        await env.client.get(f"/api/v1/cards/{card['serial']}/deliveries", headers=auth(other))
    ).status_code == 404


async def test_a_fetch_time_is_written_behind_within_about_a_second(env: Env) -> None:
    _, card, device = await _device_for_new_card(env)
    assert (await device.fetch()).status_code == 200
    await asyncio.sleep(FLUSH_SECONDS + 0.5)
    # Another store reads the database itself, not this process's pending times.
    store = Store(env.settings.database_url)
    try:
        async with store.reading() as conn:
            found = await card_by_serial_any_shop(conn, card["serial"])
    finally:
        await store.close()
    assert found.last_fetched_at is not None


async def test_serving_a_pass_goes_around_sqlalchemy_in_one_statement(env: Env) -> None:
    """No transaction, no touch of the card, no pool ping: the one read is the fast path's."""
    _, card, device = await _device_for_new_card(env)
    store = env.service.store
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    engines = {store.writer.sync_engine, store.reader.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        assert (await device.fetch()).status_code == 200
        assert (await env.client.get(card["urls"]["apple"])).status_code == 200
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)
    assert seen == []


async def test_a_changed_program_or_place_shows_on_the_next_fetch(env: Env) -> None:
    """Shops are kept between fetches by their values, so a change is never served stale."""
    _, card, device = await _device_for_new_card(env)
    ca = env.settings.certs_dir / "wwdr.pem"
    assert "locations" not in verify_pkpass((await device.fetch()).content, ca)
    shop = (await env.service.cards.find_card(card["serial"])).shop
    await env.service.shops.add_location(shop, Location("Marktplatz 1, Freiburg", 47.9959, 7.8522))
    await env.service.shops.set_tiers(shop, [(5, "1 Keks")])
    for pkpass in (
        (await device.fetch()).content,
        (await env.client.get(card["urls"]["apple"])).content,
    ):
        pass_json = verify_pkpass(pkpass, ca)
        assert [(p["latitude"], p["longitude"]) for p in pass_json["locations"]] == [
            (47.9959, 7.8522)
        ]
        assert "rewards" in {field["key"] for field in pass_json["storeCard"]["backFields"]}


async def test_served_passes_stay_out_of_the_access_log_and_refusals_do_not(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    key, card, device = await _device_for_new_card(env)
    with caplog.at_level(logging.INFO, logger="passes.http"):
        assert (await device.fetch()).status_code == 200
        assert (await env.client.get(card["urls"]["apple"])).status_code == 200
        assert (await device.fetch(Authorization="ApplePass wrong")).status_code == 401
        assert (
            await env.client.get(f"/api/v1/cards/{card['serial']}", headers=auth(key))
        ).is_success
    lines = [record.getMessage().rsplit(" ", 1)[0] for record in caplog.records]
    assert lines == [
        "GET /wallet/v1/passes/{pass_type}/{serial} 401",
        "GET /api/v1/cards/{serial} 200",
    ]


async def test_a_locked_sqlite_database_is_waited_for_off_the_event_loop(
    tmp_path: Path, certs_dir: Path
) -> None:
    """The in-loop read never waits for a lock: busy, it goes through the async engine."""
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    store = Store(url)
    await store.migrate()
    service = Service(Settings(database_url=url, base_url=BASE_URL, certs_dir=certs_dir), store)
    shop, _ = await service.shops.create_shop(name="Café Zu", stamps=10, reward="1 Tee")
    serial = (await service.issuing.issue_card(shop, "test")).card.serial
    await store.close()
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    store = Store(url)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(tick())
    asyncio.get_running_loop().call_later(0.3, holder.close)
    try:
        found = await store.passes.by_serial(serial)
    finally:
        ticking.cancel()
        await store.close()
    assert found is not None and found.card.serial == serial and found.shop.id == shop.id
    assert ticks >= 10, "the event loop ran on while the read waited for the lock"


async def test_writing_fetch_times_never_waits_for_a_card_being_changed(env: Env) -> None:
    if env.service.store.sqlite:
        pytest.skip("row locks: PostgreSQL (SQLite has one writer)")
    import asyncpg

    _, busy_card, busy = await _device_for_new_card(env)
    _, idle_card, idle = await _device_for_new_card(env)
    holder = await asyncpg.connect(env.settings.database_url)
    changing = holder.transaction()
    await changing.start()
    await holder.execute("SELECT id FROM cards WHERE serial = $1 FOR UPDATE", busy_card["serial"])
    try:
        assert (await busy.fetch()).status_code == 200
        assert (await idle.fetch()).status_code == 200
        await asyncio.wait_for(env.service.store.fetches.flush(), 5)
    finally:
        await changing.rollback()
        await holder.close()
    store = Store(env.settings.database_url)
    try:
        async with store.reading() as conn:
            busy_row = await card_by_serial_any_shop(conn, busy_card["serial"])
            idle_row = await card_by_serial_any_shop(conn, idle_card["serial"])
    finally:
        await store.close()
    assert idle_row.last_fetched_at is not None
    assert busy_row.last_fetched_at is None, "skipped, not waited for"


async def test_served_passes_keep_the_answers_of_the_router_they_skip(env: Env) -> None:
    """Pass fetches skip Starlette's router (passes/fast_routes.py); the answers stay its own."""
    _, card, device = await _device_for_new_card(env)
    fetched = await device.fetch()
    page = await env.client.get(card["urls"]["apple"])
    for answer in (fetched, page):
        assert answer.status_code == 200
        assert answer.headers["x-content-type-options"] == "nosniff"
    unknown = await env.client.get("/c/no-such-secret/pass.pkpass")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    refused = await device.fetch(Authorization="ApplePass wrong")
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "unauthorized")
    head = await env.client.head(card["urls"]["apple"])
    assert head.status_code == 200 and head.content == b""
    posted = await env.client.post(card["urls"]["apple"])
    assert posted.status_code == 405 and "GET" in posted.headers["allow"]
