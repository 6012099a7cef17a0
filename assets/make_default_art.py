"""Draw the default logo and icon into this folder: `python assets/make_default_art.py`.

Deterministic: the same Pillow version writes the same bytes, so the PNGs can be committed.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
LOGO_SIDE = 480
ICON_SIDE = 348
SUPERSAMPLE = 4
COFFEE = (122, 82, 48, 255)
CREAM = (248, 238, 222, 255)

Box = tuple[float, float, float, float]
Ink = tuple[int, int, int, int]


def _scaled(box: Box, side: float) -> Box:
    left, top, right, bottom = box
    return (left * side, top * side, right * side, bottom * side)


def _cup(draw: ImageDraw.ImageDraw, side: float, ink: Ink) -> None:
    stroke = round(side * 0.045)
    body = [(0.31, 0.44), (0.63, 0.44), (0.605, 0.62), (0.335, 0.62)]
    draw.polygon([(x * side, y * side) for x, y in body], fill=ink)
    draw.ellipse(_scaled((0.335, 0.50, 0.605, 0.72), side), fill=ink)
    draw.ellipse(_scaled((0.555, 0.47, 0.725, 0.63), side), outline=ink, width=stroke)
    draw.rounded_rectangle(_scaled((0.25, 0.735, 0.69, 0.775), side), radius=side * 0.02, fill=ink)
    for x in (0.40, 0.47, 0.54):
        _wisp(draw, x * side, side, ink, stroke * 0.6)


def _wisp(draw: ImageDraw.ImageDraw, x: float, side: float, ink: Ink, width: float) -> None:
    """One S-shaped curl of steam, brushed as overlapping discs (wide polylines kink)."""
    steps = 240
    radius = width / 2
    for step in range(steps + 1):
        px = x + side * 0.018 * math.sin(2 * math.pi * step / steps)
        py = side * (0.39 - 0.14 * step / steps)
        draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=ink)


def draw_logo(side: int = LOGO_SIDE) -> Image.Image:
    """A round coffee badge on transparency: reads on light and dark pass backgrounds alike."""
    big = side * SUPERSAMPLE
    canvas = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.ellipse((0, 0, big - 1, big - 1), fill=COFFEE)
    draw.ellipse(_scaled((0.06, 0.06, 0.94, 0.94), big), outline=CREAM, width=round(big * 0.018))
    _cup(draw, big, CREAM)
    return canvas.resize((side, side), Image.Resampling.LANCZOS)


def draw_icon(side: int = ICON_SIDE) -> Image.Image:
    """A cream stamp with a check mark on a coffee-coloured rounded square."""
    big = side * SUPERSAMPLE
    canvas = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.22, fill=COFFEE)
    draw.ellipse(_scaled((0.17, 0.17, 0.83, 0.83), big), fill=CREAM)
    draw.ellipse(_scaled((0.23, 0.23, 0.77, 0.77), big), outline=COFFEE, width=round(big * 0.02))
    check = [(0.36, 0.51), (0.46, 0.61), (0.65, 0.41)]
    draw.line(
        [(x * big, y * big) for x, y in check], fill=COFFEE, width=round(big * 0.07), joint="curve"
    )
    for x, y in (check[0], check[-1]):
        half = 0.035
        draw.ellipse(_scaled((x - half, y - half, x + half, y + half), big), fill=COFFEE)
    return canvas.resize((side, side), Image.Resampling.LANCZOS)


def main() -> None:
    """Write logo.png and icon.png next to this script."""
    draw_logo().save(HERE / "logo.png", optimize=True)
    draw_icon().save(HERE / "icon.png", optimize=True)


if __name__ == "__main__":
    main()
