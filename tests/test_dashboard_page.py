"""The dashboard in Chromium against a real `passes serve`: side by side on a wide screen and
still one column on a phone, every form's outcome where the page lands, and a campaign that
would reach nobody explained and asked about first (on the page and in the CLI)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser import issue_card, launch, new_shop, screenshot
from tests.live import PASSES, passes_env, run, server

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`

WIDE = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
# Just under the wide layout's breakpoint (64rem, site.css): the dashboard in one column, as
# it was at every width before it used the width (5,455 px tall for this shop then).
ONE_COLUMN = {"width": 1000, "height": 900}


@dataclass
class Live:
    base: str
    env: dict[str, str]
    browser: Browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("dashboard")
    env = passes_env(f"sqlite:///{root / 'passes.db'}", root / "certs")
    run(env, "init")
    with server(env) as (base, _), sync_playwright() as playwright:
        browser = launch(playwright)
        yield Live(base, env, browser)
        browser.close()


def busy_shop(live: Live, cards: int = 5, messages: int = 2) -> tuple[str, str]:
    """A shop with stamped cards, a place and some campaigns; returns (slug, key)."""
    slug, key = new_shop(live.env, "2468")
    for _ in range(cards):
        run(live.env, "card", "stamp", issue_card(live.env, slug), "--count", "3")
    for n in range(messages):
        run(live.env, "message", "send", "--shop", slug, f"Hallo Nummer {n}")
    place = ("--address", "Sonnenallee 1, Berlin", "--lat", "52.48", "--lon", "13.43")
    run(live.env, "shop", "location", "--shop", slug, *place)
    return slug, key


def signed_in(live: Live, slug: str, key: str, viewport: dict[str, int]) -> Page:
    page = live.browser.new_page(viewport=viewport, locale="en-US")
    page.goto(f"{live.base}/dashboard/{slug}")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Card design")).to_be_visible()
    return page


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, selector
    return found


def test_a_wide_screen_shows_sections_side_by_side_and_history_as_a_table(live: Live) -> None:
    slug, key = busy_shop(live)
    narrow = signed_in(live, slug, key, ONE_COLUMN)
    one_column = narrow.evaluate("document.documentElement.scrollHeight")
    narrow.close()
    page = signed_in(live, slug, key, WIDE)
    height = page.evaluate("document.documentElement.scrollHeight")
    screenshot(page, "dashboard-wide")
    # The sections side by side: the same page at most 70 % as tall as in one column.
    assert height < one_column * 0.7, f"{height} px tall, {one_column} px in one column"
    chart, feedback = box(page, ".board > section:first-child"), box(page, "#feedback")
    assert chart["y"] == feedback["y"] and feedback["x"] > chart["x"] + chart["width"]
    form, history = box(page, "#campaigns form"), box(page, "#campaign-history")
    assert history["x"] > form["x"] + form["width"], "history beside the campaign form"
    design, preview = box(page, "#design-form"), box(page, "#apple-preview")
    assert preview["x"] > design["x"] + design["width"], "the preview beside the designer"
    assert box(page, "#locations")["y"] == box(page, "#staff-pin")["y"]
    table = page.locator("#campaign-history")
    assert table.evaluate("t => t.tagName") == "TABLE"
    expect(table).to_have_css("display", "table")
    expect(table.locator("thead th").first).to_be_visible()
    expect(table.get_by_role("columnheader", name="Recipients")).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_css("display", "table-row")
    one_line = [
        box(page, f"#campaign-history tbody tr:first-child td:nth-child({n})") for n in (1, 5)
    ]
    assert one_line[0]["y"] == one_line[1]["y"], "a campaign's text and figures share a row"
    page.close()


def test_a_phone_keeps_one_column_without_sideways_scrolling(live: Live) -> None:
    slug, key = busy_shop(live, cards=2, messages=1)
    page = signed_in(live, slug, key, PHONE)
    screenshot(page, "dashboard-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert box(page, "#feedback")["y"] > box(page, ".board > section:first-child")["y"]
    expect(page.locator("#campaign-history tbody tr").first).to_have_css("display", "grid")
    page.close()


def notice_in_view(page: Page, section: str, text: str) -> None:
    """The form's outcome in its section, in the viewport, announced and focused."""
    notice = page.locator(f"#{section} #notice")
    expect(notice).to_contain_text(text)
    expect(notice).to_have_attribute("role", "status")
    expect(notice).to_be_in_viewport()
    expect(notice).to_be_focused()
    assert page.locator(".notice").count() == 1, "one notice, in its section"


@pytest.mark.parametrize("viewport", [PHONE, WIDE], ids=["phone", "wide"])
def test_send_and_save_show_their_outcome_where_the_page_lands(
    live: Live, viewport: dict[str, int]
) -> None:
    slug, key = busy_shop(live, cards=3, messages=0)
    page = signed_in(live, slug, key, viewport)
    page.get_by_label("Message (at most 200 characters)").fill("Heute doppelt!")
    page.get_by_role("button", name="Send").click()
    notice_in_view(page, "campaigns", "The message goes to 3 cards")
    screenshot(page, f"dashboard-sent-{viewport['width']}")

    page.get_by_label("Welcome stamps for new cards").fill("2")
    page.locator("#rules").get_by_role("button", name="Save").click()
    notice_in_view(page, "rules", "Rules saved.")

    page.get_by_label("Heart", exact=True).check()
    page.locator("#design-form").get_by_role("button", name="Save").click()
    notice_in_view(page, "design", "Card design saved.")

    page.get_by_label("New PIN (4–12 digits)").fill("13579")
    page.locator("#staff-pin").get_by_role("button", name="Save").click()
    notice_in_view(page, "staff-pin", "PIN saved.")
    page.close()


