"""The dashboard's webhooks in Chromium on a phone, against a real `passes serve`: adding an
endpoint shows its secret once, where the page lands; reloading shows the endpoint without it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser import launch, new_shop, screenshot
from tests.live import passes_env, run, server
from tests.test_dashboard_page import PHONE, Live, notice_in_view, signed_in

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root: Path = tmp_path_factory.mktemp("webhooks")
    env = passes_env(
        f"sqlite:///{root / 'passes.db'}", root / "certs", PASSES_WEBHOOKS_ALLOW_PRIVATE="true"
    )
    run(env, "init")
    with server(env) as (base, _), sync_playwright() as playwright:
        browser = launch(playwright)
        yield Live(base, env, browser)
        browser.close()


def test_adding_an_endpoint_shows_its_secret_once(live: Live) -> None:
    slug, key = new_shop(live.env, "2468")
    page = signed_in(live, slug, key, PHONE)
    section = page.locator("#webhooks")
    expect(section.get_by_text("No webhook endpoints yet.")).to_be_visible()
    page.get_by_label("Endpoint URL (https://…)").fill("http://127.0.0.1:9/hook")
    section.get_by_label("campaign.sent").uncheck()
    section.get_by_role("button", name="Add endpoint").click()

    notice_in_view(page, "webhooks", "Endpoint added.")
    secret = page.get_by_label("Signing secret of the new endpoint")
    expect(secret).to_have_value(re.compile(r"^whsec_[A-Za-z0-9+/=]{44}$"))
    expect(section).to_contain_text("it will not be shown again")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "dashboard-webhook-secret")

    page.reload()
    expect(page.locator("#endpoints")).to_contain_text("http://127.0.0.1:9/hook")
    expect(page.locator("#endpoints")).not_to_contain_text("campaign.sent")
    expect(page.locator("#webhook-secret")).to_have_count(0)
    assert "whsec_" not in page.content()
    page.close()
