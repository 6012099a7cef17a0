"""Importing paper cards: the file's rules, the dashboard's check, import and downloads over
HTTP on both databases, and `passes card import` as a user runs it on a real SQLite file and
PostgreSQL: a 10,000-row file in seconds, bad rows by line with nothing half-imported, a re-run
that adds nothing, the printable QR sheet, progress on a terminal, and Google objects."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import pty
import re
import subprocess
import time
from pathlib import Path

import httpx
import pypdf
import pytest
import zxingcpp
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import func, select

from passes.importing import BadRow, read_paper_cards
from passes.store import Store
from passes.store.tables import card_events, card_imports, cards, shops
from tests.api_calls import stamp
from tests.browser import launch, new_shop, screenshot
from tests.conftest import Env, auth
from tests.fake_google import ISSUER, FakeGoogle
from tests.live import PASSES, create_shop, passes_env, run, server, until
from tests.pages_client import Pages, signed_in_owner

GOOD = "id,stamps,name\nA-1,3,Lisa\nA-2,0,Tom\nA-3,9,\n"
# Five bad lines among good ones; line 6 is blank and skipped.
BAD = (
    "id;stamps\n"  # 1
    "B-1;4\n"  # 2
    "B-2;10\n"  # 3: 10 stamps on a 10-stamp card is a full card
    ";2\n"  # 4
    "B-1;5\n"  # 5: twice
    "\n"  # 6
    "=cmd;1\n"  # 7
    "B-3;zwei\n"  # 8
    "B-4\n"  # 9
    "B-5;7\n"  # 10
)
BAD_LINES = [
    "Line 3: 10 stamps: a card holds 0 to 9 toward its reward (redeem a full paper card at the counter)",
    "Line 4: the id is missing",
    "Line 5: id “B-1” is already on line 2",
    "Line 7: id “=cmd”: 1 to 64 letters, digits, spaces and - _ . / # :, starting with a letter or digit",
    "Line 8: stamps “zwei” is not a whole number (0 to 9)",
    "Line 9: the stamps are missing (0 to 9)",
]


def paper_file(rows: int, prefix: str = "P") -> str:
    return "id,stamps\n" + "".join(f"{prefix}-{n:05d},{n % 10}\n" for n in range(rows))


# --- the file's rules ---


@pytest.mark.parametrize(
    ("data", "bad"),
    [
        (b"", [BadRow(1, "import_empty")]),
        (b"id,stamps\n", [BadRow(2, "import_empty")]),
        (b"nummer,stempel\nA,1\n", [BadRow(1, "import_header", {"found": "nummer, stempel"})]),
        (b"id,id,stamps\nA,A,1\n", [BadRow(1, "import_header", {"found": "id, id, stamps"})]),
        (b"id,stamps\nA,1\n\xff,2\n", [BadRow(3, "import_not_utf8")]),
        (
            b'id,stamps\n"A,1\nB,2\n',
            [BadRow(2, "import_unreadable", {"why": "unexpected end of data"})],
        ),
        (
            b"id,stamps\nA,\xc2\xb2\n",
            [BadRow(2, "import_stamps_not_number", {"value": "²", "most": 9})],
        ),
        (b'id,stamps\n"A\nB",1\n', [BadRow(2, "import_id_invalid", {"id": "A\\nB", "most": 64})]),
    ],
)
def test_a_file_that_cannot_be_read_says_where(data: bytes, bad: list[BadRow]) -> None:
    assert list(read_paper_cards(data, 10).bad) == bad


def test_spreadsheet_exports_are_read_as_they_come() -> None:
    # Excel's UTF-8 mark, semicolons, CRLF, quotes, spaces, columns in any order and case.
    data = '\ufeffName;Stamps;ID\r\n"Müller, Eva"; 4 ;"Box 3/12"\r\n;0;42\r\n'.encode()
    read = read_paper_cards(data, 5)
    assert [(c.line, c.row_id, c.stamps) for c in read.cards] == [(2, "Box 3/12", 4), (3, "42", 0)]
    assert read.bad == () and read.ignored == ("name",)
    tabs = read_paper_cards(b"id\tstamps\nA-1\t2\n", 5)
    assert [(c.row_id, c.stamps) for c in tabs.cards] == [("A-1", 2)]


# --- the dashboard over HTTP (both databases) ---


async def upload(client: httpx.AsyncClient, path: str, csrf: str, **parts: str) -> httpx.Response:
    files = {name: ("cards.csv", text.encode(), "text/csv") for name, text in parts.items()}
    return await client.post(path, data={"csrf": csrf}, files=files)


def rows_of(page: httpx.Response) -> str:
    found = re.search(r'<textarea name="rows" hidden>([^<]*)</textarea>', page.text)
    assert found, page.text
    return found.group(1)


async def test_the_dashboard_checks_imports_and_hands_out_the_cards(pages: Pages, env: Env) -> None:
    shop, key = await pages.shop()
    owner, csrf = await signed_in_owner(pages, shop, key)
    base = f"/dashboard/{shop.slug}/import"

    refused = await upload(owner, f"{base}/check", csrf, file=BAD)
    assert refused.status_code == 422
    for line in BAD_LINES:
        assert line in refused.text, line
    assert await shop_cards(env, shop.slug) == 0

    checked = await upload(owner, f"{base}/check", csrf, file=GOOD)
    assert checked.status_code == 200, checked.text
    assert "The file is fine: 3 new cards to import (0 imported before)." in checked.text
    assert "Ignored columns (not stored): name" in checked.text
    rows = rows_of(checked)
    assert rows == "id,stamps\r\nA-1,3\r\nA-2,0\r\nA-3,9\r\n" and "Lisa" not in rows
    assert await shop_cards(env, shop.slug) == 0, "a check writes nothing"

    done = await owner.post(base, data={"csrf": csrf}, files={"rows": (None, rows)})
    assert done.status_code == 200, done.text
    assert "3 cards imported (0 imported before)." in done.text
    assert await shop_cards(env, shop.slug) == 3
    again = await owner.post(base, data={"csrf": csrf}, files={"rows": (None, rows)})
    assert "0 cards imported (3 imported before)." in again.text
    assert await shop_cards(env, shop.slug) == 3, "a re-run adds nothing"

    listed = await owner.post(
        f"{base}/cards.csv", data={"csrf": csrf}, files={"rows": (None, rows)}
    )
    assert listed.status_code == 200 and listed.headers["cache-control"] == "no-store"
    assert "attachment" in listed.headers["content-disposition"]
    found = list(csv.DictReader(io.StringIO(listed.text)))
    assert [row["id"] for row in found] == ["A-1", "A-2", "A-3"]
    card = (await env.client.get(f"/api/v1/cards/{found[0]['serial']}", headers=auth(key))).json()
    assert card["stamps"] == 3 and card["urls"]["card"] == found[0]["card_url"]
    assert card["rewards_available"] == 0 and card["total_stamps"] == 3
    assert (await stamp(env, key, found[2]["serial"]))["rewards_available"] == 1, "9 + 1 = 10"

    sheet = await owner.post(
        f"{base}/qr-codes.pdf", data={"csrf": csrf}, files={"rows": (None, rows)}
    )
    assert sheet.headers["content-type"] == "application/pdf"
    assert sheet_codes(sheet.content) == [row["card_url"] for row in found]

    ledger = await owner.get(f"/dashboard/{shop.slug}/ledger.csv")
    kinds = [row["kind"] for row in csv.DictReader(io.StringIO(ledger.text))]
    assert kinds.count("issue") == 3 and kinds.count("import") == 3


async def test_the_import_forms_need_the_owner_and_a_small_file(pages: Pages) -> None:
    shop, key = await pages.shop()
    stranger = pages.browser()
    csrf = await fresh_csrf(stranger, shop.slug)
    path = f"/dashboard/{shop.slug}/import/check"
    assert (await upload(stranger, path, csrf, file=GOOD)).status_code == 403
    owner, csrf = await signed_in_owner(pages, shop, key)
    assert (await upload(owner, path, "wrong", file=GOOD)).status_code == 403
    too_big = await upload(owner, path, csrf, file="id,stamps\n" + "A,1\n" * 1_100_000)
    assert too_big.status_code == 413 and "larger than 4 MB" in too_big.text
    nothing = await owner.post(path, data={"csrf": csrf}, files={"other": ("x", b"")})
    assert nothing.status_code == 422 and "Choose a CSV file first." in nothing.text


async def test_two_imports_of_one_file_at_once_make_each_card_once(pages: Pages, env: Env) -> None:
    shop, key = await pages.shop()
    owner, csrf = await signed_in_owner(pages, shop, key)
    rows = paper_file(300)
    answers = await asyncio.gather(
        *(
            owner.post(
                f"/dashboard/{shop.slug}/import", data={"csrf": csrf}, files={"rows": (None, rows)}
            )
            for _ in range(2)
        )
    )
    assert sorted(answer.status_code for answer in answers)[0] == 200
    raced = [answer for answer in answers if answer.status_code == 409]
    assert all("nothing of this one was imported" in answer.text for answer in raced)
    assert await shop_cards(env, shop.slug) == 300


async def fresh_csrf(client: httpx.AsyncClient, slug: str) -> str:
    page = await client.get(f"/dashboard/{slug}")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


async def shop_cards(env: Env, slug: str) -> int:
    async with env.service.store.reading() as conn:
        query = select(func.count()).select_from(cards.join(shops)).where(shops.c.slug == slug)
        return int((await conn.execute(query)).scalar_one())


def sheet_codes(pdf: bytes) -> list[str]:
    """The QR codes on the sheet's pages, read as a phone's camera would, in reading order."""
    found = []
    for page in pypdf.PdfReader(io.BytesIO(pdf), strict=True).pages:
        (image,) = page.images
        codes = zxingcpp.read_barcodes(image.image.convert("L"))
        codes.sort(key=lambda code: (code.position.top_left.y // 100, code.position.top_left.x))
        found += [code.text for code in codes]
    return found


# --- the command line, as a user runs it (SQLite file and PostgreSQL) ---


async def counts(database_url: str, slug: str) -> dict[str, int]:
    """The shop's cards, its ledger events by kind, its imported rows and their stamps."""
    store = Store(database_url)
    try:
        async with store.reading() as conn:
            shop_id = (
                await conn.execute(select(shops.c.id).where(shops.c.slug == slug))
            ).scalar_one()
            kinds = select(card_events.c.kind, func.count(), func.sum(card_events.c.count))
            rows = await conn.execute(
                kinds.where(card_events.c.shop_id == shop_id).group_by(card_events.c.kind)
            )
            found = {kind: number for kind, number, _ in rows.all()}
            stamps = select(func.coalesce(func.sum(cards.c.stamps), 0)).where(
                cards.c.shop_id == shop_id
            )
            imported = select(func.count()).where(card_imports.c.shop_id == shop_id)
            card_count = select(func.count()).where(cards.c.shop_id == shop_id)
            return {
                **found,
                "cards": int((await conn.execute(card_count)).scalar_one()),
                "stamps": int((await conn.execute(stamps)).scalar_one()),
                "imported": int((await conn.execute(imported)).scalar_one()),
            }
    finally:
        await store.close()


