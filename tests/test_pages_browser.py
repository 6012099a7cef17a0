"""The pages in a real headless Chromium against a real `passes serve`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser import fake_camera_video, issue_card, launch, new_shop, phone, screenshot
from tests.live import passes_env, run, server
from tests.pkpass_check import verify_pkpass

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`

PIN = "2468"


@dataclass
class Live:
    """The running server, its environment, one shop and a card the fake camera shows."""

    base: str
    env: dict[str, str]
    certs: Path
    slug: str
    key: str
    camera_serial: str
    browser: Browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("pages")
    env = passes_env(f"sqlite:///{root / 'passes.db'}", root / "certs")
    run(env, "init")
    slug, key = new_shop(env, PIN)
    camera_serial = issue_card(env, slug)
    video = fake_camera_video(camera_serial, root / "camera.y4m")
    with server(env) as (base, _), sync_playwright() as playwright:
        browser = launch(
            playwright,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        )
        yield Live(base, env, root / "certs", slug, key, camera_serial, browser)
        browser.close()


def open_phone(live: Live, path: str, locale: str = "de-DE") -> Page:
    context = phone(live.browser, locale)
    page = context.new_page()
    page.goto(live.base + path)
    return page


def sign_in_staff(live: Live) -> Page:
    page = open_phone(live, f"/staff/{live.slug}")
    page.get_by_label("PIN").fill(PIN)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_label("Kartennummer")).to_be_visible()
    return page


def test_new_customer_joins_with_apple_and_sees_the_card(live: Live) -> None:
    page = open_phone(live, f"/join/{live.slug}")
    expect(page.get_by_text("10 Stempel = 1 Vita Mix gratis")).to_be_visible()
    expect(page.get_by_text("Am Handy öffnen")).to_be_hidden()
    screenshot(page, "join-phone")
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Apple Wallet")).click()
    pass_json = verify_pkpass(Path(download.value.path()).read_bytes(), live.certs / "wwdr.pem")
    run(live.env, "card", "stamp", pass_json["serialNumber"])
    page.goto(f"{live.base}/join/{live.slug}")
    page.get_by_role("link", name="Meine Karte öffnen").click()
    expect(page.get_by_text("1 von 10 Stempeln").first).to_be_visible()
    expect(page.get_by_text(pass_json["serialNumber"])).to_be_visible()
    screenshot(page, "card-phone")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_text("1 of 10 stamps").first).to_be_visible()


def test_desktop_join_page_shows_a_qr_code_of_itself(live: Live) -> None:
    context = live.browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.goto(f"{live.base}/join/{live.slug}")
    expect(page.get_by_text("Open it on your phone")).to_be_visible()
    shot = screenshot(page, "join-desktop")
    decoded = {code.text for code in zxingcpp.read_barcodes(Image.open(shot))}
    assert f"{live.base}/join/{live.slug}" in decoded
    context.close()


def test_staff_stamps_a_typed_serial_and_undoes_it(live: Live) -> None:
    serial = issue_card(live.env, live.slug)
    page = sign_in_staff(live)
    page.get_by_label("Kartennummer").fill(serial.lower())
    page.get_by_role("button", name="Öffnen").click()
    answer = page.locator("#answer")
    expect(answer).to_have_text("0 von 10 Stempeln")
    page.get_by_role("button", name="+1 Stempel").click()
    expect(answer).to_have_text("1 von 10 Stempeln")
    expect(page.get_by_text("+1 gestempelt")).to_be_visible()
    screenshot(page, "staff-stamped")
    page.get_by_role("button", name="Rückgängig").click()
    expect(answer).to_have_text("0 von 10 Stempeln")
    expect(page.get_by_role("button", name="Rückgängig")).to_be_hidden()
    expect(page.get_by_role("button", name=re.compile("^Einlösen"))).to_have_count(0)
    page.get_by_label("Anzahl").fill("10")
    page.get_by_role("button", name="+10").click()
    expect(page.locator("#reward")).to_have_text("Prämie fällig: 1 Vita Mix gratis")
    screenshot(page, "staff-reward-due")


def test_wrong_pin_is_refused_and_repeated_wrong_pins_lock_out(live: Live) -> None:
    slug, _ = new_shop(live.env, "1357")
    page = open_phone(live, f"/staff/{slug}", locale="en-US")
    for left in (4, 3, 2, 1):
        page.get_by_label("PIN").fill("0000")
        page.get_by_role("button", name="Sign in").click()
        tries = "1 try" if left == 1 else f"{left} tries"
        expect(page.get_by_role("alert")).to_contain_text(f"Wrong PIN. {tries} left")
    page.get_by_label("PIN").fill("0000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("locked for 15 minutes")
    page.get_by_label("PIN").fill("1357")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("locked")
    screenshot(page, "staff-locked")


def test_camera_reads_the_pass_qr_code_and_stamps_that_card(live: Live) -> None:
    page = sign_in_staff(live)
    page.get_by_role("button", name="Mit der Kamera scannen").click()
    expect(page.get_by_label("Kartennummer")).to_have_value(live.camera_serial, timeout=15_000)
    expect(page.locator("#card-serial")).to_have_text(live.camera_serial)
    page.get_by_role("button", name="+1 Stempel").click()
    expect(page.locator("#answer")).to_have_text("1 von 10 Stempeln")
    shown = run(live.env, "card", "show", live.camera_serial).stdout
    assert "stamps:  1 / 10" in shown


def test_dashboard_shows_figures_and_plots(live: Live) -> None:
    slug, key = new_shop(live.env, "1111", stamps=3)
    serials = [issue_card(live.env, slug) for _ in range(3)]
    run(live.env, "card", "stamp", serials[0], "--count", "4")
    run(live.env, "card", "redeem", serials[0])
    run(live.env, "card", "stamp", serials[1])
    page = open_phone(live, f"/dashboard/{slug}")
    page.get_by_label("API-Schlüssel").fill(key)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.locator("#cards-issued")).to_have_text("3")
    expect(page.locator("#active")).to_have_text("2")
    expect(page.locator("#redeemed")).to_have_text("1")
    expect(page.locator("#stamps-total")).to_have_text("5")
    expect(page.locator("svg.chart rect.bar")).to_have_count(30)
    expect(page.get_by_role("img", name=re.compile("Stempel pro Tag"))).to_be_visible()
    screenshot(page, "dashboard-phone")
    with page.expect_download() as download:
        page.get_by_role("link", name="Alle Buchungen als CSV").click()
    ledger = Path(download.value.path()).read_text()
    assert ledger.count("\n") == 1 + 3 + 3, ledger


def test_poster_prints_a_qr_code_of_the_join_url(live: Live) -> None:
    context = live.browser.new_context(viewport={"width": 800, "height": 1100}, locale="de-DE")
    page = context.new_page()
    page.goto(f"{live.base}/join/{live.slug}/poster")
    expect(page.get_by_role("heading", name="Café Sonne")).to_be_visible()
    shot = screenshot(page, "poster")
    decoded = {code.text for code in zxingcpp.read_barcodes(Image.open(shot))}
    assert decoded == {f"{live.base}/join/{live.slug}"}
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Drucken")).to_be_hidden()
    context.close()


def card_path(env: dict[str, str], serial: str) -> str:
    """The card page's path (the CLI prints it under its own base URL)."""
    found = re.search(r"card:\s+\S+?(/c/[^/\s]+)\n", run(env, "card", "show", serial).stdout)
    assert found
    return found.group(1)


