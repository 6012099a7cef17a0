"""Languages from gettext catalogs: complete catalogs, plural forms, French pages, pass,
Google values and CLI."""

from __future__ import annotations

import html
import io
import re
import secrets
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from playwright.sync_api import expect, sync_playwright

from passes.cli_texts import cli_language
from passes.google.objects import GoogleProgramContent, loyalty_class
from passes.texts import LANGUAGES, catalog_path, compile_catalog, counted, local_date, text
from tests.browser import launch, new_shop, phone
from tests.conftest import Env
from tests.live import passes_env, run, server
from tests.pages_client import browser
from tests.pkpass_check import verify_pkpass

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{[a-z_]*\}|%@")
# English leaves this one empty on purpose: the staff page shows the rule's own message.
EMPTY_IN_ENGLISH = {"refusal_daily_cap"}


def catalog(language: str) -> Catalog:
    with catalog_path(language).open("rb") as source:
        return read_po(source)


def forms(message_string: str | tuple[str, ...]) -> tuple[str, ...]:
    return message_string if isinstance(message_string, tuple) else (message_string,)


def test_every_catalog_compiles_and_translates_every_text() -> None:
    assert set(LANGUAGES) >= {"de", "en", "fr"}
    source = {message.id: message for message in catalog("en") if message.id}
    for language in LANGUAGES:
        assert compile_catalog(language).gettext("stamps_label") != "stamps_label", language
        assert not catalog(language).fuzzy, f"{language}: the header is marked fuzzy"
        found = {message.id: message for message in catalog(language) if message.id}
        assert set(found) == set(source), language
        for msgid, message in found.items():
            assert not message.fuzzy, (language, msgid)
            if language == "en" and msgid in EMPTY_IN_ENGLISH:
                continue
            assert all(forms(message.string)), (language, msgid)
            assert isinstance(message.id, tuple) == isinstance(message.string, tuple), msgid


def test_translations_keep_the_placeholders_of_the_english_text() -> None:
    source = {message.id: forms(message.string) for message in catalog("en") if message.id}
    for language in LANGUAGES:
        for message in catalog(language):
            english = source.get(message.id)
            if not message.id or not english or not english[-1]:
                continue
            allowed = {found for form in english for found in PLACEHOLDER.findall(form)}
            translated = forms(message.string)
            for form in translated:
                assert set(PLACEHOLDER.findall(form)) <= allowed, (language, message.id, form)
            # The general (plural) form names every placeholder the English one does.
            wanted = set(PLACEHOLDER.findall(english[-1]))
            assert set(PLACEHOLDER.findall(translated[-1])) == wanted, (language, message.id)


