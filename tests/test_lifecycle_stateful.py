"""The card lifecycle against a simple model (Hypothesis stateful testing over the HTTP API).

Random sequences of issue, stamp (with and without Idempotency-Key, retried, reused, invalid
counts), redeem, undo, void and reads run against the real app; a small independent model
predicts every status and counter, and invariants are checked after every step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from passes.app import create_app
from passes.config import Settings
from passes.service import Service
from passes.store import Store
from tests.conftest import BASE_URL, MovableClock

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`

REQUIRED = 3
MAX_COUNT = 50
CARDS = 2
COUNTED = ("stamps", "rewards_available", "total_stamps", "rewards_redeemed", "voided")


@dataclass
class Stamp:
    """A stamp event the model knows: its ledger id, count, and whether it was undone."""

    event_id: int
    count: int
    undone: bool = False


@dataclass
class ModelCard:
    """What the card must look like, predicted without the product's rules."""

    serial: str
    stamps: int = 0
    rewards_available: int = 0
    total_stamps: int = 0
    rewards_redeemed: int = 0
    voided: bool = False
    version: int = 1
    last_change_id: int | None = None
    events: list[Stamp] = field(default_factory=list)
    # Idempotency-Key -> (kind, count, the card as first answered)
    keys: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    other_ids: list[int] = field(default_factory=list)

    def counters(self) -> dict[str, Any]:
        return {
            "stamps": self.stamps,
            "rewards_available": self.rewards_available,
            "total_stamps": self.total_stamps,
            "rewards_redeemed": self.rewards_redeemed,
            "voided": self.voided,
            "version": self.version,
            "last_change_id": self.last_change_id,
        }


@dataclass(frozen=True)
class Api:
    """The app behind an HTTP client on an event loop of our own, and two shops' keys.

    The state machine is synchronous, so each request runs to completion on `loop`.
    """

    loop: asyncio.AbstractEventLoop
    client: httpx.AsyncClient
    key: str
    other_key: str

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, path, **kwargs))


async def _shops(settings: Settings) -> tuple[str, str]:
    store = Store(settings.database_url)
    await store.migrate()
    service = Service(settings, store)
    try:
        _, key = await service.shops.create_shop(
            name="Model café", stamps=REQUIRED, reward="1 Kaffee"
        )
        _, other = await service.shops.create_shop(
            name="Other café", stamps=REQUIRED, reward="1 Tee"
        )
    finally:
        await store.close()
    return key, other


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, certs_dir: Path) -> Iterator[Api]:
    database = tmp_path_factory.mktemp("stateful") / "passes.db"
    config = Settings(database_url=f"sqlite:///{database}", base_url=BASE_URL, certs_dir=certs_dir)
    key, other = asyncio.run(_shops(config))
    clock = MovableClock()
    app = create_app(replace(config, run_worker=False), clock=clock)
    # One loop for every run: the app's database pool belongs to it.
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
    try:
        yield Api(loop, client, key, other)
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(app.state.service.store.close())
        loop.close()


