"""The API's typed shapes: one source for its checks and its OpenAPI document, limits from the
rules, one table of error answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from passes import bonus_rules, campaign_rules, loyalty
from passes.errors import Conflict, InvalidInput, NotFound, cli_message, http_answer
from passes.openapi import openapi_document
from passes.serials import MAX_IDEMPOTENCY_KEY
from tests.conftest import BASE_URL, Env, auth

DOCUMENT = openapi_document(BASE_URL)
SCHEMAS = DOCUMENT["components"]["schemas"]
REQUESTS = ("NewCard", "CustomerData", "StampRequest", "RedeemRequest", "MessageRequest")


def _strings(schema: Any) -> list[dict[str, Any]]:
    """Every string schema within `schema` (refs left alone: each component is walked)."""
    found: list[dict[str, Any]] = []
    if isinstance(schema, dict):
        if schema.get("type") == "string" and "format" not in schema:
            found.append(schema)
        for value in schema.values():
            found += _strings(value)
    elif isinstance(schema, list):
        for value in schema:
            found += _strings(value)
    return found


@pytest.mark.parametrize("name", REQUESTS)
def test_every_text_a_request_takes_refuses_nul(name: str) -> None:
    texts = _strings(SCHEMAS[name]["properties"])
    assert all("\\u0000" in text.get("pattern", "") for text in texts), texts


def test_the_documents_limits_are_the_rules() -> None:
    def field(shape: str, name: str) -> dict[str, Any]:
        schema = SCHEMAS[shape]["properties"][name]
        return next(s for s in schema.get("anyOf", [schema]) if s.get("type") != "null")

    assert field("StampRequest", "count")["maximum"] == loyalty.MAX_STAMPS_PER_VISIT
    assert field("RedeemRequest", "tier")["maximum"] == loyalty.MAX_STAMPS_REQUIRED
    assert field("MessageRequest", "bonus_stamps")["maximum"] == campaign_rules.MAX_CAMPAIGN_BONUS
    assert field("MessageRequest", "multiplier")["maximum"] == bonus_rules.MAX_MULTIPLIER
    assert field("MessageRequest", "text")["maxLength"] == campaign_rules.MAX_MESSAGE_LENGTH
    assert set(SCHEMAS["MessageRequest"]["properties"]["segment"]["enum"]) == set(
        campaign_rules.SEGMENTS
    )
    stamp = DOCUMENT["paths"]["/cards/{serial}/stamps"]["post"]["parameters"]
    key = next(p for p in stamp if p["name"] == "Idempotency-Key")
    assert key["schema"]["maxLength"] == MAX_IDEMPOTENCY_KEY


@pytest.mark.parametrize(
    ("failure", "status", "code"),
    [
        (loyalty.Refused("card_voided", "this card has been voided"), 409, "card_voided"),
        (loyalty.Refused("daily_cap", "at most 2 stamps per card and day"), 409, "daily_cap"),
        (loyalty.Refused("invalid_count", "count must be 1 to 50"), 422, "invalid"),
        (loyalty.Refused("invalid_program", "stamps required must be 1 to 30"), 422, "invalid"),
        (Conflict("stamps can be undone for 10 minutes only", "undo_window_passed"), 409, "undo_window_passed"),
        (InvalidInput("tier must be 1 to 30"), 422, "invalid"),
        (NotFound("no card 'X'"), 404, "not_found"),
    ],
)  # fmt: skip
def test_one_table_answers_every_error(failure: Exception, status: int, code: str) -> None:
    answer = http_answer(failure)  # type: ignore[arg-type]
    assert (answer.status, answer.code, answer.message) == (status, code, str(failure))
    assert cli_message(failure) == str(failure)  # type: ignore[arg-type]


async def _card(env: Env, key: str) -> str:
    created = await env.client.post("/api/v1/cards", headers=auth(key))
    assert created.status_code == 201, created.text
    serial: str = created.json()["serial"]
    return serial


async def test_a_whole_float_count_is_a_count(env: Env) -> None:
    key = await env.new_shop()
    serial = await _card(env, key)
    stamped = await env.client.post(
        f"/api/v1/cards/{serial}/stamps", json={"count": 2.0}, headers=auth(key)
    )
    assert stamped.status_code == 200, stamped.text
    assert stamped.json()["total_stamps"] == 2


@pytest.mark.parametrize("amount", ["٣", "３", "null", "nan", "-1", "10001"])
async def test_stats_amounts_are_ascii_numbers_in_range(env: Env, amount: str) -> None:
    key = await env.new_shop()
    refused = await env.client.get(
        "/api/v1/stats", params={"reward_cost": amount, "basket": "5"}, headers=auth(key)
    )
    assert refused.status_code == 422, refused.text
    assert "reward_cost" in refused.json()["error"]["message"]


async def test_a_refused_field_is_named_in_the_answer(env: Env) -> None:
    key = await env.new_shop()
    serial = await _card(env, key)
    for path, body, naming in [
        (f"/api/v1/cards/{serial}/stamps", {"count": 51}, "count"),
        (f"/api/v1/cards/{serial}/redeem", {"tier": 31}, "tier"),
        ("/api/v1/cards", {"customer": {"name": "Ada", "consent": False}}, "customer.consent"),
        ("/api/v1/cards", {"customer": {"consent": True}}, "customer"),
        ("/api/v1/messages", {"text": "Hallo", "segment": "vip"}, "segment"),
        ("/api/v1/messages", {"text": "Hallo", "bonus_stamps": 4}, "bonus_stamps"),
        ("/api/v1/messages", {"text": "Hallo", "send_at": "2026-12-05T09:00"}, "send_at"),
    ]:
        refused = await env.client.post(path, json=body, headers=auth(key))
        assert refused.status_code == 422, (body, refused.text)
        assert refused.json()["error"]["code"] == "invalid"
        assert naming in refused.json()["error"]["message"], refused.text


async def test_answers_keep_their_times_as_before(env: Env) -> None:
    key = await env.new_shop()
    serial = await _card(env, key)
    card = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
    assert card["created_at"].endswith("+00:00"), "isoformat, as the API always wrote times"
    assert datetime.fromisoformat(card["created_at"]).tzinfo is not None
    sent = await env.client.post("/api/v1/messages", json={"text": "Hallo"}, headers=auth(key))
    assert sent.status_code == 202, sent.text
    assert set(sent.json()) == {"campaign", "recipients", "held_out", "over_limit"}
    history = (await env.client.get("/api/v1/messages", headers=auth(key))).json()
    assert history["campaigns"][0]["created_at"].endswith("+00:00")
    preview = await env.client.post("/api/v1/messages", json={"preview": True}, headers=auth(key))
    assert set(preview.json()) == {"recipients", "held_out", "over_limit", "google"}
