"""The review list and its ledger page in a real headless Chromium on a phone, against a real
`passes serve`: readable at 390 px without sideways scrolling, keyboard and labels intact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.browser import ARTIFACTS, issue_card, launch, new_shop, phone, screenshot
from tests.live import passes_env, run, server

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`


def no_sideways_scrolling(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide"


def test_review_entry_opens_its_ledger_rows_on_a_phone(tmp_path: Path) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", tmp_path / "certs")
    run(env, "init")
    slug, key = new_shop(env, "2468")
    run(env, "shop", "settings", "--shop", slug, "--review-card-stamps", "2")
    serial = issue_card(env, slug)
    for _ in range(3):
        run(env, "card", "stamp", serial)
    with server(env) as (base, _), sync_playwright() as playwright:
        browser = launch(playwright)
        page = phone(browser, "en-US").new_page()
        page.goto(f"{base}/dashboard/{slug}")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        review = page.locator("#review")
        expect(review.get_by_role("heading", name="Review: unusual activity")).to_be_visible()
        entry = review.get_by_role("link", name=f"Card {serial} on")
        expect(entry).to_contain_text("3 stamps")
        no_sideways_scrolling(page)
        ARTIFACTS.mkdir(exist_ok=True)
        review.screenshot(path=str(ARTIFACTS / "review-list-phone.png"))
        page.locator("#fraud").screenshot(path=str(ARTIFACTS / "fraud-controls-phone.png"))
        entry.focus()
        page.keyboard.press("Enter")
        table = page.get_by_role("table", name=f"Card {serial} on")
        expect(table.get_by_role("row")).to_have_count(1 + 4)  # header, issued and 3 stamps
        # On a phone each cell's name starts with its column's (a CSS label): "Change Stamp".
        expect(table.get_by_role("cell", name=re.compile(r"Stamp$"))).to_have_count(3)
        no_sideways_scrolling(page)
        screenshot(page, "review-ledger-phone")
        page.get_by_role("link", name="Deutsch").click()
        expect(page.get_by_role("heading", name=f"Karte {serial} am")).to_be_visible()
        page.get_by_role("link", name="Zurück zum Dashboard").click()
        expect(page.locator("#review")).to_be_visible()
        browser.close()