class CardLifecycle(RuleBasedStateMachine):
    """Two cards of one shop, driven through the shop API and compared with ModelCard."""

    def __init__(self, api: Api) -> None:
        super().__init__()
        self.api = api
        self.cards: list[ModelCard] = []

    def _send(
        self, method: str, path: str, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.api.key}", **kwargs.pop("headers", {})}
        return self.api.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    def _expect(
        self, response: httpx.Response, card: ModelCard, status: int, code: str | None = None
    ) -> None:
        assert response.status_code == status, (status, response.text)
        body = response.json()
        if code is not None:
            assert body["error"]["code"] == code, body
        elif status == 200:
            self._matches(body, card.counters())

    @staticmethod
    def _matches(body: dict[str, Any], expected: dict[str, Any]) -> None:
        got = {name: body[name] for name in expected}
        assert got == expected, (got, expected)

    @initialize()
    def issue_cards(self) -> None:
        for _ in range(CARDS):
            response = self._send("POST", "/cards")
            assert response.status_code == 201, response.text
            body = response.json()
            card = ModelCard(body["serial"], last_change_id=body["last_change_id"])
            card.other_ids.append(body["last_change_id"])
            self._matches(body, card.counters())
            self.cards.append(card)

    def _applied(self, card: ModelCard, body: dict[str, Any]) -> int:
        """A change was applied: the version moves by one and the ledger id grows."""
        card.version += 1
        assert card.last_change_id is None or body["last_change_id"] > card.last_change_id
        card.last_change_id = body["last_change_id"]
        return int(body["last_change_id"])

    @rule(
        which=st.integers(0, CARDS - 1),
        count=st.one_of(st.integers(1, 8), st.integers(-2, MAX_COUNT + 3)),
        key=st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3", "k4"])),
        retries=st.integers(0, 2),
    )
    def stamp(self, which: int, count: int, key: str | None, retries: int) -> None:
        card = self.cards[which]
        headers = {"Idempotency-Key": key} if key else {}
        for attempt in range(1 + retries):
            response = self._send(
                "POST", f"/cards/{card.serial}/stamps", json={"count": count}, headers=headers
            )
            if not 1 <= count <= MAX_COUNT:
                self._expect(response, card, 422, "invalid")
            elif key is not None and key in card.keys:
                kind, first_count, first = card.keys[key]
                if (kind, first_count) != ("stamp", count):
                    self._expect(response, card, 409, "idempotency_key_reused")
                else:
                    assert response.status_code == 200, response.text
                    self._matches(response.json(), {**first, "voided": card.voided})
            elif card.voided:
                self._expect(response, card, 409, "card_voided")
            else:
                assert attempt == 0 or key is None
                earned, card.stamps = divmod(card.stamps + count, REQUIRED)
                card.rewards_available += earned
                card.total_stamps += count
                event_id = self._applied(card, response.json())
                card.events.append(Stamp(event_id, count))
                self._expect(response, card, 200)
                if key is not None:
                    card.keys[key] = ("stamp", count, card.counters())

    @rule(
        which=st.integers(0, CARDS - 1),
        key=st.one_of(st.none(), st.sampled_from(["k1", "r1", "r2"])),
        retries=st.integers(0, 1),
    )
    def redeem(self, which: int, key: str | None, retries: int) -> None:
        card = self.cards[which]
        headers = {"Idempotency-Key": key} if key else {}
        for _ in range(1 + retries):
            response = self._send("POST", f"/cards/{card.serial}/redeem", headers=headers)
            if key is not None and key in card.keys:
                kind, _, first = card.keys[key]
                if kind != "redeem":
                    self._expect(response, card, 409, "idempotency_key_reused")
                else:
                    assert response.status_code == 200, response.text
                    self._matches(response.json(), {**first, "voided": card.voided})
            elif card.voided:
                self._expect(response, card, 409, "card_voided")
            elif card.rewards_available < 1:
                self._expect(response, card, 409, "no_reward_due")
            else:
                card.rewards_available -= 1
                card.rewards_redeemed += 1
                card.other_ids.append(self._applied(card, response.json()))
                self._expect(response, card, 200)
                if key is not None:
                    card.keys[key] = ("redeem", 1, card.counters())

    @precondition(lambda self: any(card.events for card in self.cards))
    @rule(data=st.data())
    def undo(self, data: st.DataObject) -> None:
        card = data.draw(st.sampled_from([c for c in self.cards if c.events]))
        # Mostly the last stamp (as the staff page does), sometimes an older one.
        target = (
            card.events[-1] if data.draw(st.booleans()) else data.draw(st.sampled_from(card.events))
        )
        response = self._send("DELETE", f"/cards/{card.serial}/stamps/{target.event_id}")
        if target.undone:
            self._expect(response, card, 200)
            return
        if card.voided:
            self._expect(response, card, 409, "card_voided")
            return
        stamps, rewards = card.stamps - target.count, card.rewards_available
        while stamps < 0:
            stamps += REQUIRED
            rewards -= 1
        if rewards < 0:
            self._expect(response, card, 409, "reward_redeemed")
            return
        card.stamps, card.rewards_available = stamps, rewards
        card.total_stamps -= target.count
        target.undone = True
        card.other_ids.append(self._applied(card, response.json()))
        self._expect(response, card, 200)

    @rule(which=st.integers(0, CARDS - 1), data=st.data())
    def undo_what_is_no_stamp(self, which: int, data: st.DataObject) -> None:
        card = self.cards[which]
        change = data.draw(st.sampled_from(card.other_ids))
        response = self._send("DELETE", f"/cards/{card.serial}/stamps/{change}")
        self._expect(response, card, 409, "not_a_stamp")
        missing = self._send("DELETE", f"/cards/{card.serial}/stamps/999999999")
        self._expect(missing, card, 404, "not_found")

    @precondition(lambda self: not all(card.voided for card in self.cards))
    @rule(which=st.integers(0, CARDS - 1))
    def void(self, which: int) -> None:
        card = self.cards[which]
        response = self._send("POST", f"/cards/{card.serial}/void")
        if not card.voided:
            card.voided = True
            card.other_ids.append(self._applied(card, response.json()))
        self._expect(response, card, 200)

    @rule(which=st.integers(0, CARDS - 1))
    def another_shop_sees_nothing(self, which: int) -> None:
        card = self.cards[which]
        for method, path, body in (
            ("GET", f"/cards/{card.serial}", None),
            ("POST", f"/cards/{card.serial}/stamps", {"count": 1}),
            ("POST", f"/cards/{card.serial}/redeem", None),
        ):
            response = self._send(method, path, key=self.api.other_key, json=body)
            self._expect(response, card, 404, "not_found")

    @rule()
    def unknown_serial(self) -> None:
        response = self._send("GET", "/cards/NOSUCHCARD00")
        assert response.status_code == 404

    @invariant()
    def reads_agree_with_the_model(self) -> None:
        for card in self.cards:
            response = self._send("GET", f"/cards/{card.serial}")
            self._expect(response, card, 200)
            body = response.json()
            assert all(body[name] >= 0 for name in COUNTED if name != "voided")
            assert 0 <= body["stamps"] < REQUIRED
            live = sum(event.count for event in card.events if not event.undone)
            assert body["total_stamps"] == live, "total = stamps given minus stamps undone"
            earned = body["rewards_available"] + body["rewards_redeemed"]
            assert body["stamps"] + REQUIRED * earned == body["total_stamps"], (
                "no reward from nothing"
            )


