"""The printable sheet of imported cards: A4 pages of QR codes of the cards' pages, each with
the shop's id of the paper card under it, to cut apart and hand out at the counter.

A page is drawn by `sheet_page`, a plain function of plain values, in worker processes (one
per core, anyio's): its QR codes take a few milliseconds each, which would hold up a server's
event loop. Each comes back as a PNG of about 25 kB that img2pdf puts in the PDF as it is (no
re-encoding): 500 pages hold about 12 MB. The PNG is 8-bit grey, not 1-bit (half the size):
pypdf (7.1) misreads the PNG predictors of images under 8 bits a pixel, so others might too.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

import img2pdf
from anyio import to_process, to_thread
from PIL import Image, ImageDraw, ImageFont

from passes.web.poster import text_font
from passes.web.qr import qr_image

# A4 at 150 dpi: sharp enough for QR modules of 1 mm, small pages.
DPI = 150
PAGE = (1240, 1754)
A4_POINTS = (595.28, 841.89)
MARGIN = 60
COLUMNS, ROWS = 4, 5
PER_PAGE = COLUMNS * ROWS
QR_SIDE = 230
# A dot every this many pixels marks where to cut.
CUT_DOTS = 8

# Pages drawn, pages in all.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Slip:
    """One cell of the sheet: the card page's URL as a QR code, the paper card's id under
    it, and a small line (the shop's name)."""

    url: str
    label: str
    caption: str


def sheet_pages(slips: Iterable[Slip]) -> Iterator[tuple[Slip, ...]]:
    """The slips grouped a page at a time."""
    items = iter(slips)
    while page := tuple(islice(items, PER_PAGE)):
        yield page


def sheet_page(slips: Sequence[Slip]) -> bytes:
    """One A4 page of up to PER_PAGE slips in a grid, with dotted lines to cut along."""
    page = Image.new("1", PAGE, 1)
    draw = ImageDraw.Draw(page)
    width, height = (PAGE[0] - 2 * MARGIN) / COLUMNS, (PAGE[1] - 2 * MARGIN) / ROWS
    _cut_lines(draw, width, height)
    for index, slip in enumerate(slips):
        left = MARGIN + (index % COLUMNS) * width
        top = MARGIN + (index // COLUMNS) * height
        code = qr_image(slip.url, QR_SIDE).convert("1")
        page.paste(code, (int(left + (width - code.width) / 2), int(top + 12)))
        middle, below = left + width / 2, top + 12 + code.height
        label = _fitted(draw, slip.label, 28, width)
        draw.text((middle, below + 6), slip.label, font=label, anchor="mt")
        caption = _fitted(draw, slip.caption, 18, width)
        draw.text((middle, below + 44), slip.caption, font=caption, anchor="mt")
    png = io.BytesIO()
    page.convert("L").save(png, "PNG")
    return png.getvalue()


async def sheet_pdf(
    slips: Sequence[Slip], progress: Progress | None = None
) -> AsyncIterator[bytes]:
    """The sheet as one A4 PDF, once every page is drawn; `progress` is told after each page."""
    # No slips (rows posted that were never imported): one empty grid, as a PDF needs a page.
    groups = list(sheet_pages(slips)) or [()]
    pages = [page async for page in _drawn(groups, progress or _quiet)]
    # A few milliseconds a page: a thread, so a server's other requests go on meanwhile.
    yield await to_thread.run_sync(_pdf, pages)


def _pdf(pages: list[bytes]) -> bytes:
    """The PNG pages in a PDF, each stretched over an A4 page. img2pdf's own writer: its
    pikepdf one is slower here, and pypdf finds fault with its cross-reference table."""
    layout = img2pdf.get_layout_fun(A4_POINTS, fit=img2pdf.FitMode.exact)
    pdf: bytes = img2pdf.convert(pages, layout_fun=layout, engine=img2pdf.Engine.internal)
    return pdf


async def _drawn(groups: list[tuple[Slip, ...]], progress: Progress) -> AsyncIterator[bytes]:
    """The pages drawn by worker processes, as many at once as there are cores, in order."""
    waiting = iter(groups)
    drawing: deque[asyncio.Future[bytes]] = deque()

    def draw_more() -> None:
        for group in islice(waiting, (os.cpu_count() or 1) - len(drawing)):
            drawing.append(asyncio.ensure_future(to_process.run_sync(sheet_page, group)))

    try:
        draw_more()
        for done in range(1, len(groups) + 1):
            page = await drawing.popleft()
            draw_more()
            progress(done, len(groups))
            yield page
    finally:
        for left in drawing:
            left.cancel()


def _quiet(done: int, total: int) -> None:
    """No progress to tell."""


def _cut_lines(draw: ImageDraw.ImageDraw, width: float, height: float) -> None:
    """Dotted lines around every cell."""
    right, bottom = PAGE[0] - MARGIN, PAGE[1] - MARGIN
    for column in range(COLUMNS + 1):
        x = round(MARGIN + column * width)
        draw.point([(x, y) for y in range(MARGIN, bottom + 1, CUT_DOTS)], fill=0)
    for row in range(ROWS + 1):
        y = round(MARGIN + row * height)
        draw.point([(x, y) for x in range(MARGIN, right + 1, CUT_DOTS)], fill=0)


def _fitted(
    draw: ImageDraw.ImageDraw, text: str, size: int, room: float
) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The font at `size` (bold for the large label), smaller until `text` fits the cell."""
    bold = size >= 24
    font = text_font(size, bold)
    while size > 10 and draw.textlength(text, font=font) > room - 16:
        size -= 2
        font = text_font(size, bold)
    return font