def cli_shop(env: dict[str, str]) -> str:
    slug = f"paper-{time.monotonic_ns()}"
    create_shop(env, stamps=10, slug=slug)
    return slug


@pytest.mark.slow
async def test_a_10000_row_file_imports_in_seconds_and_a_rerun_adds_nothing(
    database_url: str, certs_dir: Path, tmp_path: Path
) -> None:
    env = passes_env(database_url, certs_dir)
    slug = cli_shop(env)
    paper = tmp_path / "paper.csv"
    paper.write_text(paper_file(10_000))
    started = time.monotonic()
    imported = run(env, "card", "import", "--shop", slug, str(paper))
    took = time.monotonic() - started
    # Seconds even on a shared CI machine; one card at a time took minutes.
    assert took < 60, f"{took:.1f} s"
    assert imported.stdout.startswith("imported: 10000 new cards (0 imported before)\n")
    printed = imported.stdout.splitlines()[1:]
    assert len(printed) == 10_000 and printed[0].startswith("P-00000\t")
    assert "--out" in imported.stderr
    expected = {"cards": 10_000, "imported": 10_000, "issue": 10_000, "import": 10_000}
    expected["stamps"] = sum(n % 10 for n in range(10_000))
    assert await counts(database_url, slug) == expected

    again = run(env, "card", "import", "--shop", slug, str(paper))
    assert again.stdout.startswith("imported: 0 new cards (10000 imported before)\n")
    assert again.stdout.splitlines()[1:] == printed, "the same cards, found again"
    assert await counts(database_url, slug) == expected

    more = tmp_path / "more.csv"
    more.write_text(paper_file(10_000) + "Q-1,4\n")
    dry = run(env, "card", "import", "--shop", slug, "--dry-run", str(more))
    assert "dry run: 1 new card would be imported (10000 imported before)" in dry.stdout
    assert await counts(database_url, slug) == expected


