"""The card designer: a shop's own logo (PNG or SVG, checked, scaled for Apple and Google),
colours with their contrast checked and a stamp symbol; saving refreshes every pass in a wallet
and the Google class shows the shop's logo. Over HTTP (both databases), the CLI, the local
Google, and the live preview in Chromium."""

from __future__ import annotations

import io
import re
import secrets
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from passes.app import create_app
from passes.design import ShopLogos, change_design
from passes.logos import read_logo
from passes.program import ProgramChange
from passes.service import Service
from tests.api_calls import new_card
from tests.browser import launch, new_shop, screenshot
from tests.conftest import BASE_URL, Env, auth
from tests.fake_google import ISSUER, FakeGoogle, write_account
from tests.live import passes_env, run, server
from tests.pages_client import Pages, signed_in_owner
from tests.phones import phone_for
from tests.pkpass_check import verify_pkpass

RED = (200, 30, 30)
SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'


def png(size: tuple[int, int], colour: tuple[int, ...] = (*RED, 255)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, colour).save(out, "PNG")
    return out.getvalue()


def picture(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def pass_images(pkpass: bytes) -> dict[str, Image.Image]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        return {n: picture(archive.read(n)) for n in archive.namelist() if n.endswith(".png")}


async def design(
    client: httpx.AsyncClient, slug: str, token: str, logo: bytes | None = None, **fields: str
) -> httpx.Response:
    """The designer's form, sent as a browser sends it (multipart, with the file if any)."""
    files = {"logo": ("logo", logo or b"", "application/octet-stream")}
    return await client.post(
        f"/dashboard/{slug}/design", data={"csrf": token, **fields}, files=files
    )


async def test_a_logo_symbol_and_colours_reach_every_pass_in_a_wallet(
    pages: Pages, env: Env
) -> None:
    shop, key = await pages.shop()
    held = await new_card(env, key)
    phone = await phone_for(env, held)
    before = pass_images((await env.client.get(held["urls"]["apple"])).content)
    owner, token = await signed_in_owner(pages, shop, key)

    saved = await design(
        owner, shop.slug, token, png((600, 200)), stamp_symbol="star", background_color="#1F4E3D"
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].endswith("?saved=design&refreshed=1#design")

    assert await phone.changed_serials() == [held["serial"]], "the pass in the wallet moved"
    fetched = await phone.refresh()
    assert fetched.status_code == 200
    assert verify_pkpass(fetched.content, phone.ca)["backgroundColor"] == "rgb(31, 78, 61)"
    after = pass_images(fetched.content)
    sizes = {name: image.size for name, image in after.items() if name[:4] in ("logo", "icon")}
    assert sizes == {
        "logo.png": (150, 50),
        "logo@2x.png": (300, 100),
        "logo@3x.png": (450, 150),
        "icon.png": (29, 29),
        "icon@2x.png": (58, 58),
        "icon@3x.png": (87, 87),
    }, "the 3:1 logo fills Apple's 160×50 box in height; the icon is square"
    assert after["logo@3x.png"].getpixel((225, 75)) == RED
    assert after["icon@3x.png"].getpixel((43, 43)) == RED
    default = before["logo@3x.png"]
    centre = (default.width // 2, default.height // 2)
    assert default.getpixel(centre) != RED, "the default logo was there before"
    assert after["strip@2x.png"] != before["strip@2x.png"], "stars on the new colour"

    page = (await owner.get(saved.headers["location"])).text
    section = re.search(r'<section id="design".*?</section>', page, re.S)
    assert section and "Card design saved. Cards in wallets being updated: 1." in section.group(0)
    logo_url = re.search(r'id="apple-logo" src="([^"]+)"', page)
    assert logo_url and re.fullmatch(r"/img/logo/[0-9a-f]{64}/logo@2x.png", logo_url.group(1))
    served = await owner.get(logo_url.group(1))
    assert served.headers["content-type"] == "image/png"
    assert picture(served.content).size == (300, 100)
    assert re.search(r'id="symbol-star" name="stamp_symbol" value="star" checked', page)

    removed = await design(owner, shop.slug, token, remove_logo="1")
    assert removed.status_code == 303 and "refreshed=1" in removed.headers["location"]
    assert (await pages.service.shops.shop(shop.slug)).program.logo_digest is None


BOMB_SIDE = 5000  # 25 million pixels in a few kilobytes


def bomb() -> bytes:
    out = io.BytesIO()
    Image.new("L", (BOMB_SIDE, BOMB_SIDE)).save(out, "PNG", optimize=True)
    return out.getvalue()


REFUSED = [
    (b"hello, not a picture", 422, "That is not a PNG or SVG picture"),
    (png((120, 40)), 422, "The logo is 120 × 40 px. Please upload one at least 300 px"),
    (png((3000, 100)), 422, "at most 8 times wider than tall"),
    (png((400, 400), (0, 0, 0, 0)), 422, "fully transparent"),
    (bomb(), 422, "too many pixels"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, 422, "That is not a PNG or SVG picture"),
    (
        f'<svg {SVG_NS} viewBox="0 0 10 10"><image href="file:///etc/passwd"/></svg>'.encode(),
        422,
        "This SVG loads other files",
    ),
    (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + f"<svg {SVG_NS}><text>&x;</text></svg>".encode(),
        422,
        "declares entities",
    ),
    (secrets.token_bytes(2 * 1024 * 1024 + 10), 422, "The file is larger than 2 MB"),
    (secrets.token_bytes(3 * 1024 * 1024), 413, "The file is larger than 2 MB"),
]


@pytest.mark.parametrize(("upload", "status", "said"), REFUSED)
async def test_bad_logo_files_are_refused_and_nothing_changes(
    pages: Pages, upload: bytes, status: int, said: str
) -> None:
    shop, key = await pages.shop()
    owner, token = await signed_in_owner(pages, shop, key)
    refused = await design(owner, shop.slug, token, upload, stamp_symbol="heart")
    assert refused.status_code == status
    error = re.search(r'<p class="error" id="design-error" role="alert">([^<]*)</p>', refused.text)
    assert error and said in error.group(1), refused.text[-3000:]
    after = await pages.service.shops.shop(shop.slug)
    assert (after.program.logo_digest, after.program.stamp_symbol) == (None, "check")


async def test_an_svg_logo_is_drawn_and_never_served_as_svg(pages: Pages) -> None:
    shop, key = await pages.shop()
    owner, token = await signed_in_owner(pages, shop, key)
    drawing = (
        f'<svg {SVG_NS} viewBox="0 0 300 100"><script>alert(1)</script>'
        '<rect width="300" height="100" fill="rgb(200,30,30)"/></svg>'
    )
    saved = await design(owner, shop.slug, token, drawing.encode())
    assert saved.status_code == 303, saved.text
    digest = (await pages.service.shops.shop(shop.slug)).program.logo_digest
    assert digest is not None
    for path in (f"/img/logo/{digest}/logo@3x.png", f"/img/google/logo/{digest}/3b2a20.png"):
        served = await owner.get(path)
        assert served.headers["content-type"] == "image/png"
        assert b"<script" not in served.content and served.content.startswith(b"\x89PNG")
    width, height = picture((await owner.get(f"/img/logo/{digest}/logo@3x.png")).content).size
    assert height == 150 and 448 <= width <= 450, "drawn at 3:1, fitted to Apple's 3x box"
    assert (await owner.get(f"/img/logo/{'0' * 64}/logo.png")).status_code == 404


async def test_colours_too_close_to_the_background_are_refused(pages: Pages) -> None:
    shop, key = await pages.shop()
    owner, token = await signed_in_owner(pages, shop, key)
    grey = {"background_color": "#888888", "foreground_color": "#777777"}
    refused = await design(owner, shop.slug, token, **grey)
    assert refused.status_code == 422
    assert (
        "Text on the background: contrast 1.26:1, at least 4.5:1 is needed to be readable."
        in refused.text
    )
    assert 'id="design-foreground_color" name="foreground_color" type="color" value="#777777"' in (
        refused.text
    ), "the form keeps what the owner chose"
    faint = await design(owner, shop.slug, token, stamp_color="#4A3A30")
    assert faint.status_code == 422 and "Stamps on the background: contrast" in faint.text
    assert "at least 3.0:1" in faint.text, "a graphic needs 3:1"
    unchanged = (await pages.service.shops.shop(shop.slug)).program
    assert (unchanged.background_color, unchanged.foreground_color) == ("#3B2A20", "#FFFFFF")
    fine = await design(
        owner,
        shop.slug,
        token,
        background_color="#FFFFFF",
        **{"foreground_color": "#1A1A1A", "label_color": "#5A3E00", "stamp_color": "#8A5A00"},
    )
    assert fine.status_code == 303


@pytest.mark.slow
def test_cli_sets_the_logo_and_refuses_bad_files_and_low_contrast(
    tmp_path: Path, certs_dir: Path
) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir)
    run(env, "shop", "create", "--name", "Eck", "--slug", "eck", "--reward", "1 Kaffee")
    logo = tmp_path / "logo.png"
    logo.write_bytes(png((900, 300)))
    set_logo = run(env, "shop", "logo", "--shop", "eck", str(logo))
    assert re.search(r"logo:\s+[0-9a-f]{12}", set_logo.stdout)
    assert "passes refreshed: 0" in set_logo.stdout
    small = tmp_path / "small.png"
    small.write_bytes(png((100, 100)))
    refused = run(env, "shop", "logo", "--shop", "eck", str(small), ok=False)
    assert refused.returncode == 1 and "the logo is 100×100 px" in refused.stderr
    assert "Traceback" not in refused.stderr
    removed = run(env, "shop", "logo", "--shop", "eck", "--remove")
    assert re.search(r"logo:\s+default", removed.stdout)
    low = run(env, "shop", "settings", "--shop", "eck", "--label", "#4A3A30", ok=False)
    assert low.returncode == 1 and re.search(
        r"the label colour on the background has a contrast of 1\.\d+:1, it needs at least 4\.5:1",
        low.stderr,
    )
    star = run(env, "shop", "settings", "--shop", "eck", "--stamp-symbol", "paw")
    assert "stamp symbol:      paw" in star.stdout


@pytest.fixture
async def google_service(
    env: Env, tmp_path: Path, fake: FakeGoogle, rsa_key: rsa.RSAPrivateKey
) -> AsyncIterator[tuple[Service, httpx.AsyncClient]]:
    account = write_account(tmp_path / "sa.json", rsa_key, fake.token_url)
    settings = env.google_settings(account, fake.api_url)
    app = create_app(settings, env.identity)
    service: Service = app.state.service
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield service, client
    assert service.google is not None
    await service.google.aclose()
    await service.store.close()


async def test_the_google_class_shows_the_shops_logo(
    google_service: tuple[Service, httpx.AsyncClient], fake: FakeGoogle
) -> None:
    service, client = google_service
    shop, key = await service.shops.create_shop(
        name="Café Mond", stamps=10, reward="1 Kaffee", slug=f"mond-{secrets.token_hex(3)}"
    )
    changed = await change_design(
        service, ShopLogos(service.store), shop, ProgramChange(), png((400, 400))
    )
    digest = changed.shop.program.logo_digest
    issued = await client.post("/api/v1/cards", headers=auth(key))
    assert issued.status_code == 201, issued.text
    stored = fake.resources["loyaltyObject"][f"{ISSUER}.{issued.json()['serial']}"]
    program: dict[str, Any] = fake.resources["loyaltyClass"][stored["classId"]]
    url = program["programLogo"]["sourceUri"]["uri"]
    assert url == f"{BASE_URL}/img/google/logo/{digest}/3b2a20.png"
    logo = picture((await client.get(url.removeprefix(BASE_URL))).content)
    assert logo.size == (660, 660)
    assert logo.getpixel((330, 330)) == RED, "the shop's logo in the middle"
    assert logo.getpixel((5, 5)) == (0x3B, 0x2A, 0x20), "on the card's colour"


async def test_the_logo_in_use_outlives_newer_uploads(env: Env) -> None:
    shop, _ = await env.service.shops.create_shop(
        name="Eck", stamps=10, reward="1 Kaffee", slug=f"eck-{secrets.token_hex(3)}"
    )
    logos = ShopLogos(env.service.store)
    used = await change_design(env.service, logos, shop, ProgramChange(), png((400, 400)))
    digest = used.shop.program.logo_digest
    for n in range(3):  # uploads whose change was then not made
        await logos.save(used.shop, read_logo(png((400, 400), (n, 0, 0, 255))))
    elsewhere = ShopLogos(env.service.store)  # another server process
    stored = await elsewhere.image(digest)
    assert stored is not None and picture(stored).getpixel((200, 200)) == RED


# --- the live preview, in Chromium ---


@pytest.fixture(scope="module")
def live_designer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, str]]:
    root = tmp_path_factory.mktemp("designer")
    env = passes_env(f"sqlite:///{root / 'passes.db'}", root / "certs")
    run(env, "init")
    slug, key = new_shop(env, "2468")
    with server(env) as (base, _), sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="en-US")
        page.goto(f"{base}/dashboard/{slug}")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        yield page, base, slug
        browser.close()


