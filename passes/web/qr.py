"""QR codes for pages (inline SVG) and posters (Pillow images), made with segno."""

from __future__ import annotations

import segno
from markupsafe import Markup
from PIL import Image


def qr_svg(data: str, label: str) -> Markup:
    """An inline, scalable SVG QR code with an accessible name."""
    code = segno.make_qr(data, error="m")
    svg = code.svg_inline(scale=1, border=2, omitsize=True, dark="#000", light="#fff")
    named = svg.replace("<svg ", f'<svg role="img" aria-label="{Markup.escape(label)}" ', 1)
    return Markup(named)  # noqa: S704 - segno's output plus an escaped label


def qr_image(data: str, size: int) -> Image.Image:
    """A black-on-white QR code about `size` pixels square, modules kept sharp."""
    code = segno.make_qr(data, error="m")
    modules = int(code.symbol_size(scale=1, border=2)[0])
    scale = max(1, size // modules)
    image = Image.new("1", (modules, modules), 1)
    for y, row in enumerate(code.matrix_iter(scale=1, border=2)):
        for x, dark in enumerate(row):
            if dark:
                image.putpixel((x, y), 0)
    return image.resize((modules * scale, modules * scale), Image.Resampling.NEAREST).convert("L")
