"""WCAG 2 contrast of the pass's colours: text and labels on the background need 4.5:1
(success criterion 1.4.3), the stamps, a graphic, 3:1 (1.4.11). Pure: no I/O."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from passes.render import RGB, parse_hex_colour

TEXT = 4.5
GRAPHIC = 3.0
# Each colour shown on the background, and the contrast it needs there.
NEEDED = {"foreground_color": TEXT, "label_color": TEXT, "stamp_color": GRAPHIC}


@dataclass(frozen=True)
class Shortfall:
    """A colour too close to the background: its key, its contrast and the contrast needed."""

    key: str
    ratio: float
    needed: float


def _channel(value: int) -> float:
    share = value / 255
    return share / 12.92 if share <= 0.04045 else ((share + 0.055) / 1.055) ** 2.4


def luminance(colour: RGB) -> float:
    """Relative luminance, 0 (black) to 1 (white)."""
    red, green, blue = (_channel(part) for part in colour)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(one: str, other: str) -> float:
    """The contrast ratio of two "#RRGGBB" colours, 1 to 21."""
    lighter, darker = sorted(
        (luminance(parse_hex_colour(one)), luminance(parse_hex_colour(other))), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


def shortfall(colours: Mapping[str, str]) -> Shortfall | None:
    """The first colour of `colours` (all four of the pass) that falls short on its background."""
    background = colours["background_color"]
    for key, needed in NEEDED.items():
        ratio = contrast_ratio(colours[key], background)
        if ratio < needed:
            # Rounded down as shown: a refused 4.496 must not read "4.5:1".
            return Shortfall(key, math.floor(ratio * 100) / 100, needed)
    return None
