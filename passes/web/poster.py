"""The counter poster as a PNG: shop name, offer and a large QR code of the join page."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from passes.web.qr import qr_image

# A5 portrait at 150 dpi: prints sharp, stays a small file.
SIZE = (874, 1240)
MARGIN = 60
# Pillow's built-in font has no umlauts or accents; Debian's fonts-dejavu-core has them.
FONTS = {
    False: ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    True: ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
}


@dataclass(frozen=True)
class PosterText:
    """What the poster says, already in the shop's language."""

    shop: str
    offer: str
    scan: str
    small: str
    url: str


def poster_png(words: PosterText, background: str, accent: str) -> bytes:
    """The poster, ready to print or share."""
    image = Image.new("RGB", SIZE, "#ffffff")
    draw = ImageDraw.Draw(image)
    width, _ = SIZE
    draw.rectangle((0, 0, width, 230), fill=background)
    y = _centred(draw, words.shop, 64, 80, accent, width, bold=True)
    y = _centred(draw, words.offer, 50, 290, "#111111", width, bold=True)
    code = qr_image(words.url, width - 2 * MARGIN - 120)
    image.paste(code, ((width - code.width) // 2, y + 40))
    y = _centred(draw, words.scan, 34, y + 70 + code.height, "#111111", width)
    y = _centred(draw, words.small, 28, y + 20, "#444444", width)
    _centred(draw, words.url, 22, y + 30, "#444444", width)
    out = io.BytesIO()
    image.save(out, "PNG", dpi=(150, 150), optimize=True)
    return out.getvalue()


def _font(size: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in FONTS[bold]:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _centred(
    draw: ImageDraw.ImageDraw,
    line: str,
    size: int,
    top: int,
    fill: str,
    width: int,
    *,
    bold: bool = False,
) -> int:
    """Draw `line` centred, shrinking it to fit; returns the y below it."""
    font = _font(size, bold)
    while size > 12 and draw.textlength(line, font=font) > width - 2 * MARGIN:
        size -= 2
        font = _font(size, bold)
    box = draw.textbbox((width / 2, top), line, font=font, anchor="mt")
    draw.text((width / 2, top), line, font=font, fill=fill, anchor="mt")
    return int(box[3])
