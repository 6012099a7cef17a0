"""The counter page in real headless Chromium against a real `passes serve`: the screen's QR
code, read by a phone's camera (Chromium's fake camera showing that code) on the card page,
stamps the card exactly once, and the screen lists the stamp."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from passes.people import People
from passes.store import Store
from passes.store.shops import shop_by_slug
from tests.browser import fake_camera_video, launch, new_shop, phone, screenshot
from tests.live import passes_env, run, server

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`

PIN = "4321"
# Seconds a code must have left on the screen before the test films it: the phone's part
# (a second Chromium, the card page, the camera) takes a few.
FRESH_SECONDS = 20


async def add_manager(database_url: str, slug: str) -> None:
    store = Store(database_url)
    try:
        async with store.reading() as conn:
            shop = await shop_by_slug(conn, slug)
        await People(store).add(shop, "Mia", PIN, "manager")
    finally:
        await store.close()


def fresh_code_url(page: Page) -> str:
    """The screen's code once it has FRESH_SECONDS left, read from its QR code's pixels."""
    seconds = int(re.sub(r"\D", "", page.locator("#countdown").inner_text()) or 0)
    if seconds < FRESH_SECONDS:
        before = page.locator("#till-qr").inner_html()
        page.wait_for_function(
            "before => document.getElementById('till-qr').innerHTML !== before",
            arg=before,
            timeout=(seconds + 10) * 1000,
        )
    shot = page.locator("#till-qr").screenshot()
    decoded = [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))]
    assert len(decoded) == 1, decoded
    return decoded[0]


def test_a_phone_scans_the_counter_screen_and_gets_one_stamp(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'passes.db'}"
    env = passes_env(database_url, tmp_path / "certs")
    run(env, "init")
    slug, _ = new_shop(env, "2468")
    asyncio.run(add_manager(database_url, slug))
    card = json.loads(run(env, "card", "issue", "--shop", slug, "--json").stdout)
    serial, card_url = card["serial"], card["urls"]["card"]
    with server(env) as (base, _), sync_playwright() as playwright:
        screen_browser = launch(playwright)
        tablet = {"width": 1024, "height": 768}
        screen = screen_browser.new_context(viewport=tablet, locale="de-DE").new_page()
        screen.goto(f"{base}/counter/{slug}")
        screen.get_by_label("Ihr Name").fill("Mia")
        screen.get_by_label("PIN").fill(PIN)
        screen.get_by_role("button", name="Anmelden").click()
        expect(screen.get_by_text("Stempel an dieser Theke")).to_be_visible()
        url = fresh_code_url(screen)
        assert url.startswith(f"{base}/counter/{slug}/s/"), url
        screenshot(screen, "counter-screen")
        video = fake_camera_video(url, tmp_path / "counter.y4m")
        phone_browser = launch(
            playwright,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        )
        page = phone(phone_browser).new_page()
        page.goto(base + "/c/" + card_url.split("/c/", 1)[1])
        page.get_by_role("button", name="Code an der Theke scannen").click()
        expect(page.get_by_text("Gestempelt! Danke.")).to_be_visible(timeout=15_000)
        expect(page.get_by_text("1 von 10 Stempeln")).to_be_visible()
        screenshot(page, "counter-stamped-phone")
        # The screen shows the stamp as it happens.
        line = screen.locator("#till-list li")
        expect(line).to_have_count(1, timeout=10_000)
        expect(line).to_contain_text(f"…{serial[-4:]}")
        screenshot(screen, "counter-screen-stamped")
        # The camera still shows that code: scanning it again stamps nothing more.
        page.get_by_role("link", name="Meine Karte öffnen").click()
        page.get_by_role("button", name="Code an der Theke scannen").click()
        expect(page.get_by_text("schon verwendet")).to_be_visible(timeout=15_000)
        phone_browser.close()
        screen_browser.close()
    shown = run(env, "card", "show", serial).stdout
    assert "stamps:  1 / 10" in shown, shown
