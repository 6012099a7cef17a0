"""The README's worked till example (Square webhooks → the purchases API), run as printed
against Square's documented sample events, then against the API on both databases.

The samples follow Square's API reference (Webhooks: payment.updated and refund.updated,
Square-Version 2020-11-18 and later): the envelope (merchant_id, type, event_id, created_at,
data.type/id/object.payment) and the Payment's amount_money {amount in minor units, currency}
and status were checked against developer.squareup.com/reference/square/webhooks/payment.updated;
only `note` is ours (a documented Payment field, where staff scan the card's QR code)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from passes.purchase_rules import parse_rule
from tests.api_calls import new_card
from tests.conftest import Env, auth

README = Path(__file__).resolve().parent.parent / "README.md"

PAYMENT_UPDATED: dict[str, Any] = {
    "merchant_id": "6SSW7HV8K2ST5",
    "type": "payment.updated",
    "event_id": "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc",
    "created_at": "2020-02-06T21:27:34.308Z",
    "data": {
        "type": "payment",
        "id": "hYy9pRFVxpDsO1FB05SunFWUe9JZY",
        "object": {
            "payment": {
                "amount_money": {"amount": 100, "currency": "USD"},
                "approved_money": {"amount": 100, "currency": "USD"},
                "card_details": {
                    "avs_status": "AVS_ACCEPTED",
                    "card": {
                        "bin": "540988",
                        "card_brand": "MASTERCARD",
                        "card_type": "CREDIT",
                        "exp_month": 11,
                        "exp_year": 2022,
                        "fingerprint": "sq-1-Tvruf3vPQxlvI6n0IcKYfBukrcv6IqWr8UyBdViWXU2yzGn5VMJvrsHMKpINMhPmVg",
                        "last_4": "9029",
                        "prepaid_type": "NOT_PREPAID",
                    },
                    "card_payment_timeline": {
                        "authorized_at": "2020-11-22T21:16:51.198Z",
                        "captured_at": "2020-11-22T21:16:51.262Z",
                    },
                    "cvv_status": "CVV_ACCEPTED",
                    "entry_method": "KEYED",
                    "statement_description": "SQ *DEFAULT TEST ACCOUNT",
                    "status": "CAPTURED",
                },
                "created_at": "2020-11-22T21:16:51.086Z",
                "delay_action": "CANCEL",
                "delay_duration": "PT168H",
                "delayed_until": "2020-11-29T21:16:51.086Z",
                "id": "hYy9pRFVxpDsO1FB05SunFWUe9JZY",
                "location_id": "S8GWD5R9QB376",
                "order_id": "03O3USaPaAaFnI6kkwB1JxGgBsUZY",
                "receipt_number": "hYy9",
                "receipt_url": "https://squareup.com/receipt/preview/hYy9pRFVxpDsO1FB05SunFWUe9JZY",
                "risk_evaluation": {
                    "created_at": "2020-11-22T21:16:51.198Z",
                    "risk_level": "NORMAL",
                },
                "source_type": "CARD",
                "status": "COMPLETED",
                "total_money": {"amount": 100, "currency": "USD"},
                "updated_at": "2020-11-22T21:16:51.198Z",
                "version_token": "FfQhQJf9r3VSQIgyWBk1oqhIwiznLwVwJbVVA0bdyEv6o",
            }
        },
    },
}

REFUND_UPDATED: dict[str, Any] = {
    "merchant_id": "6SSW7HV8K2ST5",
    "type": "refund.updated",
    "event_id": "4b8e5c91-9f17-4cf1-900a-4a0629f81add",
    "created_at": "2020-02-06T22:14:35.523Z",
    "data": {
        "type": "refund",
        "id": "KkAkhdMsgzn59SM8A89WgKwekxLZY_IPmQgPQZrhrg6d4mHGRjDQ6nakjaKlnzVf",
        "object": {
            "refund": {
                "amount_money": {"amount": 100, "currency": "USD"},
                "created_at": "2020-02-06T22:14:32.836Z",
                "id": "KkAkhdMsgzn59SM8A89WgKwekxLZY_IPmQgPQZrhrg6d4mHGRjDQ6nakjaKlnzVf",
                "location_id": "NAQ1FHV6ZJ8YV",
                "order_id": "haOyDuHiqtAXMk0d8pDKXpL7Jg4F",
                "payment_id": "hYy9pRFVxpDsO1FB05SunFWUe9JZY",
                "processing_fee": [
                    {
                        "amount_money": {"amount": -3, "currency": "USD"},
                        "effective_at": "2020-02-06T22:14:35.000Z",
                        "type": "INITIAL",
                    }
                ],
                "reason": "Refund via API",
                "status": "COMPLETED",
                "updated_at": "2020-02-06T22:14:35.491Z",
                "version": 10,
            }
        },
    },
}


def readme_mapping() -> dict[str, Any]:
    """The README's Square relay code, run as printed."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("**A worked example: Square.**") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    names: dict[str, Any] = {}
    exec(compile(code.group(1), "README.md", "exec"), names)
    return names


def test_the_documented_payment_maps_to_a_purchase_of_its_money() -> None:
    mapping = readme_mapping()
    assert mapping["square_purchase"](PAYMENT_UPDATED) is None, "no card scanned: no stamps"
    event = copy.deepcopy(PAYMENT_UPDATED)
    event["data"]["object"]["payment"]["note"] = "Stempelkarte 7k3m9p2q8r4t"
    path, body = mapping["square_purchase"](event)
    assert path == "/api/v1/cards/7K3M9P2Q8R4T/purchases"
    assert body == {
        "amount": "1.00",
        "currency": "USD",
        "reference": "hYy9pRFVxpDsO1FB05SunFWUe9JZY",
    }
    pending = copy.deepcopy(event)
    pending["data"]["object"]["payment"]["status"] = "APPROVED"
    assert mapping["square_purchase"](pending) is None
    yen = copy.deepcopy(event)
    yen["data"]["object"]["payment"]["total_money"] = {"amount": 500, "currency": "JPY"}
    assert mapping["square_purchase"](yen)[1]["amount"] == "500"
    cents = copy.deepcopy(event)
    cents["data"]["object"]["payment"]["total_money"] = {"amount": 5, "currency": "EUR"}
    assert mapping["square_purchase"](cents)[1]["amount"] == "0.05"


async def test_square_events_stamp_and_refund_through_the_api(env: Env) -> None:
    mapping = readme_mapping()
    key = await env.new_shop()
    shop = await env.service.shops.authenticate(key)
    await env.service.purchases.set_rule(shop, parse_rule("over 1.00 USD"))
    serial = (await new_card(env, key))["serial"]
    event = copy.deepcopy(PAYMENT_UPDATED)
    event["data"]["object"]["payment"]["note"] = serial
    path, body = mapping["square_purchase"](event)
    for status in (201, 200):  # Square retries a webhook it thinks failed
        answer = await env.client.post(path, json=body, headers=auth(key))
        assert answer.status_code == status, answer.text
        assert answer.json()["card"]["total_stamps"] == 1
    refund_path = mapping["square_refund"](REFUND_UPDATED, serial)
    refunded = await env.client.post(refund_path, headers=auth(key))
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["card"]["total_stamps"] == 0
