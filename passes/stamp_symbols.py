"""What a filled stamp shows: the symbols the card designer offers, each drawn inside a
stamp's disc. Pillow only, nothing of ours; passes/render.py lays out and draws the strip."""

from __future__ import annotations

import math
from collections.abc import Callable

from PIL import ImageDraw

# An (r, g, b) colour, as passes/render.py's RGB.
Ink = tuple[int, int, int]
# Draws a symbol in `ink` centred at (x, y), sized for a stamp of `radius`.
Drawing = Callable[[ImageDraw.ImageDraw, float, float, float, Ink], None]

# What a filled stamp shows (the card designer's choice); "check" is the first design's.
SYMBOLS = ("check", "cup", "star", "heart", "paw", "dot")


def disc(draw: ImageDraw.ImageDraw, x: float, y: float, radius: float, fill: Ink) -> None:
    """A filled circle of `radius` around (x, y)."""
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)


def _check_mark(draw: ImageDraw.ImageDraw, x: float, y: float, radius: float, ink: Ink) -> None:
    points = [
        (x + dx * radius, y + dy * radius) for dx, dy in ((-0.4, 0.02), (-0.12, 0.3), (0.42, -0.28))
    ]
    stroke = radius * 0.2
    draw.line(points, fill=ink, width=round(stroke), joint="curve")
    for px, py in (points[0], points[-1]):
        disc(draw, px, py, stroke / 2, ink)


def _dot(draw: ImageDraw.ImageDraw, x: float, y: float, radius: float, ink: Ink) -> None:
    disc(draw, x, y, radius * 0.32, ink)


def _star(draw: ImageDraw.ImageDraw, x: float, y: float, radius: float, ink: Ink) -> None:
    points = []
    for corner in range(10):
        reach = radius * (0.6 if corner % 2 == 0 else 0.25)
        angle = math.pi * corner / 5 - math.pi / 2
        points.append((x + reach * math.cos(angle), y + reach * math.sin(angle)))
    draw.polygon(points, fill=ink)


def _heart(draw: ImageDraw.ImageDraw, x: float, y: float, radius: float, ink: Ink) -> None:
    lobe = radius * 0.25
    for side in (-1, 1):
        disc(draw, x + side * radius * 0.22, y - radius * 0.14, lobe, ink)
    tip = [(x - radius * 0.46, y - radius * 0.06), (x + radius * 0.46, y - radius * 0.06)]
    draw.polygon([*tip, (x, y + radius * 0.5)], fill=ink)


def _paw(draw: ImageDraw.ImageDraw, x: float, y: float, radius: float, ink: Ink) -> None:
    pad = (x - radius * 0.3, y - radius * 0.02, x + radius * 0.3, y + radius * 0.44)
    draw.ellipse(pad, fill=ink)
    for dx, dy in ((-0.4, -0.12), (-0.15, -0.4), (0.15, -0.4), (0.4, -0.12)):
        disc(draw, x + dx * radius, y + dy * radius, radius * 0.12, ink)


def _cup(draw: ImageDraw.ImageDraw, x: float, y: float, radius: float, ink: Ink) -> None:
    top, bottom = y - radius * 0.3, y + radius * 0.28
    draw.polygon(
        [
            (x - radius * 0.4, top),
            (x + radius * 0.26, top),
            (x + radius * 0.18, bottom),
            (x - radius * 0.32, bottom),
        ],
        fill=ink,
    )
    stroke = max(1, round(radius * 0.08))
    handle = radius * 0.15
    box = (x + radius * 0.2, y - 0.18 * radius, x + radius * 0.2 + 2 * handle, y + 0.1 * radius)
    draw.ellipse(box, outline=ink, width=stroke)
    saucer = y + radius * 0.4
    draw.line([(x - radius * 0.5, saucer), (x + radius * 0.38, saucer)], fill=ink, width=stroke)


_DRAWINGS: dict[str, Drawing] = {
    "check": _check_mark,
    "cup": _cup,
    "star": _star,
    "heart": _heart,
    "paw": _paw,
    "dot": _dot,
}


def draw_symbol(
    draw: ImageDraw.ImageDraw, symbol: str, x: float, y: float, radius: float, ink: Ink
) -> None:
    """Draw `symbol` (one of SYMBOLS) in `ink`, centred at (x, y), for a stamp of `radius`."""
    _DRAWINGS[symbol](draw, x, y, radius, ink)
