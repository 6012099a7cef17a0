"""Campaign messages end to end: a real server, a local APNs, phones registered for their passes."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.api_calls import stamp
from tests.fake_apns import FakeApns
from tests.live import create_shop, live_env, run, server, until
from tests.phones import Phone, new_phone, pushes_to

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`


async def _send(client: httpx.AsyncClient, key: str, **body: object) -> httpx.Response:
    return await client.post(
        "/api/v1/messages", json=body, headers={"Authorization": f"Bearer {key}"}
    )


async def test_a_campaign_reaches_the_segment_but_not_the_hold_out(
    tmp_path: Path, certs_dir: Path, apns: FakeApns
) -> None:
    env = live_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir, apns)
    key = create_shop(env, stamps=10)
    with server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            phones = [await new_phone(client, key, certs_dir / "wwdr.pem") for _ in range(10)]
            preview = await _send(client, key, segment="all", preview=True)
            assert preview.status_code == 200
            assert preview.json() == {
                "recipients": 9,
                "held_out": 1,
                "over_limit": 0,
                "google": {"notified": 0, "silent": 0},
            }
            apns.clear()

            sent = await _send(client, key, text="Heute doppelte Stempel!", segment="all")
            assert sent.status_code == 202, sent.text
            assert sent.json()["recipients"] == 9
            await until(lambda: len({r.token for r in apns.requests}) == 9)
            await asyncio.sleep(1)
            reached = [p for p in phones if pushes_to(apns, p.push_token)]
            assert len(reached) == 9, "the held-out card gets nothing"

            shown = await reached[0].refresh()
            pass_json = _pass_json(reached[0], shown.content)
            news = {f["key"]: f for f in pass_json["storeCard"]["backFields"]}["notice"]
            assert news["value"] == "Heute doppelte Stempel!"
            assert news["changeMessage"] == "notice_news_changed"

            history = (
                await client.get("/api/v1/messages", headers={"Authorization": f"Bearer {key}"})
            ).json()["campaigns"]
            assert history[0]["recipients"] == 9 and history[0]["delivered"] == 9
            assert history[0]["finished_at"] is not None

            # The weekly limit (2 by default) holds server-side.
            await _send(client, key, text="Zweite Nachricht", segment="all")
            third = await _send(client, key, text="Dritte Nachricht", segment="all")
            assert third.json()["over_limit"] >= 8


async def test_segments_and_bad_requests(tmp_path: Path, certs_dir: Path, apns: FakeApns) -> None:
    env = live_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir, apns)
    key = create_shop(env, stamps=2, slug="eck")
    with server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            phones = [await new_phone(client, key, certs_dir / "wwdr.pem") for _ in range(3)]
            await stamp(client, key, phones[0].serial, 2)
            due = await _send(client, key, segment="reward_due", preview=True)
            assert due.json()["recipients"] + due.json()["held_out"] == 1
            for body, status in (
                ({"text": "x", "segment": "vip"}, 422),
                ({"text": "", "segment": "all"}, 422),
                ({"text": "x" * 201}, 422),
                ({"text": 5}, 422),
                ({"text": "x", "bonus": 1}, 422),
            ):
                response = await _send(client, key, **body)
                assert response.status_code == status, (body, response.text)
            unauthorized = await client.post("/api/v1/messages", json={"text": "x"})
            assert unauthorized.status_code == 401
    out = run(
        env, "message", "send", "--shop", _slug(env), "--segment", "all", "--preview", "Hallo"
    )
    assert "recipients: 3" in out.stdout or "recipients: 2" in out.stdout
    assert "android:    0 notified, 0 updated silently" in out.stdout


def _slug(env: dict[str, str]) -> str:
    shown = run(env, "card", "show", "--help")
    assert shown.returncode == 0
    import sqlite3

    db = env["PASSES_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        return str(conn.execute("select slug from shops order by id desc limit 1").fetchone()[0])


def _pass_json(phone: Phone, pkpass: bytes) -> dict:
    import io
    import zipfile

    return json.loads(zipfile.ZipFile(io.BytesIO(pkpass)).read("pass.json"))


async def test_success_figures_compare_recipients_with_the_hold_out(
    tmp_path: Path, certs_dir: Path, apns: FakeApns
) -> None:
    env = live_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir, apns)
    key = create_shop(env, stamps=2, slug="sonne")
    run(env, "shop", "settings", "--shop", "sonne", "--holdout", "50")
    with server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            headers = {"Authorization": f"Bearer {key}"}
            phones = [await new_phone(client, key, certs_dir / "wwdr.pem") for _ in range(4)]
            sent = (await _send(client, key, text="Kommen Sie vorbei", segment="all")).json()
            assert (sent["recipients"], sent["held_out"]) == (2, 2)
            for phone in phones:  # everyone comes back: no uplift
                await stamp(client, key, phone.serial, 2)
            await client.post(f"/api/v1/cards/{phones[0].serial}/redeem", headers=headers)
            figures = (
                await client.get("/api/v1/stats?reward_cost=3&basket=4.5", headers=headers)
            ).json()
            success = figures["success"]
            assert success["redemption_rate"] == 0.25
            campaign = success["campaigns"][0]
            assert campaign["response_rate"] == 1.0 and campaign["held_out_response_rate"] == 1.0
            assert campaign["uplift"] == 0.0
            assert success["estimate"]["program_cost"] == 3.0
            bad = await client.get("/api/v1/stats?basket=lots", headers=headers)
            assert bad.status_code == 422


async def test_a_scheduled_campaign_waits_for_its_moment(
    tmp_path: Path, certs_dir: Path, apns: FakeApns
) -> None:
    env = live_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir, apns)
    key = create_shop(env, stamps=10)
    with server(env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            phone = await new_phone(client, key, certs_dir / "wwdr.pem")
            apns.clear()
            past = await _send(client, key, text="Gestern", send_at="2020-01-01T09:00:00+00:00")
            assert past.status_code == 422
            no_zone = await _send(client, key, text="Bald", send_at="2030-01-01T09:00:00")
            assert no_zone.status_code == 422
            moment = datetime.now(UTC) + timedelta(seconds=3)
            sent = await _send(client, key, text="Gleich geht's los", send_at=moment.isoformat())
            assert sent.status_code == 202 and sent.json()["recipients"] == 1
            await asyncio.sleep(1.5)
            assert not pushes_to(apns, phone.push_token), "not before its moment"
            await until(lambda: bool(pushes_to(apns, phone.push_token)), seconds=15)
            assert datetime.now(UTC) >= moment