def stamps_of(env: dict[str, str], serial: str) -> str:
    found = re.search(r"stamps:\s+(\d+) /", run(env, "card", "show", serial).stdout)
    assert found
    return found.group(1)


def sign_in_owner(live: Live, slug: str, key: str) -> Page:
    page = open_phone(live, f"/dashboard/{slug}")
    page.get_by_label("API-Schlüssel").fill(key)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.locator("#cards-issued")).to_be_visible()
    return page


def test_referral_link_is_copied_and_the_friend_joins_with_a_bonus(live: Live) -> None:
    friend = issue_card(live.env, live.slug)
    page = open_phone(live, card_path(live.env, friend))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    share_url = f"{live.base}/join/{live.slug}?ref={friend}"
    expect(page.get_by_label("Ihr Empfehlungslink")).to_have_value(share_url)
    button = page.locator("#share")
    expect(button).to_be_visible()
    screenshot(page, "card-share-phone")
    button.click()
    if button.text_content() == "Link kopieren":  # Chromium on Linux has no share sheet
        expect(page.get_by_role("status").filter(has_text="Link kopiert.")).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == share_url
    newcomer = open_phone(live, share_url.removeprefix(live.base))
    expect(newcomer.locator("#referred")).to_contain_text("je 1 Bonusstempel")
    screenshot(newcomer, "join-referred-phone")
    with newcomer.expect_download() as download:
        newcomer.get_by_role("button", name=re.compile("Apple Wallet")).click()
    pass_json = verify_pkpass(Path(download.value.path()).read_bytes(), live.certs / "wwdr.pem")
    run(live.env, "card", "stamp", pass_json["serialNumber"])
    assert stamps_of(live.env, pass_json["serialNumber"]) == "2"
    assert stamps_of(live.env, friend) == "1"


