"""The counter poster: shop name, offer and a large QR code of the join page, laid out once
and drawn twice, as a PNG and as the inline SVG of the printable poster page."""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from markupsafe import Markup, escape
from PIL import Image, ImageDraw, ImageFont

from passes.web.qr import qr_image

# A5 portrait at 150 dpi: prints sharp, stays a small file.
SIZE = (874, 1240)
MARGIN = 60
# The coloured band at the top, behind the shop's name.
BAND = 230
QR_BORDER = 2
# Pillow's built-in font has no umlauts or accents; Debian's fonts-dejavu-core has them.
FONTS = {
    False: ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    True: ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
}
SVG_FONT = "DejaVu Sans, Verdana, sans-serif"


@dataclass(frozen=True)
class PosterText:
    """What the poster says, already in the shop's language."""

    shop: str
    offer: str
    scan: str
    small: str
    url: str


@dataclass(frozen=True)
class Line:
    """One centred line: its text, font size (shrunk to fit), top edge and colour."""

    text: str
    size: int
    top: int
    fill: str
    bold: bool
    role: str


@dataclass(frozen=True)
class Layout:
    """Where everything goes on the SIZE canvas."""

    lines: list[Line]
    qr: Image.Image
    qr_top: int


def poster_layout(words: PosterText, accent: str) -> Layout:
    """The poster's lines and QR code, one under the other, as both drawings place them."""
    draw = ImageDraw.Draw(Image.new("RGB", SIZE))
    width, _ = SIZE
    name = _line(draw, words.shop, 64, 80, accent, bold=True, role="name")
    offer = _line(draw, words.offer, 50, 290, "#111111", bold=True, role="offer")
    code = qr_image(words.url, width - 2 * MARGIN - 120)
    qr_top = _bottom(draw, offer) + 40
    scan = _line(draw, words.scan, 34, qr_top + 30 + code.height, "#111111", role="scan")
    small = _line(draw, words.small, 28, _bottom(draw, scan) + 20, "#444444", role="small")
    url = _line(draw, words.url, 22, _bottom(draw, small) + 30, "#444444", role="url")
    return Layout([name, offer, scan, small, url], code, qr_top)


def poster_png(words: PosterText, background: str, accent: str) -> bytes:
    """The poster, ready to print or share."""
    layout = poster_layout(words, accent)
    image = Image.new("RGB", SIZE, "#ffffff")
    draw = ImageDraw.Draw(image)
    width, _ = SIZE
    draw.rectangle((0, 0, width, BAND), fill=background)
    for line in layout.lines:
        font = text_font(line.size, line.bold)
        draw.text((width / 2, line.top), line.text, font=font, fill=line.fill, anchor="mt")
    image.paste(layout.qr, ((width - layout.qr.width) // 2, layout.qr_top))
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(150, 150), optimize=True)
    return out.getvalue()


def poster_svg(words: PosterText, background: str, accent: str) -> Markup:
    """The same poster as inline SVG for the printable page: text stays text (the name is
    the page's heading), colours are attributes (the pages' CSP allows no inline styles)."""
    layout = poster_layout(words, accent)
    width, height = SIZE
    parts = [
        f'<svg class="poster-sheet" viewBox="0 0 {width} {height}" role="group" '
        f'aria-label="{escape(words.shop)}" font-family="{SVG_FONT}">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<rect class="band" width="{width}" height="{BAND}" fill="{escape(background)}"/>',
    ]
    for line in layout.lines:
        heading = ' role="heading" aria-level="1"' if line.role == "name" else ""
        weight = ' font-weight="bold"' if line.bold else ""
        parts.append(
            f'<text class="poster-{line.role}"{heading} x="{width / 2:g}" y="{line.top}" '
            f'text-anchor="middle" dominant-baseline="text-before-edge" '
            f'font-size="{line.size}"{weight} fill="{escape(line.fill)}">{escape(line.text)}</text>'
        )
    side = layout.qr.width
    parts.append(_qr_svg(words.url, (width - side) // 2, layout.qr_top, side))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - validated colours, numbers, escaped texts


def _qr_svg(url: str, x: int, y: int, side: int) -> str:
    """The QR code at the PNG's place and size, as a nested SVG."""
    code = segno.make_qr(url, error="m")
    svg = code.svg_inline(scale=1, border=QR_BORDER, omitsize=True, dark="#000", light="#fff")
    placed = f'<svg class="qr" role="img" aria-label="{escape(url)}" x="{x}" y="{y}" '
    return svg.replace("<svg ", placed + f'width="{side}" height="{side}" ', 1)


def text_font(size: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans at `size` (bold or not) when installed, else Pillow's own font."""
    for name in FONTS[bold]:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _line(
    draw: ImageDraw.ImageDraw,
    text: str,
    size: int,
    top: int,
    fill: str,
    *,
    role: str,
    bold: bool = False,
) -> Line:
    """`text` centred at `top`, its font shrunk until it fits between the margins."""
    width, _ = SIZE
    while size > 12 and draw.textlength(text, font=text_font(size, bold)) > width - 2 * MARGIN:
        size -= 2
    return Line(text, size, top, fill, bold, role)


def _bottom(draw: ImageDraw.ImageDraw, line: Line) -> int:
    """The y just below `line` as drawn."""
    width, _ = SIZE
    font = text_font(line.size, line.bold)
    return int(draw.textbbox((width / 2, line.top), line.text, font=font, anchor="mt")[3])