def test_card_lifecycle_matches_the_model(api: Api) -> None:
    run_state_machine_as_test(
        lambda: CardLifecycle(api),
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


# --- Reward tiers and expiry, with the service's clock moved forward -------------------

TIER_REQUIRED, TIER_AT = 4, 2
STAMP_DAYS, REWARD_DAYS = 3, 2
# Waits whose sums never land on an expiry boundary (2 or 3 days), so real milliseconds
# between requests cannot tip a comparison.
WAITS = (0.7, 1.1, 2.9)


@dataclass
class TieredModel:
    """The card as predicted: due rewards as (stamp count, day it fell due), oldest first."""

    serial: str
    stamps: int = 0
    total_stamps: int = 0
    rewards_redeemed: int = 0
    stamps_expired: int = 0
    rewards_expired: int = 0
    last_visit: float = 0.0
    dues: list[tuple[int, float]] = field(default_factory=list)

    def expire(self, day: float) -> None:
        if self.stamps and day - self.last_visit >= STAMP_DAYS:
            self.stamps_expired += self.stamps
            self.stamps = 0
        kept = [due for due in self.dues if day - due[1] < REWARD_DAYS]
        self.rewards_expired += len(self.dues) - len(kept)
        self.dues = kept

    def expected(self) -> dict[str, Any]:
        return {
            "stamps": self.stamps,
            "total_stamps": self.total_stamps,
            "rewards_available": len(self.dues),
            "rewards_redeemed": self.rewards_redeemed,
            "stamps_expired": self.stamps_expired,
            "rewards_expired": self.rewards_expired,
            "rewards": [
                {"at": at, "reward": reward, "due": sum(1 for d in self.dues if d[0] == at)}
                for at, reward in ((TIER_AT, "1 Keks"), (TIER_REQUIRED, "1 Kaffee"))
            ],
        }


@dataclass(frozen=True)
class TieredApi:
    """The API of a shop with a tier and expiry, and the clock its service decides by."""

    api: Api
    service: Service
    clock: MovableClock


@pytest.fixture(scope="module")
def tiered(tmp_path_factory: pytest.TempPathFactory, certs_dir: Path) -> Iterator[TieredApi]:
    database = tmp_path_factory.mktemp("tiered") / "passes.db"
    config = Settings(database_url=f"sqlite:///{database}", base_url=BASE_URL, certs_dir=certs_dir)

    async def shop() -> str:
        store = Store(config.database_url)
        await store.migrate()
        service = Service(config, store)
        try:
            made, key = await service.shops.create_shop(
                name="Tier café", stamps=TIER_REQUIRED, reward="1 Kaffee"
            )
            made = await service.shops.set_tiers(made, [(TIER_AT, "1 Keks")])
            await service.shops.update_program(
                made, stamp_expiry_days=STAMP_DAYS, reward_expiry_days=REWARD_DAYS
            )
        finally:
            await store.close()
        return key

    key = asyncio.run(shop())
    clock = MovableClock()
    app = create_app(replace(config, run_worker=False), clock=clock)
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
    try:
        yield TieredApi(Api(loop, client, key, key), app.state.service, clock)
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(app.state.service.store.close())
        loop.close()


class TieredLifecycle(RuleBasedStateMachine):
    """One card of a tiered program with expiry: stamps, redeems by tier, days passing."""

    def __init__(self, tiered: TieredApi) -> None:
        super().__init__()
        self.api = tiered.api
        self.service = tiered.service
        self.day = 0.0
        self.clock = tiered.clock
        self.clock.ahead = timedelta(0)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api.key}"}
        return self.api.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    def _agrees(self, response: httpx.Response) -> None:
        assert response.status_code == 200, response.text
        body = response.json()
        expected = self.card.expected()
        assert {name: body[name] for name in expected} == expected

    @initialize()
    def issue(self) -> None:
        response = self._send("POST", "/cards")
        assert response.status_code == 201, response.text
        self.card = TieredModel(response.json()["serial"])

    @rule(count=st.integers(1, 9))
    def stamp(self, count: int) -> None:
        card = self.card
        card.expire(self.day)
        for position in range(card.stamps + 1, card.stamps + count + 1):
            spot = position % TIER_REQUIRED
            if spot in (0, TIER_AT):
                card.dues.append((spot or TIER_REQUIRED, self.day))
        card.stamps = (card.stamps + count) % TIER_REQUIRED
        card.total_stamps += count
        card.last_visit = self.day
        self._agrees(self._send("POST", f"/cards/{card.serial}/stamps", json={"count": count}))

    @rule(tier=st.sampled_from([None, TIER_AT, TIER_REQUIRED, 3]))
    def redeem(self, tier: int | None) -> None:
        card = self.card
        card.expire(self.day)
        body = None if tier is None else {"tier": tier}
        response = self._send("POST", f"/cards/{card.serial}/redeem", json=body)
        index = next((i for i, d in enumerate(card.dues) if tier in (None, d[0])), None)
        if index is None:
            assert response.status_code == 409, response.text
            assert response.json()["error"]["code"] == "no_reward_due"
            return
        del card.dues[index]
        card.rewards_redeemed += 1
        card.last_visit = self.day
        self._agrees(response)

    @rule(days=st.sampled_from(WAITS))
    def wait(self, days: float) -> None:
        self.day += days
        self.clock.ahead = timedelta(days=self.day)

    @invariant()
    def reads_agree_with_the_model(self) -> None:
        if not hasattr(self, "card"):
            return
        self.card.expire(self.day)
        self._agrees(self._send("GET", f"/cards/{self.card.serial}"))


def test_tiers_and_expiry_match_the_model(tiered: TieredApi) -> None:
    run_state_machine_as_test(
        lambda: TieredLifecycle(tiered),
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
