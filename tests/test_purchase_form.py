"""The purchase rule on the owner's dashboard over HTTP: set, changed, removed, a wrong amount
or currency refused next to its field with the form kept as typed, and the till's purchases
counted by the rule set there."""

from __future__ import annotations

import re

import httpx

from passes.store.shops import ShopRow
from tests.conftest import auth
from tests.pages_client import Pages, signed_in_owner

RULES = {"daily_cap": "", "messages_per_week": "2", "holdout_percent": "0", "welcome_stamps": "0"}


async def save(
    owner: httpx.AsyncClient, shop: ShopRow, token: str, **purchase: str
) -> httpx.Response:
    fields = {"csrf": token, **RULES, **{f"purchase_{k}": v for k, v in purchase.items()}}
    return await owner.post(f"/dashboard/{shop.slug}/program", data=fields)


def checked(page: str) -> str:
    found = re.search(r'name="purchase_kind".*?<option value="([a-z_]+)" selected>', page, re.S)
    assert found, "one purchase rule is chosen"
    return found.group(1)


def shown(page: str, name: str) -> str:
    found = re.search(rf'name="purchase_{name}"[^>]*value="([^"]*)"', page)
    assert found, name
    return found.group(1)


async def test_the_owner_sets_changes_and_removes_the_purchase_rule(pages: Pages) -> None:
    shop, key = await pages.shop()
    owner, token = await signed_in_owner(pages, shop, key)
    page = (await owner.get(f"/dashboard/{shop.slug}")).text
    assert "Stamps from the till" in page and checked(page) == "none"
    assert shown(page, "currency") == "EUR"

    saved = await save(owner, shop, token, kind="per_amount", amount="5,00", currency="eur")
    assert saved.status_code == 303 and "saved=settings" in saved.headers["location"]
    page = (await owner.get(saved.headers["location"])).text
    assert re.search(r'<p class="notice" id="notice" role="status"[^>]*>Rules saved\.', page)
    assert (checked(page), shown(page, "amount"), shown(page, "currency")) == (
        "per_amount",
        "5.00",
        "EUR",
    )
    rule = await pages.service.purchases.rule(shop)
    assert rule is not None and rule.text() == "per 5.00 EUR"

    changed = await save(owner, shop, token, kind="over_amount", amount="3", currency="CHF")
    assert changed.status_code == 303
    rule = await pages.service.purchases.rule(shop)
    assert rule is not None and rule.text() == "over 3 CHF"

    removed = await save(owner, shop, token, kind="none", amount="3", currency="CHF")
    assert removed.status_code == 303
    assert await pages.service.purchases.rule(shop) is None
    assert checked((await owner.get(removed.headers["location"])).text) == "none"

    kept = await save(owner, shop, token)  # an older page without the rule's fields
    assert kept.status_code == 303 and await pages.service.purchases.rule(shop) is None


async def test_a_wrong_amount_or_currency_is_refused_next_to_its_field(pages: Pages) -> None:
    shop, key = await pages.shop()
    owner, token = await signed_in_owner(pages, shop, key)
    assert (await save(owner, shop, token, kind="per_amount", amount="5")).status_code == 303
    for amount in ("0", "-1", "5.0001", "abc", "", "2000000", "1e3"):
        bad = await save(owner, shop, token, kind="over_amount", amount=amount, currency="EUR")
        assert bad.status_code == 422, amount
        said = "Amount: please a number above 0 and at most 1000000, with up to 3 decimals"
        assert said in bad.text, amount
        field = re.search(r'<input id="rule-purchase_amount"[^>]*>', bad.text)
        assert field and 'aria-invalid="true"' in field.group(0)
        row = re.search(r'id="till".*?<p class="error" id="rules-error"(.*?)</div>', bad.text, re.S)
        assert row and said in row.group(1), "the error is under its fields, in their row"
        assert bad.text.count('id="rules-error"') == 1
        assert checked(bad.text) == "over_amount", "the form stays as typed"
        assert shown(bad.text, "amount") == amount
    wrong = await save(owner, shop, token, kind="per_amount", amount="5", currency="EURO")
    assert wrong.status_code == 422
    assert "Currency: please a three-letter ISO 4217 code" in wrong.text
    odd = await save(owner, shop, token, kind="per_visit", amount="5")
    assert odd.status_code == 422 and "Please choose how purchases earn stamps." in odd.text
    rule = await pages.service.purchases.rule(shop)
    assert rule is not None and rule.text() == "per 5 EUR", "a refusal changes nothing"


async def test_the_till_counts_by_the_rule_set_on_the_dashboard(pages: Pages) -> None:
    shop, key = await pages.shop(stamps=20)
    owner, token = await signed_in_owner(pages, shop, key)
    till = pages.browser()
    serial = (await pages.service.issuing.issue_card(shop, "test")).card.serial
    path = f"/api/v1/cards/{serial}/purchases"

    async def buy(reference: str, amount: str) -> int:
        body = {"amount": amount, "currency": "EUR", "reference": reference}
        bought = await till.post(path, json=body, headers=auth(key))
        assert bought.status_code == 201, bought.text
        return int(bought.json()["purchase"]["stamps"])

    assert (await save(owner, shop, token, kind="per_amount", amount="4.50")).status_code == 303
    assert await buy("R-1", "13.49") == 2
    assert (await save(owner, shop, token, kind="over_amount", amount="10")).status_code == 303
    assert (await buy("R-2", "9.99"), await buy("R-3", "25.00")) == (0, 1)
    assert (await save(owner, shop, token, kind="none")).status_code == 303
    body = {"amount": "5.00", "currency": "EUR", "reference": "R-4"}
    refused = await till.post(path, json=body, headers=auth(key))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_purchase_rule"
