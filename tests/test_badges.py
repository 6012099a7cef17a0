"""The wallet badges on the join, card and hand-over pages, over HTTP: the operator's official
artwork dropped into {certs dir}/badges/, else the npm package's, else our drawn fallback."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from playwright.sync_api import expect, sync_playwright

from passes.app import create_app
from passes.config import Settings
from passes.service import Service
from passes.store import Store
from tests.browser import PHONE, launch, new_shop, phone, screenshot
from tests.conftest import BASE_URL
from tests.fake_google import SERVICE_ACCOUNT_EMAIL, FakeGoogle, RunningFake, write_account
from tests.live import passes_env, run, server

ISSUER = "3388000000033333333"
PACKAGED = Settings().packaged_badges_dir
NAMES = {
    ("apple", "de"): "Hinzufügen zu Apple Wallet",
    ("apple", "en"): "Add to Apple Wallet",
    ("google", "de"): "Hinzufügen zu Google Wallet",
    ("google", "en"): "Add to Google Wallet",
}
ACCEPT = {"de": "de-DE,de;q=0.9", "en": "en-GB,en;q=0.9"}


@pytest.fixture(scope="module")
def google() -> Iterator[tuple[FakeGoogle, rsa.RSAPrivateKey]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fake = FakeGoogle()
    fake.add_account(SERVICE_ACCOUNT_EMAIL, key.public_key())
    with RunningFake(fake) as running:
        yield running, key


@dataclass
class Site:
    """One app over HTTP, with Google on, a shop and a card of it."""

    service: Service
    slug: str
    card_path: str

    client: httpx.AsyncClient

    async def page(self, path: str, language: str) -> str:
        response = await self.client.get(path, headers={"Accept-Language": ACCEPT[language]})
        assert response.status_code == 200, response.text
        return response.text


@asynccontextmanager
async def site(
    tmp_path: Path,
    certs_dir: Path,
    google: tuple[FakeGoogle, rsa.RSAPrivateKey],
    packaged: Path,
    dropped: dict[str, bytes] | None = None,
) -> AsyncIterator[Site]:
    """The real app on a fresh SQLite file; `dropped` files go into its certs/badges/."""
    certs = tmp_path / "certs"
    shutil.copytree(certs_dir, certs)
    if dropped:
        (certs / "badges").mkdir()
        for name, data in dropped.items():
            (certs / "badges" / name).write_bytes(data)
    fake, key = google
    database = f"sqlite:///{tmp_path / 'passes.db'}"
    settings = Settings(
        database_url=database,
        base_url=BASE_URL,
        certs_dir=certs,
        google_issuer_id=ISSUER,
        google_service_account=write_account(tmp_path / "sa.json", key, fake.token_url),
        google_api_url=fake.api_url,
        packaged_badges_dir=packaged,
    )
    store = Store(database)
    await store.migrate()
    await store.close()
    app = create_app(settings)
    service: Service = app.state.service
    shop, _ = await service.shops.create_shop(name="Café Sonne", stamps=10, reward="1 Vita Mix")
    view = await service.issuing.issue_card(shop, "test")
    card_path = str(view.urls["card"]).removeprefix(BASE_URL)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield Site(service, shop.slug, card_path, client)
    await service.store.close()


def artwork(wallet: str, language: str, width: int = 160, height: int = 50) -> bytes:
    """A small stand-in for Apple's or Google's SVG, recognisable by its title."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}">'
        f"<title>official {wallet} {language}</title>"
        f'<rect width="{width}" height="{height}" rx="8" fill="#000"/></svg>'
    ).encode()


def official_img(page: str, wallet: str) -> re.Match[str]:
    """The <img> inside the official badge control of `wallet`; fails when there is none."""
    found = re.search(
        rf'data-wallet="{wallet}" class="badge official" data-badge="official">'
        r'<img src="(?P<src>/badges/[^"]+)" alt="(?P<alt>[^"]+)" height="56" width="(?P<w>\d+)">',
        page,
    )
    assert found, page
    return found


@pytest.mark.parametrize("language", ["de", "en"])
async def test_dropped_in_artwork_is_what_every_page_shows(
    tmp_path: Path,
    certs_dir: Path,
    google: tuple[FakeGoogle, rsa.RSAPrivateKey],
    language: str,
) -> None:
    dropped = {
        f"add-to-{wallet}-wallet-{lang}.svg": artwork(wallet, lang)
        for wallet, lang in NAMES
        if wallet == "apple"
    }
    # Google's at another aspect ratio: each badge keeps its own.
    dropped |= {
        f"add-to-google-wallet-{lang}.svg": artwork("google", lang, 199, 55) for lang in ACCEPT
    }
    async with site(tmp_path, certs_dir, google, PACKAGED, dropped) as pages:
        join = await pages.page(f"/join/{pages.slug}", language)
        card = await pages.page(pages.card_path, language)
        for page in (join, card):
            for wallet, width in (("apple", 179), ("google", 203)):
                img = official_img(page, wallet)
                assert img["alt"] == NAMES[(wallet, language)]
                assert img["w"] == str(width), "56 px high, the artwork's aspect ratio"
                assert img["src"].startswith(f"/badges/add-to-{wallet}-wallet-{language}.svg?v=")
                served = await pages.client.get(img["src"])
                assert served.status_code == 200
                assert served.headers["content-type"] == "image/svg+xml"
                assert served.content == dropped[f"add-to-{wallet}-wallet-{language}.svg"]
            assert "drawn-fallback" not in page and "Drawn fallback" not in page
        form = {"csrf": _csrf(join), "wallet": "google"}
        handover = await pages.client.post(
            f"/join/{pages.slug}", data=form, headers={"Accept-Language": ACCEPT[language]}
        )
        assert handover.status_code == 200
        assert 'id="handover"' in handover.text
        assert official_img(handover.text, "google")["alt"] == NAMES[("google", language)]


