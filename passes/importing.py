"""Paper cards as a CSV file, read and checked before anything is written (pure: bytes in,
rows and bad rows out).

The file has a header row naming its columns; `id` (the shop's own number of the paper card)
and `stamps` are read, any other column is ignored and never stored (customers stay
anonymous). Commas, semicolons (German and French spreadsheets) or tabs separate the cells;
the text is UTF-8, with or without Excel's byte order mark. A paper card carries stamps toward
its next reward only, 0 to `stamps_required` − 1: whether rewards passed on paper were handed
out is not on the card, so none is due from an import (a full paper card is redeemed at the
counter as before).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from passes.inputs import whole_number

ID_COLUMN = "id"
STAMPS_COLUMN = "stamps"
MAX_ROW_ID = 64
# Far beyond a shop's box of paper cards; keeps one file's work and memory bounded.
MAX_ROWS = 50_000
MAX_FILE_BYTES = 4 * 1024 * 1024
# Besides letters and digits, what shops write in card numbers ("A-17", "Box 3/12", "#42").
ID_PUNCTUATION = frozenset(" -_./#:")
# A bad value is quoted in the message up to this length.
SHOWN = 40
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class PaperCard:
    """One row to import: where it is in the file, the shop's id for it, its stamps."""

    line: int
    row_id: str
    stamps: int


@dataclass(frozen=True)
class BadRow:
    """Why a line of the file cannot be imported: a text key and the values it names."""

    line: int
    key: str
    values: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PaperCards:
    """A file read: its good rows, every bad one (then nothing is imported), and the columns
    that were ignored."""

    cards: tuple[PaperCard, ...]
    bad: tuple[BadRow, ...]
    ignored: tuple[str, ...] = ()


def read_paper_cards(data: bytes, stamps_required: int) -> PaperCards:
    """The rows of a paper card file, each checked; every bad row with its line number."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return PaperCards((), (BadRow(line, "import_not_utf8"),))
    records = _records(text)
    try:
        header_line, header = next(records, (1, []))
    except _Unreadable as exc:
        return PaperCards((), (exc.bad,))
    if not header:
        return PaperCards((), (BadRow(1, "import_empty"),))
    columns = _columns(header)
    if columns is None:
        shown = _shown(", ".join(header))
        return PaperCards((), (BadRow(header_line, "import_header", {"found": shown}),))
    id_at, stamps_at, ignored = columns
    return _read_rows(records, id_at, stamps_at, stamps_required, ignored)


class _Unreadable(Exception):
    """The CSV text breaks off (an unclosed quote, a NUL character) at a line."""

    def __init__(self, line: int, why: str) -> None:
        super().__init__(why)
        self.bad = BadRow(line, "import_unreadable", {"why": why})


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """The file's records with the line each starts on; blank lines are skipped."""
    first = text.split("\n", 1)[0]
    delimiter = max(DELIMITERS, key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _Unreadable(line, str(exc)) from exc
        if any(cell.strip() for cell in cells):
            yield line, cells


def _columns(header: list[str]) -> tuple[int, int, tuple[str, ...]] | None:
    """Where `id` and `stamps` are, and the other columns' names; None when either is
    missing or named twice."""
    names = [name.strip().lower() for name in header]
    if names.count(ID_COLUMN) != 1 or names.count(STAMPS_COLUMN) != 1:
        return None
    read = (ID_COLUMN, STAMPS_COLUMN)
    ignored = tuple(_shown(name) for name in names if name and name not in read)
    return names.index(ID_COLUMN), names.index(STAMPS_COLUMN), ignored


def _read_rows(
    records: Iterator[tuple[int, list[str]]],
    id_at: int,
    stamps_at: int,
    stamps_required: int,
    ignored: tuple[str, ...],
) -> PaperCards:
    cards: list[PaperCard] = []
    bad: list[BadRow] = []
    first_line: dict[str, int] = {}
    line = 1
    try:
        for rows, (line, cells) in enumerate(records):
            if rows >= MAX_ROWS:
                bad.append(BadRow(line, "import_too_many", {"most": MAX_ROWS}))
                break
            row_id = _cell(cells, id_at)
            problems = [
                *_id_problems(line, row_id, first_line),
                *_stamps_problems(line, _cell(cells, stamps_at), stamps_required),
            ]
            first_line.setdefault(row_id, line)
            if problems:
                bad.extend(problems)
            else:
                cards.append(PaperCard(line, row_id, int(_cell(cells, stamps_at))))
    except _Unreadable as exc:
        bad.append(exc.bad)
    if not cards and not bad:
        bad.append(BadRow(line + 1, "import_empty"))
    return PaperCards(tuple(cards), tuple(bad), ignored)


def _cell(cells: list[str], at: int) -> str:
    return cells[at].strip() if at < len(cells) else ""


def _id_problems(line: int, row_id: str, first_line: dict[str, int]) -> list[BadRow]:
    if not row_id:
        return [BadRow(line, "import_id_missing")]
    if not valid_row_id(row_id):
        return [BadRow(line, "import_id_invalid", {"id": _shown(row_id), "most": MAX_ROW_ID})]
    if row_id in first_line:
        return [BadRow(line, "import_id_twice", {"id": row_id, "first": first_line[row_id]})]
    return []


def valid_row_id(row_id: str) -> bool:
    """1 to 64 letters, digits and ` -_./#:`, starting with a letter or digit (so no
    spreadsheet reads it as a formula)."""
    return (
        len(row_id) <= MAX_ROW_ID
        and row_id[:1].isalnum()
        and all(char.isalnum() or char in ID_PUNCTUATION for char in row_id)
    )


def _stamps_problems(line: int, raw: str, stamps_required: int) -> list[BadRow]:
    most = stamps_required - 1
    if not raw:
        return [BadRow(line, "import_stamps_missing", {"most": most})]
    stamps = whole_number(raw, 6)
    if stamps is None:
        return [BadRow(line, "import_stamps_not_number", {"value": _shown(raw), "most": most})]
    if stamps > most:
        return [BadRow(line, "import_stamps_range", {"stamps": stamps, "most": most})]
    return []


def _shown(value: str) -> str:
    """A value as a message quotes it: control characters escaped, long ones cut."""
    escaped = "".join(char if char.isprintable() else ascii(char)[1:-1] for char in value)
    return escaped if len(escaped) <= SHOWN else escaped[: SHOWN - 1] + "…"


def paper_cards_csv(cards: Iterable[PaperCard]) -> str:
    """Good rows as a file of their own (`id,stamps`): what the dashboard carries from the
    check to the import, without the columns that are never stored."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow((ID_COLUMN, STAMPS_COLUMN))
    writer.writerows((card.row_id, card.stamps) for card in cards)
    return out.getvalue()
