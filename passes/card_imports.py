"""Importing a shop's paper cards from a CSV file (passes/importing.py reads it): the dry run
says what would happen; the import writes every new row as a card in one transaction, or
nothing at all when any row is bad. A row whose id the shop imported before is skipped, so
running the same file again adds nothing (and finds the cards again, for their links)."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from passes.cards import Cards
from passes.clock import Clock
from passes.errors import Conflict
from passes.google.objects import object_id
from passes.importing import PaperCards, read_paper_cards
from passes.serials import new_serial
from passes.store import Store
from passes.store.imports import ImportedCard, NewCard, imported_cards, insert_imported
from passes.store.shops import ShopRow

# Cards written per statement batch; progress is told after each.
IMPORT_BATCH = 1000
CARDS_CSV_COLUMNS = ("id", "serial", "card_url", "imported_at")

# done, total: told after each batch written.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RowCard:
    """The card of one row of the file: the shop's id for it, the card's serial, its page
    (the QR code on the sheet) and when it was imported."""

    row_id: str
    serial: str
    url: str
    imported_at: datetime


@dataclass(frozen=True)
class ImportReport:
    """What an import did, or a dry run would do: the file as read (its bad rows), how many
    rows are new and how many were imported before, and each good row's card (after an
    import; a dry run makes none)."""

    read: PaperCards
    new: int
    earlier: int
    cards: tuple[RowCard, ...] = ()

    @property
    def ok(self) -> bool:
        """No bad row: the file can be (or was) imported."""
        return not self.read.bad


class CardImports:
    """Imports a shop's paper cards."""

    def __init__(self, store: Store, clock: Clock, cards: Cards) -> None:
        self.store = store
        self.clock = clock
        # Where the cards' pages are; Google Wallet (None when off: no Google objects).
        self.cards = cards

    async def check(self, shop: ShopRow, data: bytes) -> ImportReport:
        """The dry run: every bad row, and how many rows would be new; writes nothing."""
        read = read_paper_cards(data, shop.program.stamps_required)
        earlier = await self._earlier(shop, read)
        return ImportReport(read, len(read.cards) - len(earlier), len(earlier))

    async def imported(self, shop: ShopRow, data: bytes) -> tuple[RowCard, ...]:
        """The cards the file's good rows were imported as (rows not imported are left out)."""
        read = read_paper_cards(data, shop.program.stamps_required)
        earlier = await self._earlier(shop, read)
        return self._row_cards(read, earlier, {})

    async def run(
        self, shop: ShopRow, data: bytes, actor: str, progress: Progress | None = None
    ) -> ImportReport:
        """Import the file: a card per new row, all in one transaction; nothing when a row
        is bad (the report lists them). Conflict when another import wrote some of the same
        rows meanwhile (nothing of this one is kept; run it again)."""
        read = read_paper_cards(data, shop.program.stamps_required)
        if read.bad:
            return ImportReport(read, 0, 0)
        try:
            earlier, made = await self._write(shop, read, actor, progress or _quiet)
        except IntegrityError as exc:
            raise Conflict(
                "another import wrote some of these rows at the same time: nothing of this one "
                "was imported; run it again (the rows imported meanwhile are skipped)",
                "import_raced",
            ) from exc
        if made and self.cards.google is not None:
            self.cards.on_commit()  # the push worker inserts the Google objects
        return ImportReport(read, len(made), len(earlier), self._row_cards(read, earlier, made))

    async def _earlier(self, shop: ShopRow, read: PaperCards) -> dict[str, ImportedCard]:
        async with self.store.reading() as conn:
            return await imported_cards(conn, shop.id, [card.row_id for card in read.cards])

    async def _write(
        self, shop: ShopRow, read: PaperCards, actor: str, progress: Progress
    ) -> tuple[dict[str, ImportedCard], dict[str, ImportedCard]]:
        """The rows imported before, and the cards made now for the others (one transaction)."""
        google = self.cards.google
        google_id = None if google is None else lambda serial: object_id(google.issuer_id, serial)
        now = self.clock()
        async with self.store.transaction() as conn:
            earlier = await imported_cards(conn, shop.id, [card.row_id for card in read.cards])
            new = [
                _new_card(card.row_id, card.stamps)
                for card in read.cards
                if card.row_id not in earlier
            ]
            for start in range(0, len(new), IMPORT_BATCH):
                await insert_imported(
                    conn,
                    shop_id=shop.id,
                    program_id=shop.program.id,
                    new=new[start : start + IMPORT_BATCH],
                    actor=actor,
                    now=now,
                    google_object_id=google_id,
                )
                progress(min(start + IMPORT_BATCH, len(new)), len(new))
        made = {c.row_id: ImportedCard(c.row_id, c.serial, c.page_secret, now) for c in new}
        return earlier, made

    def _row_cards(
        self,
        read: PaperCards,
        earlier: dict[str, ImportedCard],
        made: dict[str, ImportedCard],
    ) -> tuple[RowCard, ...]:
        """Each imported row's card in the file's order, made now or before."""
        cards = []
        for row in read.cards:
            found = made.get(row.row_id) or earlier.get(row.row_id)
            if found is not None:
                url = self.cards.settings.card_page_url(found.page_secret)
                cards.append(RowCard(row.row_id, found.serial, url, found.imported_at))
        return tuple(cards)


def cards_csv_lines(cards: Iterable[RowCard]) -> Iterator[str]:
    """cards.csv: each row's id, its card's serial and page, and when it was imported (ids
    start with a letter or digit, so no spreadsheet reads a cell as a formula)."""
    yield _csv_line(CARDS_CSV_COLUMNS)
    for card in cards:
        moment = card.imported_at.isoformat(timespec="seconds")
        yield _csv_line((card.row_id, card.serial, card.url, moment))


def _csv_line(values: Iterable[str]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue()


def _new_card(row_id: str, stamps: int) -> NewCard:
    """A card for one row, with a fresh serial and secrets (as issuing makes them)."""
    return NewCard(
        row_id, stamps, new_serial(), secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    )


def _quiet(done: int, total: int) -> None:
    """No progress to tell."""