def test_a_phone_sets_the_purchase_rule_and_sees_a_wrong_amount_at_its_field(live: Live) -> None:
    slug, key = busy_shop(live, cards=1, messages=0)
    page = signed_in(live, slug, key, PHONE)
    till = page.locator("#till")
    till.get_by_label("Stamps from the till").select_option(label="One per full amount")
    till.get_by_label("Amount").fill("5 EUR")
    page.locator("#rules").get_by_role("button", name="Save").click()
    error = page.locator("#till #rules-error")
    expect(error).to_contain_text("Amount: please a number above 0")
    expect(error).to_be_visible()
    expect(till.get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "dashboard-purchase-rule-refused")
    till.get_by_label("Amount").fill("4,50")
    page.locator("#rules").get_by_role("button", name="Save").click()
    notice_in_view(page, "rules", "Rules saved.")
    expect(till.get_by_label("Stamps from the till")).to_have_value("per_amount")
    expect(till.get_by_label("Amount")).to_have_value("4.50")
    assert (
        "purchase rule:     per 4.50 EUR"
        in run(live.env, "shop", "settings", "--shop", slug).stdout
    )
    page.close()


def test_a_campaign_to_nobody_says_why_and_needs_a_tick(live: Live) -> None:
    slug, key = busy_shop(live, cards=3, messages=0)
    run(live.env, "shop", "settings", "--shop", slug, "--messages-per-week", "1")
    run(live.env, "message", "send", "--shop", slug, "Erste Nachricht")
    page = signed_in(live, slug, key, PHONE)
    page.get_by_label("Message (at most 200 characters)").fill("Noch eine")
    page.get_by_role("button", name="Preview").click()
    why = page.locator("#preview-nobody")
    expect(why).to_have_text(
        "0 cards: 3 in the group “All cards”, all 3 reached the weekly limit of 1 message. "
        "The limit counts the last 7 days, so it works again later – or raise the messages "
        "per card and week under “Rules”."
    )
    expect(why).to_be_in_viewport()
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#campaign-error")).to_contain_text("This message reaches nobody")
    expect(page.locator("#campaign-error")).to_be_in_viewport()
    expect(page.locator("#campaign-history tbody tr")).to_have_count(1)
    screenshot(page, "dashboard-nobody")
    page.get_by_label("Send anyway, though it reaches nobody").check()
    page.get_by_role("button", name="Send").click()
    notice_in_view(page, "campaigns", "The message goes to 0 cards")
    expect(page.locator("#notice")).to_contain_text("all 3 reached the weekly limit of 1 message")
    expect(page.locator("#campaign-history tbody tr")).to_have_count(2)
    page.close()


def test_the_cli_says_why_a_campaign_reaches_nobody_and_asks(tmp_path: Path) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", tmp_path / "certs")
    run(env, "shop", "create", "--name", "Eck", "--slug", "eck", "--reward", "1 Kaffee")
    run(env, "shop", "settings", "--shop", "eck", "--messages-per-week", "2")
    for _ in range(2):
        run(env, "card", "issue", "--shop", "eck")
    for n in range(2):
        assert "recipients: 2" in run(env, "message", "send", "--shop", "eck", f"N{n}").stdout
    why = "0 cards: 2 in the group “All cards”, all 2 reached the weekly limit of 2 messages."

    preview = run(env, "message", "send", "--shop", "eck", "--preview", "N2")
    assert f"why:        {why}" in preview.stdout
    refused = run(env, "message", "send", "--shop", "eck", "N2", ok=False)
    assert refused.returncode == 1 and why in refused.stderr and "--yes" in refused.stderr
    assert "queued" not in refused.stdout
    assert answered(env, "n") == (1, False), "asked on a terminal; 'no' sends nothing"
    assert answered(env, "y") == (0, True)
    forced = run(env, "message", "send", "--shop", "eck", "--yes", "N3")
    assert "recipients: 0" in forced.stdout and why in forced.stdout and "queued" in forced.stdout
    lapsed = run(env, "message", "send", "--shop", "eck", "--segment", "lapsed", "N4", ok=False)
    assert "0 cards: no card is in the group “Lapsed" in lapsed.stderr


def answered(env: dict[str, str], answer: str) -> tuple[int, bool]:
    """`message send` to nobody on a terminal, answering its question; (exit code, queued)."""
    primary, terminal = os.openpty()
    try:
        proc = subprocess.Popen(
            [*PASSES, "message", "send", "--shop", "eck", "N-tty"],
            env=env,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(primary, f"{answer}\n".encode())
        out, err = proc.communicate(timeout=120)
    finally:
        os.close(terminal)
        os.close(primary)
    assert "Send it anyway, to nobody?" in err, err
    return proc.returncode, "queued" in out