@pytest.mark.skipif(not PACKAGED.is_dir(), reason="run `npm ci` in passes/web for the artwork")
async def test_packaged_artwork_when_the_operator_dropped_none(
    tmp_path: Path, certs_dir: Path, google: tuple[FakeGoogle, rsa.RSAPrivateKey]
) -> None:
    async with site(tmp_path, certs_dir, google, PACKAGED) as pages:
        for language in ACCEPT:
            page = await pages.page(f"/join/{pages.slug}", language)
            for wallet in ("apple", "google"):
                img = official_img(page, wallet)
                served = await pages.client.get(img["src"])
                assert served.content == (PACKAGED / wallet / f"{language}.svg").read_bytes()
                assert img["alt"] == NAMES[(wallet, language)]


@pytest.mark.parametrize("language", ["de", "en"])
async def test_drawn_fallback_without_any_artwork(
    tmp_path: Path,
    certs_dir: Path,
    google: tuple[FakeGoogle, rsa.RSAPrivateKey],
    language: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="passes.badges"):
        context = site(tmp_path, certs_dir, google, tmp_path / "no-package")
        async with context as pages:
            for path in (f"/join/{pages.slug}", pages.card_path):
                page = await pages.page(path, language)
                assert 'src="/badges/' not in page
                for wallet in ("apple", "google"):
                    name = NAMES[(wallet, language)]
                    assert (
                        f'data-wallet="{wallet}" class="badge drawn" '
                        f'data-badge="drawn-fallback" aria-label="{name}">'
                    ) in page
                    assert f"<!-- Drawn fallback, not {wallet.capitalize()}'s artwork" in page
            missing = await pages.client.get(f"/badges/add-to-apple-wallet-{language}.svg")
            assert missing.status_code == 404
    assert "drawn fallback" in caplog.text and "certs.example/README.md" in caplog.text


async def test_unusable_drop_ins_are_refused_by_name(
    tmp_path: Path,
    certs_dir: Path,
    google: tuple[FakeGoogle, rsa.RSAPrivateKey],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dropped = {
        "add-to-apple-wallet-de.svg": artwork("apple", "de").replace(
            b"</svg>", b"<script>alert(1)</script></svg>"
        ),
        "add-to-apple-wallet-en.svg": b"\x89PNG\r\n\x1a\n not an svg",
        "add-to-google-wallet-de.svg": b'<svg xmlns="http://www.w3.org/2000/svg"></svg>',
        # Only English for Google: the German page shows it rather than a drawn one.
        "add-to-google-wallet-en.svg": artwork("google", "en", 199, 55),
    }
    with caplog.at_level(logging.WARNING, logger="passes.badges"):
        context = site(tmp_path, certs_dir, google, tmp_path / "no-package", dropped)
        async with context as pages:
            page = await pages.page(f"/join/{pages.slug}", "de")
            assert 'data-wallet="apple" class="badge drawn"' in page
            google_img = official_img(page, "google")
            assert google_img["src"].startswith("/badges/add-to-google-wallet-en.svg?v=")
            assert google_img["alt"] == NAMES[("google", "de")]
    for name, why in (
        ("add-to-apple-wallet-de.svg", "scripts"),
        ("add-to-apple-wallet-en.svg", "not an SVG"),
        ("add-to-google-wallet-de.svg", "width/height"),
    ):
        assert re.search(rf"badge not used: \S*{re.escape(name)}: [^\n]*{why}", caplog.text)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


@pytest.mark.skipif(not PACKAGED.is_dir(), reason="run `npm ci` in passes/web for the artwork")
@pytest.mark.slow
def test_official_badges_on_a_phone_in_chromium(
    tmp_path: Path, certs_dir: Path, google: tuple[FakeGoogle, rsa.RSAPrivateKey]
) -> None:
    """Both badges load, keep their shape at 56 px and carry their names; screenshots."""
    fake, key = google
    env = passes_env(
        f"sqlite:///{tmp_path / 'passes.db'}",
        certs_dir,
        PASSES_GOOGLE_ISSUER_ID=ISSUER,
        PASSES_GOOGLE_SERVICE_ACCOUNT=str(write_account(tmp_path / "sa.json", key, fake.token_url)),
        PASSES_GOOGLE_API_URL=fake.api_url,
    )
    run(env, "init")
    slug, _ = new_shop(env, "2468")
    card = re.search(r"/c/\S+", run(env, "card", "issue", "--shop", slug).stdout)
    assert card
    with server(env) as (base, _), sync_playwright() as playwright:
        browser = launch(playwright)
        for language, locale in (("de", "de-DE"), ("en", "en-GB")):
            page = phone(browser, locale).new_page()
            for path, role in ((f"/join/{slug}", "button"), (card[0], "link")):
                page.goto(base + path)
                for wallet in ("apple", "google"):
                    control = page.get_by_role(role, name=NAMES[(wallet, language)], exact=True)
                    expect(control).to_be_visible()
                    image = control.locator("img")
                    expect(image).to_have_js_property("complete", True)
                    natural = image.evaluate("i => i.naturalWidth / i.naturalHeight")
                    box = image.bounding_box()
                    assert box and natural > 0, "the artwork loaded (CSP img-src 'self')"
                    assert abs(box["height"] - 56) < 1
                    # naturalWidth/Height are whole pixels of a ~110 x 35 artwork: 3 % slack
                    assert abs(box["width"] / box["height"] / natural - 1) < 0.03
                    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
            screenshot(page, f"badges-card-{language}")
            page.goto(f"{base}/join/{slug}")
            screenshot(page, f"badges-join-{language}")
            page.context.close()
        browser.close()