def test_feedback_after_a_redeem_reaches_the_dashboard(live: Live) -> None:
    slug, key = new_shop(live.env, "1212", stamps=3)
    serial = issue_card(live.env, slug)
    run(live.env, "card", "stamp", serial, "--count", "3")
    run(live.env, "card", "redeem", serial)
    page = open_phone(live, card_path(live.env, serial))
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Apple Wallet")).click()
    pass_json = verify_pkpass(Path(download.value.path()).read_bytes(), live.certs / "wwdr.pem")
    back = {field["key"]: field["value"] for field in pass_json["storeCard"]["backFields"]}
    assert back["feedback"].endswith("/feedback")
    page.get_by_role("link", name="Wie war Ihre Prämie? Sagen Sie es uns").click()
    expect(page.get_by_role("group", name="Wie zufrieden sind Sie mit Café Sonne?")).to_be_visible()
    page.locator("label[for=stars-4]").click()  # the star people tap
    expect(page.get_by_role("radio", name="4 von 5 Sternen")).to_be_checked()
    page.get_by_label(re.compile("Möchten Sie uns noch etwas sagen")).fill("<i>Sehr</i> lecker!")
    screenshot(page, "feedback-phone")
    page.get_by_role("button", name="Absenden").click()
    expect(page.get_by_role("status")).to_have_text("Danke für Ihre Meinung!")
    owner = sign_in_owner(live, slug, key)
    expect(owner.locator("#feedback-average")).to_contain_text("4,0")
    expect(owner.locator("#feedback-count")).to_have_text("1")
    expect(owner.locator("#feedback-latest")).to_contain_text("<i>Sehr</i> lecker!")
    owner.locator("#feedback").screenshot(path=str(screenshot(owner, "dashboard-feedback-phone")))


def test_dashboard_campaign_rules_and_locations(live: Live) -> None:
    slug, key = new_shop(live.env, "3434")
    serials = [issue_card(live.env, slug) for _ in range(10)]
    page = sign_in_owner(live, slug, key)
    page.get_by_label("An wen?").select_option("all")
    page.get_by_label("Nachricht (höchstens 200 Zeichen)").fill("Doppelte Stempel am Wochenende!")
    page.get_by_role("button", name="Vorschau").click()
    expect(page.locator("#preview-recipients")).to_have_text("9")
    expect(page.locator("#preview-held-out")).to_have_text("1")
    expect(page.locator("#preview-over-limit")).to_have_text("0")
    page.locator("#campaigns").screenshot(path=str(screenshot(page, "dashboard-preview-phone")))
    page.get_by_role("button", name="Senden").click()
    expect(page.get_by_role("status")).to_contain_text("Die Nachricht geht an 9 Karten")
    history = page.get_by_role("table", name="Bisherige Nachrichten")
    expect(history.get_by_role("row")).to_have_count(2)
    expect(history).to_contain_text("Doppelte Stempel am Wochenende!")
    page.get_by_label("Höchstens Stempel pro Karte und Tag").fill("1")
    page.get_by_role("button", name="Speichern").first.click()
    expect(page.get_by_role("status")).to_have_text("Regeln gespeichert.")
    page.get_by_label("Adresse").fill("Hauptstraße 1, Berlin")
    page.get_by_label(re.compile("Breitengrad")).fill("52,52")
    page.get_by_label(re.compile("Längengrad")).fill("13,405")
    page.get_by_role("button", name="Standort hinzufügen").click()
    expect(page.locator("#places")).to_contain_text("Hauptstraße 1, Berlin")
    screenshot(page, "dashboard-forms-phone")
    run(live.env, "card", "stamp", serials[0])
    refused = run(live.env, "card", "stamp", serials[0], ok=False)
    assert "at most 1 stamp per card and day; 0 left today" in refused.stderr
    card = open_phone(live, card_path(live.env, serials[0]))
    with card.expect_download() as download:
        card.get_by_role("link", name=re.compile("Apple Wallet")).click()
    pass_json = verify_pkpass(Path(download.value.path()).read_bytes(), live.certs / "wwdr.pem")
    assert [(p["latitude"], p["longitude"]) for p in pass_json["locations"]] == [(52.52, 13.405)]


def test_staff_picks_which_tier_reward_to_redeem(live: Live) -> None:
    slug, _ = new_shop(live.env, "5656")
    run(live.env, "shop", "settings", "--shop", slug, "--tier", "5=1 Cookie")
    serial = issue_card(live.env, slug)
    run(live.env, "card", "stamp", serial, "--count", "10")
    page = open_phone(live, f"/staff/{slug}")
    page.get_by_label("PIN").fill("5656")
    page.get_by_role("button", name="Anmelden").click()
    page.get_by_label("Kartennummer").fill(serial)
    page.get_by_role("button", name="Öffnen").click()
    reward = page.locator("#reward")
    expect(reward).to_have_text("Prämie fällig: 1 Cookie + 1 Vita Mix gratis")
    screenshot(page, "staff-tiers-due")
    page.get_by_role("button", name="Einlösen: 1 Vita Mix gratis").click()
    expect(reward).to_have_text("Prämie fällig: 1 Cookie")
    expect(page.get_by_role("button", name="Einlösen", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Einlösen: 1 Cookie").click()
    expect(reward).to_have_text("")