@pytest.mark.slow
async def test_bad_rows_are_told_by_line_and_nothing_is_imported(
    database_url: str, certs_dir: Path, tmp_path: Path
) -> None:
    env = passes_env(database_url, certs_dir)
    slug = cli_shop(env)
    paper = tmp_path / "bad.csv"
    paper.write_text(BAD)
    for dry in ((), ("--dry-run",)):
        refused = run(env, "card", "import", "--shop", slug, *dry, str(paper), ok=False)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        told = refused.stderr.splitlines()
        assert told[:-1] == BAD_LINES
        assert told[-1] == (
            "Error: 6 lines cannot be imported: nothing was imported. "
            "Correct the file and run the import again."
        )
        assert refused.stdout == ""
    assert await counts(database_url, slug) == {"cards": 0, "stamps": 0, "imported": 0}

    german = run(
        {**env, "LANG": "de_DE.UTF-8"}, "card", "import", "--shop", slug, str(paper), ok=False
    )
    assert german.stderr.startswith("Zeile 3: 10 Stempel: Eine Karte hat 0 bis 9")


@pytest.mark.slow
async def test_out_writes_the_card_links_and_a_sheet_of_qr_codes(
    certs_dir: Path, tmp_path: Path
) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir)
    slug = cli_shop(env)
    paper = tmp_path / "paper.csv"
    paper.write_text(paper_file(45))
    out = tmp_path / "handout"
    wrote = run(env, "card", "import", "--shop", slug, str(paper), "--out", str(out))
    assert wrote.stdout.splitlines() == [
        "imported: 45 new cards (0 imported before)",
        f"wrote {out / 'cards.csv'} and {out / 'qr-codes.pdf'} (3 pages)",
    ]
    found = list(csv.DictReader((out / "cards.csv").open(encoding="utf-8")))
    assert [row["id"] for row in found] == [f"P-{n:05d}" for n in range(45)]
    assert sheet_codes((out / "qr-codes.pdf").read_bytes()) == [row["card_url"] for row in found]
    stamped = run(env, "card", "stamp", found[4]["serial"])
    assert "stamps:  5 / 10" in stamped.stdout

    (out / "qr-codes.pdf").unlink()
    again = run(env, "card", "import", "--shop", slug, str(paper), "--out", str(out))
    assert again.stdout.startswith("imported: 0 new cards (45 imported before)\n")
    assert sheet_codes((out / "qr-codes.pdf").read_bytes()) == [row["card_url"] for row in found]


