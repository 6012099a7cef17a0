"""Reward tiers and expiry over the shop API, the pass and the expiry sweep (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from passes.config import Settings
from passes.deliveries import Delivery
from passes.errors import InvalidInput
from passes.expiry import ExpirySweep
from passes.jobs import Job
from passes.push import PushWorker
from passes.service import Service
from passes.store import Store
from passes.store.db import MIGRATIONS
from passes.store.outbox import OutboxRow
from passes.store.shops import ShopRow
from tests.conftest import PG_ADMIN_URL, Env, auth
from tests.phones import Device
from tests.pkpass_check import verify_pkpass


async def _shop(
    env: Env, tiers: list[tuple[int, str]] | None = None, **expiry: int | None
) -> tuple[ShopRow, str]:
    key = await env.new_shop(stamps=10, reward="1 Vita Mix gratis")
    shop = await env.service.shops.authenticate(key)
    if tiers:
        shop = await env.service.shops.set_tiers(shop, tiers)
    if expiry:
        shop = await env.service.shops.update_program(shop, **expiry)
    return shop, key


async def _card(env: Env, key: str) -> str:
    created = await env.client.post("/api/v1/cards", headers=auth(key))
    assert created.status_code == 201, created.text
    return str(created.json()["serial"])


async def _stamp(env: Env, key: str, serial: str, count: int) -> httpx.Response:
    return await env.client.post(
        f"/api/v1/cards/{serial}/stamps", json={"count": count}, headers=auth(key)
    )


async def _redeem(env: Env, key: str, serial: str, body: object = None) -> httpx.Response:
    url = f"/api/v1/cards/{serial}/redeem"
    if body is None:
        return await env.client.post(url, headers=auth(key))
    return await env.client.post(url, json=body, headers=auth(key))


def _due(card: dict) -> dict[int, int]:
    return {line["at"]: line["due"] for line in card["rewards"]}


async def test_a_tier_falls_due_and_is_redeemed_by_name(env: Env) -> None:
    _, key = await _shop(env, tiers=[(5, "1 Cookie")])
    serial = await _card(env, key)
    card = (await _stamp(env, key, serial, 4)).json()
    assert card["next_reward"] == {"missing": 1, "reward": "1 Cookie"}
    assert card["rewards"] == [
        {"at": 5, "reward": "1 Cookie", "due": 0},
        {"at": 10, "reward": "1 Vita Mix gratis", "due": 0},
    ]
    card = (await _stamp(env, key, serial, 7)).json()  # 5 and 10 reached, one carried over
    assert (card["stamps"], card["rewards_available"], _due(card)) == (1, 2, {5: 1, 10: 1})
    refused = await _redeem(env, key, serial, {"tier": 7})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_reward_due"
    card = (await _redeem(env, key, serial, {"tier": 10})).json()
    assert (card["rewards_available"], card["rewards_redeemed"], _due(card)) == (
        1,
        1,
        {5: 1, 10: 0},
    )
    again = await _redeem(env, key, serial, {"tier": 10})
    assert again.status_code == 409, "the main reward is not due any more"
    card = (await _redeem(env, key, serial)).json()  # no body: the oldest due, the cookie
    assert (card["rewards_available"], _due(card)) == (0, {5: 0, 10: 0})


@pytest.mark.parametrize(
    "body", [{"tier": "5"}, {"tier": 0}, {"tier": 31}, {"tier": True}, {"tier": 2.5}, {"x": 1}]
)
async def test_bad_tiers_are_422(env: Env, body: object) -> None:
    _, key = await _shop(env, tiers=[(5, "1 Cookie")])
    serial = await _card(env, key)
    answer = await _redeem(env, key, serial, body)
    assert answer.status_code == 422
    assert set(answer.json()["error"]) == {"code", "message"}


async def test_programs_without_tiers_behave_as_before(env: Env) -> None:
    _, key = await _shop(env)
    serial = await _card(env, key)
    card = (await _stamp(env, key, serial, 10)).json()
    assert card["rewards"] == [{"at": 10, "reward": "1 Vita Mix gratis", "due": 1}]
    assert card["stamps_expire_at"] is None and card["reward_expires_at"] is None
    assert (await _redeem(env, key, serial, {})).json()["rewards_available"] == 0


async def test_tier_settings_are_checked(env: Env) -> None:
    shop, _ = await _shop(env)
    for tiers in ([(10, "x")], [(0, "x")], [(3, "a"), (3, "b")], [(4, "")]):
        with pytest.raises(InvalidInput, match=r"tier|reward"):
            await env.service.shops.set_tiers(shop, tiers)
    with pytest.raises(InvalidInput, match="stamp_expiry_days"):
        await env.service.shops.update_program(shop, stamp_expiry_days=0)


def _clock(days: float) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + timedelta(days=days)


async def test_stamps_expire_lazily_when_the_card_is_next_touched(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = await _shop(env, stamp_expiry_days=30)
    serial = await _card(env, key)
    card = (await _stamp(env, key, serial, 4)).json()
    expires = datetime.fromisoformat(card["stamps_expire_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    monkeypatch.setattr(env.clock, "ahead", timedelta(days=29))
    assert (await _stamp(env, key, serial, 1)).json()["stamps"] == 5, "a visit in time keeps them"
    monkeypatch.setattr(env.clock, "ahead", timedelta(days=60))
    card = (await _stamp(env, key, serial, 1)).json()
    assert (card["stamps"], card["stamps_expired"], card["total_stamps"]) == (1, 5, 6)
    # The expiry is its own change before the stamp: two versions moved.
    assert card["version"] == 5


async def test_reading_a_card_records_its_expiry_once(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, key = await _shop(env, stamp_expiry_days=10, reward_expiry_days=5)
    serial = await _card(env, key)
    card = (await _stamp(env, key, serial, 12)).json()
    assert card["reward_expires_at"] is not None
    monkeypatch.setattr(env.clock, "ahead", timedelta(days=6))
    read = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
    assert (read["rewards_available"], read["rewards_expired"], read["stamps"]) == (0, 1, 2)
    assert read["version"] == card["version"] + 1
    refused = await _redeem(env, key, serial)
    assert refused.status_code == 409, "an expired reward cannot be redeemed"
    monkeypatch.setattr(env.clock, "ahead", timedelta(days=11))
    read = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
    assert (read["stamps"], read["stamps_expired"], read["version"]) == (0, 2, card["version"] + 2)
    again = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
    assert again == read, "nothing expires twice"


async def test_the_pass_shows_tiers_the_next_reward_and_the_expiry_date(env: Env) -> None:
    _, key = await _shop(env, tiers=[(5, "1 Cookie")], stamp_expiry_days=90)
    serial = await _card(env, key)
    card = (await _stamp(env, key, serial, 3)).json()
    pkpass = await env.client.get(card["urls"]["apple"])
    pass_json = verify_pkpass(pkpass.content, env.settings.certs_dir / "wwdr.pem")
    front = {f["key"]: f for f in pass_json["storeCard"]["secondaryFields"]}
    assert front["reward"]["label"] == "to_go_2" and front["reward"]["value"] == "1 Cookie"
    back = {f["key"]: f for f in pass_json["storeCard"]["backFields"]}
    assert back["stamps_expire"]["label"] == "stamps_expire_label"
    shown = datetime.fromisoformat(back["stamps_expire"]["value"])
    assert shown == datetime.fromisoformat(card["stamps_expire_at"]).replace(microsecond=0)
    assert back["stamps_expire"]["dateStyle"] == "PKDateStyleMedium"
    assert "5: 1 Cookie" in back["rewards"]["value"]
    card = (await _stamp(env, key, serial, 2)).json()
    pkpass = await env.client.get(card["urls"]["apple"])
    pass_json = verify_pkpass(pkpass.content, env.settings.certs_dir / "wwdr.pem")
    front = {f["key"]: f for f in pass_json["storeCard"]["secondaryFields"]}
    assert front["reward"]["value"] == "🎁 1 Cookie"
    assert front["reward"]["label"] == "reward_due_label"
    back = {f["key"]: f for f in pass_json["storeCard"]["backFields"]}
    assert back["next"]["label"] == "to_go_5" and back["next"]["value"] == "1 Vita Mix gratis"


async def test_the_sweep_expires_untouched_cards_once(env: Env) -> None:
    _, key = await _shop(env, stamp_expiry_days=7, reward_expiry_days=3)
    serials = [await _card(env, key) for _ in range(3)]
    for serial in serials:
        await _stamp(env, key, serial, 12)
    fresh = await _card(env, key)
    await _stamp(env, key, fresh, 1)
    store = Store(env.settings.database_url)
    try:
        assert await ExpirySweep(store, clock=_clock(2)).run() == 0
        assert await ExpirySweep(store, clock=_clock(4), batch=2).run() >= 3
        for serial in serials:
            read = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
            assert (read["rewards_available"], read["rewards_expired"], read["stamps"]) == (0, 1, 2)
        assert await ExpirySweep(store, clock=_clock(4)).run() == 0, "never twice"
        assert await ExpirySweep(store, clock=_clock(8), batch=2).run() >= 4
        for serial in [*serials, fresh]:
            read = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
            assert read["stamps"] == 0 and read["stamps_expired"] in (1, 2)
    finally:
        await store.close()


async def test_sweeps_in_parallel_expire_each_card_once(env: Env) -> None:
    if not env.settings.database_url.startswith("postgresql"):
        pytest.skip("several workers share a database on PostgreSQL only")
    _, key = await _shop(env, stamp_expiry_days=1)
    serials = [await _card(env, key) for _ in range(12)]
    versions = {}
    for serial in serials:
        versions[serial] = (await _stamp(env, key, serial, 3)).json()["version"]
    stores = [Store(env.settings.database_url) for _ in range(3)]
    try:
        sweeps = [ExpirySweep(store, clock=_clock(2), batch=3) for store in stores]
        changed = await asyncio.gather(*(sweep.run() for sweep in sweeps))
        assert sum(changed) >= len(serials)
    finally:
        for store in stores:
            await store.close()
    for serial in serials:
        read = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
        assert (read["stamps_expired"], read["version"]) == (3, versions[serial] + 1)


class Phones:
    """Stands in for APNs: takes every push and answers that it was delivered."""

    target = "apple"

    def __init__(self) -> None:
        self.tokens: set[str | None] = set()

    async def deliver(self, rows: list[OutboxRow]) -> list[Delivery]:
        self.tokens |= {row.push_token for row in rows}
        return [Delivery(row, "delivered", 200) for row in rows]


async def _phone_with_expiring_stamps(env: Env) -> tuple[str, str, dict, Device]:
    """A card with 3 stamps that expire after 7 days, on a registered iPhone."""
    _, key = await _shop(env, stamp_expiry_days=7)
    serial = await _card(env, key)
    card = (await _stamp(env, key, serial, 3)).json()
    ca = env.settings.certs_dir / "wwdr.pem"
    device = Device(env, verify_pkpass((await env.client.get(card["urls"]["apple"])).content, ca))
    assert (await device.register()).status_code == 201
    return key, serial, card, device


async def test_a_phone_fetching_its_pass_gets_the_expiry_before_the_sweep_does(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, serial, card, device = await _phone_with_expiring_stamps(env)
    ca = env.settings.certs_dir / "wwdr.pem"
    before = await device.fetch()
    monkeypatch.setattr(env.clock, "ahead", timedelta(days=8))
    fetched = await device.fetch(since=before.headers["last-modified"])
    assert fetched.status_code == 200, "the expiry changed the pass since the phone's copy"
    assert fetched.headers["last-modified"] != before.headers["last-modified"]
    pass_json = verify_pkpass(fetched.content, ca)
    front = {f["key"]: f for f in pass_json["storeCard"]["secondaryFields"]}
    assert front["stamps"]["value"] == "0 / 10"
    read = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
    assert (read["stamps"], read["stamps_expired"]) == (0, 3), "recorded once, in the ledger"
    assert read["version"] == card["version"] + 1


async def test_the_worker_sweeps_and_the_phone_gets_the_new_pass(env: Env) -> None:
    _, serial, _, device = await _phone_with_expiring_stamps(env)
    ca = env.settings.certs_dir / "wwdr.pem"
    await device.changed()
    store, phones = Store(env.settings.database_url), Phones()
    # Only the sweep runs 8 days ahead: rows claimed that far ahead would stay leased for
    # the other tests on this database.
    sweep = ExpirySweep(store, clock=_clock(8))
    worker = PushWorker(
        store,
        [phones],
        backoff=lambda _: 1.0,
        jobs=[Job("expiry sweep", lambda now: sweep.run())],
    )
    try:
        for _ in range(20):  # other tests may have left pushes waiting in this database
            if device.push_token in phones.tokens or not await worker.run_once():
                break
    finally:
        await store.close()
    assert device.push_token in phones.tokens
    changed = await device.changed()
    assert serial in changed.json()["serialNumbers"]
    pass_json = verify_pkpass((await device.fetch()).content, ca)
    front = {f["key"]: f for f in pass_json["storeCard"]["secondaryFields"]}
    assert front["stamps"]["value"] == "0 / 10"
    assert "stamps_expire" not in {f["key"] for f in pass_json["storeCard"]["backFields"]}


async def test_public_strip_images_mark_tiers(env: Env) -> None:
    await _shop(env, tiers=[(5, "1 Cookie"), (8, "1 Muffin")])  # only programs' looks are drawn
    base = "/img/strip/3b2a20/f2c879/10/4@2x.png"
    plain, tiered = await env.client.get(base), await env.client.get(f"{base}?tiers=5.8")
    assert plain.status_code == tiered.status_code == 200
    assert tiered.headers["content-type"] == "image/png" and tiered.content != plain.content
    for wrong in ("10", "5.5", "8.5", "x", "0"):
        assert (await env.client.get(f"{base}?tiers={wrong}")).status_code == 404


def _alembic(conn: Connection, target: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    command.downgrade(config, target)


@pytest.fixture(params=["sqlite", "postgres"])
async def blank_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, free to migrate up and down."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    import asyncpg

    name = f"passes_migrate_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
    except Exception as exc:
        pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} is not reachable ({exc})")
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def test_migration_lists_the_rewards_of_existing_cards(
    blank_database: str, certs_dir: Path
) -> None:
    store = Store(blank_database)
    await store.migrate()
    service = Service(Settings(database_url=blank_database, certs_dir=certs_dir), store)
    try:
        shop, _ = await service.shops.create_shop(name="Alt", stamps=3, reward="1 Kaffee")
        serial = (await service.issuing.issue_card(shop, "test")).card.serial
        await service.changes.stamp(shop, serial, 7, actor="test", idempotency_key=None)
        async with store.writer.connect() as conn:  # back to before tiers and expiry
            await conn.run_sync(_alembic, "0011")
            await conn.commit()
        await store.migrate()
        card = (await service.cards.card(shop, serial)).card
        assert (card.counters.stamps, card.counters.rewards_available) == (1, 2)
        assert [at for at, _ in card.counters.rewards_due] == [3, 3]
        assert card.counters.last_visit is not None
        assert card.counters.last_visit >= card.created_at
        taken = await service.changes.redeem(
            shop, serial, actor="test", idempotency_key=None, tier=3
        )
        assert taken.card.counters.rewards_available == 1
    finally:
        await store.close()
