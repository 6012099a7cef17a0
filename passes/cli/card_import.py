"""`passes card import`: what it prints and writes around the import (passes/card_imports.py).

Bad rows go to stderr, one line each, and the command ends with status 1 having written
nothing. Progress shows on stderr while it is a terminal. `--out DIR` receives `cards.csv`
(every good row's card: the shop's id, serial, card page, new or imported before) and
`qr-codes.pdf`, the sheet to print (passes/web/qr_sheet.py draws it on every core).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from passes.card_imports import ImportReport, RowCard, cards_csv_lines
from passes.cli.running import clear_errors, with_service
from passes.cli_texts import cli_language, say, say_counted
from passes.importing import MAX_FILE_BYTES
from passes.service import Service
from passes.store.shops import ShopRow
from passes.texts import text
from passes.web.qr_sheet import PER_PAGE, Slip, sheet_pdf

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

CARDS_CSV = "cards.csv"
SHEET_PDF = "qr-codes.pdf"


@click.command("import")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@click.option("--dry-run", is_flag=True, help="Check every row and say what would happen.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write cards.csv and qr-codes.pdf (the QR codes to hand out) into this folder.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@clear_errors
def card_import(slug: str, dry_run: bool, out: Path | None, file: Path) -> None:
    """Import paper cards from a CSV file with the columns id,stamps: a card per row, all or
    nothing; rows imported before are skipped. See README "Importing paper cards"."""
    data = read_file(file)
    shop, report = with_service(lambda service: import_file(service, slug, data, dry_run=dry_run))
    tell(shop, report, dry_run=dry_run, out=out)


def read_file(path: Path) -> bytes:
    """The file's bytes; a file past the size limit is refused before it is read."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise click.ClickException(say("import_too_big", mb=MAX_FILE_BYTES // 1024 // 1024))
    return path.read_bytes()


async def import_file(
    service: Service, slug: str, data: bytes, *, dry_run: bool
) -> tuple[ShopRow, ImportReport]:
    """The dry run's report, or the import's (written when no row is bad)."""
    shop = await service.shops.shop(slug)
    if dry_run:
        return shop, await service.imports.check(shop, data)
    return shop, await service.imports.run(shop, data, "cli", _progress(say("cli_importing")))


def tell(shop: ShopRow, report: ImportReport, *, dry_run: bool, out: Path | None) -> None:
    """Say what the import did (or would do); write the outputs; fail on bad rows."""
    language = cli_language()
    for bad in report.read.bad:
        why = text(bad.key, language).format(**bad.values)
        click.echo(say("import_line", line=bad.line, why=why), err=True)
    if report.read.ignored:
        click.echo(say("import_ignored", columns=", ".join(report.read.ignored)), err=True)
    if not report.ok:
        lines = len({bad.line for bad in report.read.bad})
        raise click.ClickException(say_counted("cli_import_refused", lines, n=lines))
    if dry_run:
        click.echo(
            say_counted("cli_import_checked", report.new, n=report.new, earlier=report.earlier)
        )
        return
    click.echo(say_counted("cli_import_done", report.new, n=report.new, earlier=report.earlier))
    if out is None:
        for card in report.cards:
            click.echo(f"{card.row_id}\t{card.serial}\t{card.url}")
        click.echo(say("cli_import_out_hint"), err=True)
        return
    pages = write_outputs(out, shop, report.cards)
    written = {"csv": out / CARDS_CSV, "pdf": out / SHEET_PDF}
    click.echo(say_counted("cli_import_wrote", pages, n=pages, **written))


def write_outputs(out: Path, shop: ShopRow, cards: Sequence[RowCard]) -> int:
    """cards.csv and the QR sheet in `out` (made if need be); the sheet's page count."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / CARDS_CSV).open("w", encoding="utf-8", newline="") as written:
        written.writelines(cards_csv_lines(cards))
    slips = [Slip(card.url, card.row_id, shop.name) for card in cards]
    asyncio.run(_write_sheet(out / SHEET_PDF, slips))
    return -(-len(slips) // PER_PAGE)


async def _write_sheet(path: Path, slips: list[Slip]) -> None:
    with path.open("wb") as sheet:
        async for chunk in sheet_pdf(slips, _progress(say("cli_drawing"))):
            sheet.write(chunk)


def _progress(label: str) -> Callable[[int, int], None]:
    """A progress bar on stderr while it is a terminal, else nothing."""
    if not sys.stderr.isatty():
        return lambda done, total: None
    bars: list[ProgressBar[int]] = []

    def report(done: int, total: int) -> None:
        if not bars:
            bars.append(click.progressbar(length=total, label=label, file=sys.stderr))
            bars[0].__enter__()
        bar = bars[0]
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    return report