@pytest.mark.slow
def test_progress_shows_on_a_terminal_only(certs_dir: Path, tmp_path: Path) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir)
    slug = cli_shop(env)
    paper = tmp_path / "paper.csv"
    paper.write_text(paper_file(2_500))
    piped = run(env, "card", "import", "--shop", slug, str(paper), "--out", str(tmp_path / "a"))
    assert "importing" not in piped.stderr and "drawing QR codes" not in piped.stderr
    leader, follower = pty.openpty()
    more = tmp_path / "more.csv"
    more.write_text(paper_file(2_500, prefix="Q"))
    args = ["card", "import", "--shop", slug, str(more), "--out", str(tmp_path / "b")]
    with subprocess.Popen(
        [*PASSES, *args], env=env, stdout=subprocess.PIPE, stderr=follower, text=True
    ) as proc:
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            shown += chunk
        assert proc.wait(timeout=300) == 0
    os.close(leader)
    terminal = shown.decode()
    assert "importing" in terminal and "100%" in terminal and "drawing QR codes" in terminal


@pytest.mark.slow
async def test_imported_cards_reach_google_wallet(
    google_env: dict[str, str], fake: FakeGoogle, tmp_path: Path
) -> None:
    slug = cli_shop(google_env)
    paper = tmp_path / "paper.csv"
    paper.write_text(paper_file(5))
    with server(google_env):
        imported = run(google_env, "card", "import", "--shop", slug, str(paper))
        serials = [line.split("\t")[1] for line in imported.stdout.splitlines()[1:]]
        objects = [f"{ISSUER}.{serial}" for serial in serials]
        await until(lambda: all(name in fake.resources["loyaltyObject"] for name in objects), 60)
    balances = [fake.resources["loyaltyObject"][name]["loyaltyPoints"] for name in objects]
    assert [points["balance"]["string"] for points in balances] == [f"{n} / 10" for n in range(5)]


