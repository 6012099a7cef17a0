"""Stamps from the till over HTTP, on SQLite and PostgreSQL: the shop's purchase rule at its
edges, the same reference twice (also at once), refunds (also after the reward was redeemed)
and purchases arriving together on one card."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from passes.purchase_rules import parse_rule
from tests.api_calls import change, get_card, message, new_card
from tests.conftest import Env, auth


async def shop_with_rule(env: Env, rule: str, stamps: int = 10) -> str:
    key = await env.new_shop(stamps=stamps)
    shop = await env.service.shops.authenticate(key)
    await env.service.purchases.set_rule(shop, parse_rule(rule))
    return key


async def buy(
    env: Env, key: str, serial: str, reference: str, amount: str, currency: str = "EUR"
) -> httpx.Response:
    body = {"amount": amount, "currency": currency, "reference": reference}
    return await env.client.post(f"/api/v1/cards/{serial}/purchases", json=body, headers=auth(key))


async def refund(env: Env, key: str, serial: str, reference: str) -> httpx.Response:
    path = f"/api/v1/cards/{serial}/purchases/{reference}/refund"
    return await env.client.post(path, headers=auth(key))


def earned(response: httpx.Response) -> tuple[int, int, Any]:
    body = response.json()
    return response.status_code, body["purchase"]["stamps"], body["purchase"]["reason"]


async def test_just_below_and_at_the_threshold(env: Env) -> None:
    key = await shop_with_rule(env, "per 5.00 EUR")
    serial = (await new_card(env, key))["serial"]
    assert earned(await buy(env, key, serial, "R-1", "4.99")) == (201, 0, "below_threshold")
    assert earned(await buy(env, key, serial, "R-2", "5.00")) == (201, 1, None)
    last = await buy(env, key, serial, "R-3", "14.99")
    assert earned(last) == (201, 2, None)
    assert last.json()["card"]["total_stamps"] == 3
    key = await shop_with_rule(env, "over 3 EUR")
    serial = (await new_card(env, key))["serial"]
    assert earned(await buy(env, key, serial, "R-1", "2.99"))[1] == 0
    assert earned(await buy(env, key, serial, "R-2", "3.00"))[1] == 1
    assert earned(await buy(env, key, serial, "R-3", "250.00"))[1] == 1


async def test_wrong_currency_wrong_amount_and_no_rule_are_refused(env: Env) -> None:
    key = await shop_with_rule(env, "per 5 EUR")
    serial = (await new_card(env, key))["serial"]
    mismatch = await buy(env, key, serial, "R-1", "10.00", "CHF")
    assert mismatch.status_code == 422
    assert mismatch.json()["error"]["code"] == "currency_mismatch"
    assert "EUR" in mismatch.json()["error"]["message"]
    body = {"amount": 10.0, "currency": "EUR", "reference": "R-2"}
    number = await env.client.post(
        f"/api/v1/cards/{serial}/purchases", json=body, headers=auth(key)
    )
    assert number.status_code == 422, "a JSON number is not an amount: floats round"
    assert (await buy(env, key, serial, "with space", "5")).status_code == 422
    assert (await get_card(env.client, key, serial))["total_stamps"] == 0
    plain = await env.new_shop()
    other = (await new_card(env, plain))["serial"]
    refused = await buy(env, plain, other, "R-1", "10.00")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "no_purchase_rule")
    assert (await buy(env, key, "NOSUCHCARD00", "R-9", "5")).status_code == 404


async def test_the_same_reference_twice_stamps_once(env: Env) -> None:
    key = await shop_with_rule(env, "per 5 EUR")
    serial = (await new_card(env, key))["serial"]
    first = await buy(env, key, serial, "TX-7", "10.00")
    again = await buy(env, key, serial, "TX-7", "10.00")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["card"]["total_stamps"] == first.json()["card"]["total_stamps"] == 2
    other = await buy(env, key, serial, "TX-7", "20.00")
    assert (other.status_code, other.json()["error"]["code"]) == (409, "reference_reused")
    small = await buy(env, key, serial, "TX-8", "1.00")
    assert (await buy(env, key, serial, "TX-8", "1.00")).status_code == 200
    assert small.json()["purchase"]["stamps"] == 0
    assert (await get_card(env.client, key, serial))["total_stamps"] == 2


async def test_a_refund_takes_back_the_stamps_and_the_reward_still_due(env: Env) -> None:
    key = await shop_with_rule(env, "per 5 EUR", stamps=10)
    serial = (await new_card(env, key))["serial"]
    await change(env, key, f"/api/v1/cards/{serial}/stamps", count=8)
    bought = (await buy(env, key, serial, "TX-1", "15.00")).json()["card"]
    assert (bought["stamps"], bought["rewards_available"]) == (1, 1)
    done = await refund(env, key, serial, "TX-1")
    assert done.status_code == 200, done.text
    card, purchase = done.json()["card"], done.json()["purchase"]
    assert (card["stamps"], card["rewards_available"], card["total_stamps"]) == (8, 0, 8)
    assert (purchase["stamps_taken_back"], purchase["stamps_kept"]) == (3, 0)
    twice = await refund(env, key, serial, "TX-1")
    assert twice.status_code == 200
    assert twice.json()["card"]["total_stamps"] == 8
    assert twice.json()["purchase"]["refunded_at"] == purchase["refunded_at"]
    assert (await refund(env, key, serial, "TX-404")).status_code == 404


async def test_a_refund_after_the_reward_was_redeemed_keeps_what_it_paid_for(env: Env) -> None:
    key = await shop_with_rule(env, "per 5 EUR", stamps=10)
    serial = (await new_card(env, key))["serial"]
    await change(env, key, f"/api/v1/cards/{serial}/stamps", count=8)
    await buy(env, key, serial, "TX-1", "15.00")
    await change(env, key, f"/api/v1/cards/{serial}/redeem")
    done = (await refund(env, key, serial, "TX-1")).json()
    # The stamp left over after the reward goes; the two that completed the redeemed reward stay.
    assert (done["purchase"]["stamps_taken_back"], done["purchase"]["stamps_kept"]) == (1, 2)
    card = done["card"]
    assert (card["stamps"], card["rewards_available"], card["rewards_redeemed"]) == (0, 0, 1)
    assert card["total_stamps"] == 10


async def test_a_refund_takes_back_a_promotions_extra_stamps_too(env: Env) -> None:
    key = await shop_with_rule(env, "per 5 EUR", stamps=20)
    shop = await env.service.shops.authenticate(key)
    await env.service.shops.update_program(shop, holdout_percent=0)
    serial = (await new_card(env, key))["serial"]
    ends_at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    sent = await message(env, key, text="Doppelt!", multiplier=2, ends_at=ends_at)
    assert sent.status_code == 202, sent.text
    bought = (await buy(env, key, serial, "TX-1", "10.00")).json()
    assert bought["purchase"]["stamps"] == 2, "the rule's stamps, before the promotion"
    assert bought["card"]["total_stamps"] == 4, "the running promotion doubles them"
    done = await refund(env, key, serial, "TX-1")
    assert done.status_code == 200, done.text
    purchase, card = done.json()["purchase"], done.json()["card"]
    assert (purchase["stamps_taken_back"], purchase["stamps_kept"]) == (4, 0)
    assert (card["stamps"], card["total_stamps"]) == (0, 0)
    assert (await get_card(env.client, key, serial))["total_stamps"] == 0


async def test_purchases_at_once_on_one_card_each_count_once(env: Env) -> None:
    key = await shop_with_rule(env, "per 5 EUR", stamps=30)
    serial = (await new_card(env, key))["serial"]
    answers = await asyncio.gather(
        *(buy(env, key, serial, f"TX-{n}", "5.00") for n in range(12)),
        *(buy(env, key, serial, "TX-same", "10.00") for _ in range(6)),
    )
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert [a.status_code for a in answers[12:]].count(201) == 1
    assert (await get_card(env.client, key, serial))["total_stamps"] == 12 + 2
    refunds = await asyncio.gather(*(refund(env, key, serial, "TX-same") for _ in range(4)))
    assert {r.json()["purchase"]["stamps_taken_back"] for r in refunds} == {2}
    assert (await get_card(env.client, key, serial))["total_stamps"] == 12