def test_extraction_from_code_and_templates_finds_exactly_the_catalog(tmp_path: Path) -> None:
    """The README's `pybabel extract` finds every key in use, and no key is left unused."""
    pot = tmp_path / "messages.pot"
    keywords = "-k t -k tn:1,1 -k text -k counted:1,1 -k N_ -k say -k say_counted:1,1".split()
    extract = [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg"]
    subprocess.run(
        [*extract, "--no-location", "--no-default-keywords", *keywords, "-o", str(pot), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as source:
        extracted = {message.id for message in read_po(source) if message.id}
    held = {message.id for message in catalog("en") if message.id}
    assert extracted == held


@pytest.mark.parametrize(
    ("key", "count", "language", "said"),
    [
        ("offer", 0, "fr", "0 tampon = Café"),
        ("offer", 1, "fr", "1 tampon = Café"),
        ("offer", 2, "fr", "2 tampons = Café"),
        ("page_to_go", 1, "fr", "Encore 1 tampon pour\u00a0: Café"),
        ("page_to_go", 3, "fr", "Encore 3 tampons pour\u00a0: Café"),
        ("offer", 0, "en", "0 stamps = Café"),
        ("offer", 1, "en", "1 stamp = Café"),
        ("page_stamps", 1, "de", "0 von 1 Stempel"),
        ("page_stamps", 10, "de", "0 von 10 Stempeln"),
        ("wrong_pin", 0, "fr", "Encore 0 essai,"),
        ("wrong_pin", 2, "fr", "Encore 2 essais,"),
    ],
)
def test_plural_forms_follow_each_language(key: str, count: int, language: str, said: str) -> None:
    values = {"stamps": count, "reward": "Café", "missing": count, "left": count, "slug": "x"}
    if key == "page_stamps":
        values |= {"stamps": 0, "required": count}
    assert said in counted(key, count, language).format(**values)


def test_dates_follow_each_language() -> None:
    from datetime import UTC, datetime

    moment = datetime(2027, 2, 7, 12, tzinfo=UTC)
    assert [local_date(moment, lang) for lang in ("de", "en", "fr")] == [
        "07.02.2027",
        "7 Feb 2027",
        "7 févr. 2027",
    ]


async def test_a_french_phone_sees_french_pages(
    env: Env, browsers: list[httpx.AsyncClient]
) -> None:
    shop, _ = await env.service.shops.create_shop(
        name="Café Soleil", stamps=10, reward="1 café", slug=f"soleil-{secrets.token_hex(4)}"
    )
    french = browser(env, browsers, "fr-FR,fr;q=0.9,en;q=0.5")
    join = await french.get(f"/join/{shop.slug}")
    assert join.status_code == 200
    assert '<html lang="fr">' in join.text
    assert "10 tampons = 1 café" in join.text
    assert "sans appli, sans inscription" in join.text
    assert 'hreflang="de"' in join.text and ">Deutsch<" in join.text and ">English<" in join.text
    staff = await french.get(f"/staff/{shop.slug}")
    assert "Connexion du personnel" in staff.text
    owner = await french.get(f"/dashboard/{shop.slug}")
    assert "Connexion propriétaire" in owner.text
    missing = await french.get("/join/no-such-shop")
    assert missing.status_code == 404
    assert "Ce commerce n'existe pas ici." in html.unescape(missing.text)
    # A German phone chooses French with the footer's link; the choice is remembered.
    german = browser(env, browsers, "de-DE")
    assert "10 Stempel = 1 café" in (await german.get(f"/join/{shop.slug}")).text
    chosen = await german.get(f"/join/{shop.slug}?lang=fr")
    assert "10 tampons = 1 café" in chosen.text
    assert "10 tampons = 1 café" in (await german.get(f"/join/{shop.slug}")).text


async def test_the_pass_carries_french_strings(env: Env, browsers: list[httpx.AsyncClient]) -> None:
    shop, _ = await env.service.shops.create_shop(
        name="Café Soleil", stamps=10, reward="1 café", slug=f"soleil-{secrets.token_hex(4)}"
    )
    french = browser(env, browsers, "fr-FR")
    page = await french.get(f"/join/{shop.slug}")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    joined = await french.post(f"/join/{shop.slug}", data={"csrf": token[1], "wallet": "apple"})
    assert joined.status_code == 303
    data = (await french.get(joined.headers["location"])).content
    verify_pkpass(data, env.settings.certs_dir / "wwdr.pem")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        strings = archive.read("fr.lproj/pass.strings").decode()
        assert {"de.lproj/pass.strings", "en.lproj/pass.strings"} <= set(archive.namelist())
    assert '"stamps_label" = "Tampons";' in strings
    assert '"to_go_1" = "Encore 1 tampon pour";' in strings
    assert '"to_go_2" = "Encore 2 tampons pour";' in strings
    assert '"notice_stamp_changed" = "Nouveau tampon\u00a0: %@";' in strings


def test_google_gets_french_values() -> None:
    program = GoogleProgramContent(
        shop_slug="soleil",
        shop_name="Café Soleil",
        stamps_required=10,
        reward="1 café",
        background_color="#3B2A20",
        logo_url="https://example.org/logo.png",
    )
    made = loyalty_class("3388000000012345678", program)
    translated = made["localizedProgramName"]["translatedValues"]
    assert {"language": "fr", "value": "Carte de fidélité"} in translated
    assert made["localizedProgramName"]["defaultValue"]["value"] == text("description", "de")


def test_the_cli_language_comes_from_the_environment() -> None:
    assert cli_language({}) == "en"
    assert cli_language({"LANG": "C.UTF-8"}) == "en"
    assert cli_language({"LANG": "fr_FR.UTF-8"}) == "fr"
    assert cli_language({"LANG": "de_DE.UTF-8", "LC_ALL": "fr_CA.UTF-8"}) == "fr"
    assert cli_language({"LANG": "fr_FR.UTF-8", "LC_ALL": "C"}) == "en"
    assert cli_language({"LANG": "de_DE.UTF-8", "LANGUAGE": "fr:de"}) == "fr"
    assert cli_language({"LANG": "ja_JP.UTF-8"}) == "en"


@pytest.mark.slow
def test_the_cli_speaks_french_with_a_french_locale(tmp_path: Path) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", tmp_path / "certs")
    run(env, "init")
    french = {**env, "LANG": "fr_FR.UTF-8", "LC_ALL": ""}
    made = run(
        french,
        *("shop", "create", "--name", "Café Soleil", "--slug", "soleil"),
        *("--stamps", "1", "--reward", "1 café"),
    )
    assert "Programme\u00a0: 1 tampon = 1 café" in made.stdout
    assert re.search(r"Clé API\u00a0: \S+", made.stdout), made.stdout
    assert "Conservez la clé API en lieu sûr" in made.stderr
    listed = run(french, "shop", "list").stdout
    assert "soleil  Café Soleil  (0 carte)" in listed
    english = run(env, "shop", "list").stdout
    assert "soleil  Café Soleil  (0 cards)" in english


@pytest.mark.slow
def test_a_french_phone_in_chromium_sees_the_join_page_in_french(tmp_path: Path) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", tmp_path / "certs")
    run(env, "init")
    slug, _ = new_shop(env, "2468")
    with server(env) as (base, _), sync_playwright() as playwright:
        chromium = launch(playwright)
        page = phone(chromium, "fr-FR").new_page()
        page.goto(f"{base}/join/{slug}")
        expect(page.get_by_text("10 tampons = 1 Vita Mix gratis")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        page.get_by_role("link", name="Deutsch").click()
        expect(page.get_by_text("10 Stempel = 1 Vita Mix gratis")).to_be_visible()
        chromium.close()