# --- the dashboard in Chromium ---


@pytest.mark.slow
def test_the_owner_uploads_checks_imports_and_downloads_in_chromium(tmp_path: Path) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", tmp_path / "certs")
    run(env, "init")
    slug, key = new_shop(env, "2468")
    (tmp_path / "bad.csv").write_text(BAD)
    (tmp_path / "good.csv").write_text(GOOD)
    with server(env) as (base, _), sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="en-US")
        page.goto(f"{base}/dashboard/{slug}")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()

        page.get_by_label("CSV file").set_input_files(str(tmp_path / "bad.csv"))
        page.get_by_role("button", name="Check file").click()
        problems = page.locator("#import-bad")
        expect(problems).to_have_attribute("role", "alert")
        expect(problems).to_contain_text("6 problems in the file. Nothing has been imported")
        expect(problems.locator("li")).to_have_text(BAD_LINES)
        screenshot(page, "import-bad-rows")

        page.get_by_label("CSV file").set_input_files(str(tmp_path / "good.csv"))
        page.get_by_role("button", name="Check file").click()
        notice = page.locator("#import #notice")
        expect(notice).to_have_text("The file is fine: 3 new cards to import (0 imported before).")
        expect(notice).to_be_focused()
        expect(page.locator("#import-ignored")).to_have_text("Ignored columns (not stored): name")
        page.get_by_role("button", name="Import 3 cards").click()
        expect(notice).to_contain_text("3 cards imported (0 imported before).")
        expect(notice).to_be_in_viewport()
        screenshot(page, "import-done")

        with page.expect_download() as sheet:
            page.get_by_role("button", name="QR codes to print (PDF)").click()
        assert sheet.value.suggested_filename == f"{slug}-qr-codes.pdf"
        codes = sheet_codes(Path(sheet.value.path()).read_bytes())
        with page.expect_download() as links:
            page.get_by_role("button", name="Card links (cards.csv)").click()
        found = list(csv.DictReader(Path(links.value.path()).open(encoding="utf-8")))
        assert [row["id"] for row in found] == ["A-1", "A-2", "A-3"]
        assert codes == [row["card_url"] for row in found]
        browser.close()
