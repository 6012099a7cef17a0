"""A PDF of black-and-white bitmap pages, written as the pages come: one page in memory at a
time however many there are (Pillow's PDF writer wants every page at once).

Each page is one 1-bit image (Flate-compressed, as PDF reads it directly) filling the page.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from PIL import Image

# The first objects: the catalog, then the page tree (written last, when its pages are known).
CATALOG, PAGE_TREE = 1, 2


@dataclass(frozen=True)
class Bitmap:
    """A page's picture as PDF takes it: 1 bit a pixel (1 = white), rows padded to whole
    bytes, Flate-compressed. Plain bytes, so other processes can draw pages."""

    width: int
    height: int
    data: bytes


def bitmap(page: Image.Image) -> Bitmap:
    """A page drawn with Pillow, ready for the PDF."""
    black_and_white = page if page.mode == "1" else page.convert("1")
    return Bitmap(page.width, page.height, zlib.compress(black_and_white.tobytes(), 6))


class PdfPages:
    """A PDF written piece by piece: `start`, a `page` per bitmap (stretched to `size`, in
    points), `end`; the pieces joined are the file."""

    def __init__(self, size: tuple[float, float]) -> None:
        self.size = size
        self.offsets: dict[int, int] = {}
        self.written = 0
        self.pages: list[int] = []

    def start(self) -> bytes:
        """The header and the catalog."""
        header = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
        self.written = len(header)
        return header + self._put(CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % PAGE_TREE)

    def page(self, bitmap: Bitmap) -> bytes:
        """One more page: its object, its drawing and its image."""
        first = PAGE_TREE + 1 + 3 * len(self.pages)
        self.pages.append(first)
        width, height = self.size
        drawing = b"q %.2f 0 0 %.2f 0 0 cm /Im Do Q" % (width, height)
        return (
            self._put(first, _page(first, width, height))
            + self._put(first + 1, _stream(b"", drawing))
            + self._put(first + 2, _stream(_image_dictionary(bitmap), bitmap.data))
        )

    def end(self) -> bytes:
        """The page tree, the table of where each object starts, and the trailer."""
        kids = b" ".join(b"%d 0 R" % number for number in self.pages)
        tree = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(self.pages))
        closing = self._put(PAGE_TREE, tree)
        return closing + _cross_references(self.offsets, self.written)

    def _put(self, number: int, body: bytes) -> bytes:
        self.offsets[number] = self.written
        chunk = b"%d 0 obj\n%s\nendobj\n" % (number, body)
        self.written += len(chunk)
        return chunk


def _page(number: int, width: float, height: float) -> bytes:
    return (
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] "
        b"/Resources << /XObject << /Im %d 0 R >> >> /Contents %d 0 R >>"
        % (PAGE_TREE, width, height, number + 2, number + 1)
    )


def _image_dictionary(page: Bitmap) -> bytes:
    return (
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 1 /Filter /FlateDecode " % (page.width, page.height)
    )


def _stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< %s/Length %d >>\nstream\n%s\nendstream" % (dictionary, len(data), data)


def _cross_references(offsets: dict[int, int], start: int) -> bytes:
    """The table of where each object starts, and the trailer that points to it."""
    count = max(offsets) + 1
    rows = [b"0000000000 65535 f \n"]
    rows += [b"%010d 00000 n \n" % offsets[number] for number in range(1, count)]
    return b"xref\n0 %d\n%s" % (
        count,
        b"".join(rows),
    ) + b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, CATALOG, start)