@pytest.mark.slow
def test_the_preview_follows_the_inputs_and_saving_shows_the_logo(
    live_designer: tuple[Any, str, str], tmp_path: Path
) -> None:
    page, _, _ = live_designer
    apple, strip = page.locator("#apple-preview"), page.locator("#strip-preview")
    expect(page.locator("#contrast")).to_contain_text("Contrast is fine")
    page.locator("#design-background_color").fill("#1f4e3d")
    expect(apple).to_have_css("background-color", "rgb(31, 78, 61)")
    expect(page.locator("#google-preview")).to_have_css("background-color", "rgb(31, 78, 61)")
    expect(strip).to_have_attribute("src", re.compile(r"^/img/strip/1f4e3d/f2c879/10/5@2x\.png$"))
    page.get_by_label("Star", exact=True).check()
    expect(strip).to_have_attribute("src", re.compile(r"symbol=star"))
    expect(page.locator("#hero-preview")).to_have_attribute("src", re.compile(r"symbol=star"))
    page.locator("#design-foreground_color").fill("#2a5a48")
    expect(page.locator("#contrast")).to_contain_text("Text on the background: contrast")
    expect(apple.locator(".pass-value").first).to_have_css("color", "rgb(42, 90, 72)")
    page.locator("#design-foreground_color").fill("#ffffff")
    logo = tmp_path / "logo.png"
    logo.write_bytes(png((600, 200)))
    page.locator("#logo").set_input_files(str(logo))
    expect(page.locator("#apple-logo")).to_have_attribute("src", re.compile(r"^data:image/png"))
    expect(page.locator("#google-logo")).to_have_attribute("src", re.compile(r"^data:image/png"))
    screenshot(page, "designer-preview")
    page.locator("#design-form").get_by_role("button", name="Save").click()
    notice = page.locator("#design #notice")
    expect(notice).to_have_text("Card design saved.")
    expect(notice).to_be_in_viewport()
    expect(page.locator("#apple-logo")).to_have_attribute(
        "src", re.compile(r"^/img/logo/[0-9a-f]{64}/")
    )
    page.wait_for_function("document.getElementById('apple-logo').naturalWidth === 300")
    expect(strip).to_have_attribute("src", re.compile(r"1f4e3d/f2c879/10/5@2x\.png\?symbol=star"))
    screenshot(page, "designer-saved")
