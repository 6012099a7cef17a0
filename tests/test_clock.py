"""The one clock: moved forward, every time the product records moves with it (the card,
the ledger and its CSV export, expiry), instead of real time leaking into the ledger."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import BASE_URL, Env, auth

AHEAD = timedelta(days=40)


def _near(moment: str, expected: datetime) -> bool:
    return abs(datetime.fromisoformat(moment) - expected) < timedelta(minutes=5)


async def _owner_csv(env: Env, slug: str, key: str) -> list[dict[str, str]]:
    """The shop's ledger as the owner downloads it from the dashboard."""
    transport = httpx.ASGITransport(app=env.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as owner:
        page = await owner.get(f"/dashboard/{slug}")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None
        login = {"csrf": found.group(1), "key": key}
        signed = await owner.post(f"/dashboard/{slug}/login", data=login)
        assert signed.status_code == 303, signed.text
        ledger = await owner.get(f"/dashboard/{slug}/ledger.csv")
    return list(csv.DictReader(io.StringIO(ledger.text)))


async def test_a_moved_clock_moves_the_card_and_the_ledger(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(env.clock, "ahead", AHEAD)
    moved = datetime.now(UTC) + AHEAD
    key = await env.new_shop()
    card = (await env.client.post("/api/v1/cards", headers=auth(key))).json()
    stamped = await env.client.post(
        f"/api/v1/cards/{card['serial']}/stamps", json={"count": 2}, headers=auth(key)
    )
    assert stamped.status_code == 200, stamped.text
    shown = stamped.json()
    assert _near(shown["created_at"], moved) and _near(shown["updated_at"], moved)
    rows = await _owner_csv(env, shown["shop"], key)
    assert [row["kind"] for row in rows] == ["issue", "stamp"]
    assert all(_near(row["created_at"], moved) for row in rows), rows


async def test_expiry_found_by_a_moved_clock_is_recorded_at_its_time(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await env.new_shop()
    card = (await env.client.post("/api/v1/cards", headers=auth(key))).json()
    serial = card["serial"]
    shop = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()["shop"]
    service = env.service
    await service.shops.update_program(await service.shops.shop(shop), stamp_expiry_days=30)
    await env.client.post(f"/api/v1/cards/{serial}/stamps", json={"count": 3}, headers=auth(key))
    monkeypatch.setattr(env.clock, "ahead", AHEAD)
    read = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
    assert (read["stamps"], read["stamps_expired"]) == (0, 3)
    assert _near(read["updated_at"], datetime.now(UTC) + AHEAD), "the expiry event's time"
