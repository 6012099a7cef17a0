"""The staff page, the printable poster and the dashboard chart in a real headless Chromium."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import zxingcpp
from PIL import Image, ImageChops
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser import issue_card, launch, new_shop, phone, screenshot
from tests.live import passes_env, run, server

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`

PIN = "8642"
A4_POINTS = (595.3, 841.9)  # 210 x 297 mm in PDF points


@dataclass
class Live:
    """The running server, its environment and one shop with a staff PIN."""

    base: str
    env: dict[str, str]
    slug: str
    key: str
    browser: Browser

    def card(self, serial: str, key: str | None = None) -> dict[str, object]:
        """The card as the shop API shows it."""
        headers = {"Authorization": f"Bearer {key or self.key}"}
        answer = httpx.get(f"{self.base}/api/v1/cards/{serial}", headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        found: dict[str, object] = answer.json()
        return found


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("staff-page")
    env = passes_env(f"sqlite:///{root / 'passes.db'}", root / "certs")
    run(env, "init")
    slug, key = new_shop(env, PIN)
    with server(env) as (base, _), sync_playwright() as playwright:
        browser = launch(playwright)
        yield Live(base, env, slug, key, browser)
        browser.close()


def staff_page(live: Live, slug: str, pin: str = PIN, locale: str = "de-DE") -> Page:
    page = phone(live.browser, locale).new_page()
    page.goto(f"{live.base}/staff/{slug}")
    page.get_by_label("PIN").fill(pin)
    page.get_by_role("button", name=re.compile("^(Anmelden|Sign in)$")).click()
    expect(page.locator("#serial")).to_be_visible()
    return page


def open_card(page: Page, serial: str) -> None:
    page.locator("#serial").fill(serial)
    page.locator("#lookup button[type=submit]").click()


def redeem_buttons(page: Page) -> list[str]:
    """The names of every redeem button on the page, visible or not."""
    return [name.strip() for name in page.locator("button.redeem").all_inner_texts()]


def test_a_failed_lookup_leaves_no_card_to_stamp(live: Live) -> None:
    card_a = issue_card(live.env, live.slug)
    page = staff_page(live, live.slug)
    open_card(page, card_a)
    expect(page.locator("#card-serial")).to_have_text(card_a)
    stamp = page.get_by_role("button", name="+1 Stempel")
    expect(stamp).to_be_visible()
    open_card(page, "NOSUCHCARD")
    expect(page.get_by_role("alert")).to_have_text("Diese Karte gibt es in diesem Laden nicht.")
    expect(stamp).to_be_hidden()
    expect(page.locator("#card-serial")).to_be_hidden()
    screenshot(page, "staff-unknown-after-card")
    # Even a click the page no longer offers (a stale tap, a script) stamps nothing.
    for button in ("stamp1", "stampn"):
        page.evaluate(f"document.getElementById('{button}').click()")
    page.wait_for_timeout(800)
    assert live.card(card_a)["stamps"] == 0, "card A was stamped after a failed lookup"
    open_card(page, card_a)
    expect(stamp).to_be_visible()
    stamp.click()
    expect(page.locator("#answer")).to_have_text("1 von 10 Stempeln")
    assert live.card(card_a)["stamps"] == 1


def test_with_no_card_open_an_unknown_serial_shows_the_error_alone(live: Live) -> None:
    page = staff_page(live, live.slug, locale="en-US")
    open_card(page, "NOSUCHCARD")
    expect(page.get_by_role("alert")).to_have_text("This shop has no such card.")
    for name in ("+1 stamp", "Undo"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    expect(page.locator("#card")).to_be_hidden()


def test_a_promotion_stamp_says_what_was_given_and_why(live: Live) -> None:
    slug, key = new_shop(live.env, "1357")
    run(live.env, "shop", "settings", "--shop", slug, "--holdout", "0")
    serial = issue_card(live.env, slug)
    ends = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    sent = httpx.post(
        f"{live.base}/api/v1/messages",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "text": "Doppelte Stempel heute!",
            "segment": "all",
            "multiplier": 2,
            "ends_at": ends,
        },
        timeout=10,
    )
    assert sent.status_code == 202 and sent.json()["recipients"] == 1, sent.text
    page = staff_page(live, slug, "1357")
    open_card(page, serial)
    page.get_by_role("button", name="+1 Stempel").click()
    expect(page.locator("#answer")).to_have_text("2 von 10 Stempeln")
    expect(page.locator("#change")).to_have_text("+2 gestempelt (1 + 1 Aktion ×2)")
    page.locator("#count").fill("3")
    page.get_by_role("button", name="+3").click()
    expect(page.locator("#change")).to_have_text("+6 gestempelt (3 + 3 Aktion ×2)")
    screenshot(page, "staff-promotion-stamp")
    assert live.card(serial, key)["stamps"] == 8
    english = staff_page(live, slug, "1357", locale="en-US")
    open_card(english, serial)
    english.get_by_role("button", name="+1 stamp").click()
    expect(english.locator("#change")).to_have_text("+2 stamped (1 + 1 promotion ×2)")


def test_plain_stamps_say_just_the_count(live: Live) -> None:
    serial = issue_card(live.env, live.slug)
    page = staff_page(live, live.slug)
    open_card(page, serial)
    page.get_by_role("button", name="+1 Stempel").click()
    expect(page.locator("#change")).to_have_text("+1 gestempelt")


def test_one_redeem_button_per_due_reward_and_none_when_nothing_is_due(live: Live) -> None:
    slug, _ = new_shop(live.env, "2468")
    run(live.env, "shop", "settings", "--shop", slug, "--tier", "5=1 Cookie")
    serial = issue_card(live.env, slug)
    page = staff_page(live, slug, "2468")
    open_card(page, serial)
    expect(page.locator("#answer")).to_have_text("0 von 10 Stempeln")
    assert redeem_buttons(page) == [], "nothing is due: no redeem button"
    expect(page.get_by_role("button", name=re.compile("^Einlösen"))).to_have_count(0)
    page.locator("#count").fill("5")
    page.get_by_role("button", name="+5").click()
    expect(page.locator("#reward")).to_have_text("Prämie fällig: 1 Cookie")
    assert redeem_buttons(page) == ["Einlösen: 1 Cookie"]
    page.get_by_role("button", name="+5").click()
    expect(page.locator("#reward")).to_have_text("Prämie fällig: 1 Cookie + 1 Vita Mix gratis")
    assert redeem_buttons(page) == ["Einlösen: 1 Cookie", "Einlösen: 1 Vita Mix gratis"]
    screenshot(page, "staff-redeem-buttons")
    page.get_by_role("button", name="Einlösen: 1 Cookie").click()
    expect(page.locator("#reward")).to_have_text("Prämie fällig: 1 Vita Mix gratis")
    assert redeem_buttons(page) == ["Einlösen: 1 Vita Mix gratis"]
    page.get_by_role("button", name="Einlösen: 1 Vita Mix gratis").click()
    expect(page.locator("#change")).to_have_text("Prämie eingelöst")
    assert redeem_buttons(page) == []


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """The page sizes (points) of a PDF Chromium printed (one /Type /Page object a page)."""
    pages = re.findall(rb"/Type\s*/Page\b(?!s)", pdf)
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert len(boxes) >= len(pages)
    return [(float(w), float(h)) for w, h in boxes[: len(pages)]]


def test_the_printed_poster_is_one_a4_page_laid_out_like_the_png(live: Live) -> None:
    colours = ("--background", "#17553A", "--label", "#F2C879")
    run(live.env, "shop", "settings", "--shop", live.slug, *colours)
    context = live.browser.new_context(viewport={"width": 800, "height": 1100}, locale="de-DE")
    page = context.new_page()
    page.goto(f"{live.base}/join/{live.slug}/poster")
    expect(page.get_by_role("heading", name="Café Sonne")).to_be_visible()
    page.emulate_media(media="print")
    for paper in ({"prefer_css_page_size": True}, {"format": "A4"}):
        sizes = pdf_pages(page.pdf(print_background=True, **paper))
        assert len(sizes) == 1, f"{paper}: {len(sizes)} pages"
        assert all(abs(side - a4) < 2 for side, a4 in zip(sizes[0], A4_POINTS, strict=True)), sizes
    # The same elements as the PNG poster, in the same order, places and colours.
    sheet = page.locator("article.sheet svg.poster-sheet")
    parts = [f"text.poster-{role}" for role in ("name", "offer", "scan", "small", "url")]
    parts.insert(2, "svg.qr")
    tops = [_box(page, f"svg.poster-sheet {part}")["y"] for part in parts]
    assert tops == sorted(tops), "name, offer, QR code, texts: the PNG's order"
    assert page.locator("rect.band").get_attribute("fill") == "#17553A"
    assert page.locator("text.poster-name").get_attribute("fill") == "#F2C879"
    png = Image.open(io.BytesIO(httpx.get(f"{live.base}/join/{live.slug}/poster.png").content))
    printed = Image.open(io.BytesIO(sheet.screenshot())).convert("RGB")
    assert abs(printed.width / printed.height - png.width / png.height) < 0.01
    assert _difference(printed, png.convert("RGB").resize(printed.size)) < 10
    assert abs(_qr_share(printed) - _qr_share(png)) < 0.02, "the QR code is as large"
    decoded = {found.text for found in zxingcpp.read_barcodes(printed)}
    assert decoded == {f"{live.base}/join/{live.slug}"}
    screenshot(page, "poster-print")
    context.close()


def _box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, selector
    return dict(found)


def _qr_share(image: Image.Image) -> float:
    """The QR code's width as a share of the image's."""
    found = zxingcpp.read_barcodes(image)[0].position
    return float(found.top_right.x - found.top_left.x) / image.width


def _difference(one: Image.Image, other: Image.Image) -> float:
    """The mean difference of two same-sized pictures, 0 (alike) to 255 per channel."""
    diff = ImageChops.difference(one, other).convert("L")
    histogram = diff.histogram()
    return sum(level * count for level, count in enumerate(histogram)) / (one.width * one.height)


def test_the_english_dashboard_dates_its_chart_in_english(live: Live) -> None:
    page = live.browser.new_context(locale="en-US").new_page()
    page.goto(f"{live.base}/dashboard/{live.slug}")
    page.get_by_label("API key").fill(live.key)
    page.get_by_role("button", name="Sign in").click()
    ticks = page.locator("svg.chart text.tick")
    expect(ticks).to_have_count(4)
    today = datetime.now(UTC).date()
    first = today - timedelta(days=29)
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    english = [f"{day.day} {months[day.month - 1]}" for day in (first, today)]
    assert ticks.all_text_contents()[2:] == english
    page.goto(f"{live.base}/dashboard/{live.slug}?lang=de")
    assert ticks.all_text_contents()[2:] == [f"{day:%d.%m.}" for day in (first, today)]
