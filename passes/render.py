"""Pass images: the stamp strip, the shop's logo and icon, each drawn once and cached."""

from __future__ import annotations

import hashlib
import io
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from passes.errors import ConfigError, InvalidInput
from passes.stamp_symbols import SYMBOLS, disc, draw_symbol

RGB = tuple[int, int, int]

STRIP_SIZE = (375, 123)
# Google Wallet's recommendations: the hero image 1032×336 px; the program logo square, at
# least 660×660 px, a full-bleed background, the mark inside a 15 % margin (Google masks it
# into a circle).
GOOGLE_HERO_SIZE = (1032, 336)
GOOGLE_LOGO_SIZE = 660
GOOGLE_LOGO_MARGIN = 0.15
LOGO_BOX = (160, 50)
ICON_SIZE = 29
SCALES = (1, 2, 3)
MAX_STAMPS = 30
STAMPS_PER_ROW = 10

# Shapes are drawn this many times larger, then downsampled: Pillow draws without antialiasing.
_SUPERSAMPLE = 3
# Uploaded artwork larger than this is refused before decoding (decompression bombs).
_MAX_SOURCE_PIXELS = 4096 * 4096
_SOURCE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
# Source artwork whose digest is kept (see Artwork._digest).
_DIGESTS_KEPT = 64
_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def parse_hex_colour(value: str) -> RGB:
    """Parse "#RGB" or "#RRGGBB" into an (r, g, b) tuple; ValueError for anything else."""
    match = _HEX.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"colour {value!r} is not a hex colour: write it as '#RRGGBB', e.g. '#1F6F50'"
        )
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


def css_rgb(value: str) -> str:
    """Turn "#RRGGBB" into "rgb(r, g, b)", the colour form pass.json expects."""
    red, green, blue = parse_hex_colour(value)
    return f"rgb({red}, {green}, {blue})"


@dataclass(frozen=True)
class StripStyle:
    """A shop's strip: background and stamp colour ("#RRGGBB") and stamps per reward (1..30).

    `tiers` are the stamp counts of intermediate rewards; their slots get a ring.
    """

    background: str
    stamp: str
    stamps_required: int
    tiers: tuple[int, ...] = ()
    symbol: str = "check"

    def __post_init__(self) -> None:
        if self.symbol not in SYMBOLS:
            raise ValueError(f"symbol must be one of {', '.join(SYMBOLS)}, got {self.symbol!r}")
        parse_hex_colour(self.background)
        parse_hex_colour(self.stamp)
        required = self.stamps_required
        if isinstance(required, bool) or not isinstance(required, int):
            raise ValueError(f"stamps_required must be a whole number, got {required!r}")
        if not 1 <= required <= MAX_STAMPS:
            raise ValueError(f"stamps_required must be between 1 and {MAX_STAMPS}, got {required}")
        if list(self.tiers) != sorted(set(self.tiers)) or not all(
            0 < at < required for at in self.tiers
        ):
            raise ValueError(f"tiers must be ascending stamp counts below {required}")

    @classmethod
    def of(cls, program: ProgramColours) -> StripStyle:
        """The strip style of a stored program (anything with its colours and stamp count)."""
        return cls(
            program.background_color,
            program.stamp_color,
            program.stamps_required,
            program.tier_stamps,
            program.stamp_symbol,
        )


class ProgramColours(Protocol):
    """What a strip needs of a program; render.py knows no database types."""

    @property
    def background_color(self) -> str: ...
    @property
    def stamp_color(self) -> str: ...
    @property
    def stamps_required(self) -> int: ...
    @property
    def tier_stamps(self) -> tuple[int, ...]: ...
    @property
    def stamp_symbol(self) -> str: ...


def stamp_layout(
    stamps_required: int, width: float, height: float
) -> list[tuple[float, float, float]]:
    """Centre x, centre y and radius of each stamp slot, in reading order, for a strip of this size.

    Up to ten stamps a row; rows are centred, and a short last row is centred too.
    """
    rows = math.ceil(stamps_required / STAMPS_PER_ROW)
    cols = math.ceil(stamps_required / rows)
    cell = min(width * 0.94 / cols, height * 0.8 / rows)
    # A lone stamp or a short row would otherwise swell to the full strip height.
    radius = min(cell * 0.42, height * 0.29)
    top = (height - rows * cell) / 2
    slots = []
    for index in range(stamps_required):
        row, col = divmod(index, cols)
        in_row = min(cols, stamps_required - row * cols)
        left = (width - in_row * cell) / 2
        slots.append((left + (col + 0.5) * cell, top + (row + 0.5) * cell, radius))
    return slots


def _mix(colour: RGB, other: RGB, amount: float) -> RGB:
    red, green, blue = (round(a + (b - a) * amount) for a, b in zip(colour, other, strict=True))
    return (red, green, blue)


def _filled_stamp(
    draw: ImageDraw.ImageDraw,
    slot: tuple[float, float, float],
    ink: RGB,
    paper: RGB,
    symbol: str = "check",
) -> None:
    x, y, radius = slot
    disc(draw, x, y, radius, ink)
    # A thin inner ring makes the disc read as a rubber stamp rather than a dot.
    inner = radius * 0.84
    box = (x - inner, y - inner, x + inner, y + inner)
    draw.ellipse(box, outline=_mix(ink, paper, 0.45), width=max(1, round(radius * 0.05)))
    draw_symbol(draw, symbol, x, y, radius, paper)


def _empty_stamp(
    draw: ImageDraw.ImageDraw, slot: tuple[float, float, float], ink: RGB, paper: RGB
) -> None:
    x, y, radius = slot
    box = (x - radius, y - radius, x + radius, y + radius)
    draw.ellipse(
        box, fill=_mix(ink, paper, 0.88), outline=_mix(ink, paper, 0.5), width=round(radius * 0.12)
    )


def _tier_ring(draw: ImageDraw.ImageDraw, slot: tuple[float, float, float], ink: RGB) -> None:
    """A ring around the slot that earns an intermediate reward (it stays inside the cell)."""
    x, y, radius = slot
    outer = radius * 1.16
    box = (x - outer, y - outer, x + outer, y + outer)
    draw.ellipse(box, outline=ink, width=max(1, round(radius * 0.08)))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def _draw_strip(style: StripStyle, count: int, scale: int) -> bytes:
    return _draw_stamps(style, count, (STRIP_SIZE[0] * scale, STRIP_SIZE[1] * scale))


def _draw_stamps(style: StripStyle, count: int, size: tuple[int, int]) -> bytes:
    paper, ink = parse_hex_colour(style.background), parse_hex_colour(style.stamp)
    canvas = Image.new("RGB", (size[0] * _SUPERSAMPLE, size[1] * _SUPERSAMPLE), paper)
    draw = ImageDraw.Draw(canvas)
    for index, slot in enumerate(stamp_layout(style.stamps_required, *canvas.size)):
        if index < count:
            _filled_stamp(draw, slot, ink, paper, style.symbol)
        else:
            _empty_stamp(draw, slot, ink, paper)
        if index + 1 in style.tiers:
            _tier_ring(draw, slot, ink)
    return _png(canvas.resize(size, Image.Resampling.LANCZOS))


def _decode(data: bytes, what: str) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data), formats=_SOURCE_FORMATS) as source:
            if source.width * source.height > _MAX_SOURCE_PIXELS:
                raise InvalidInput(
                    f"{what} is {source.width}×{source.height} px: use at most 4096×4096"
                )
            upright = ImageOps.exif_transpose(source)
            return upright.convert("RGBA")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise InvalidInput(
            f"{what} is not an image that can be read: upload a PNG or JPEG"
        ) from exc


def _fit(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    ratio = min(box[0] / image.width, box[1] / image.height)
    size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _draw_logo(data: bytes, scale: int) -> bytes:
    return _png(_fit(_decode(data, "logo"), (LOGO_BOX[0] * scale, LOGO_BOX[1] * scale)))


def _draw_icon(data: bytes, scale: int) -> bytes:
    side = ICON_SIZE * scale
    fitted = _fit(_decode(data, "icon"), (side, side))
    canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    canvas.paste(fitted, ((side - fitted.width) // 2, (side - fitted.height) // 2))
    return _png(canvas)


def _draw_google_logo(data: bytes, background: str) -> bytes:
    side = GOOGLE_LOGO_SIZE
    inner = round(side * (1 - 2 * GOOGLE_LOGO_MARGIN))
    mark = _fit(_decode(data, "logo"), (inner, inner))
    canvas = Image.new("RGB", (side, side), parse_hex_colour(background))
    canvas.paste(mark, ((side - mark.width) // 2, (side - mark.height) // 2), mark)
    return _png(canvas)


def _file_name(kind: str, scale: int) -> str:
    return f"{kind}.png" if scale == 1 else f"{kind}@{scale}x.png"


def _read_asset(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{path}: default artwork missing — restore it from git "
            "or run assets/make_default_art.py"
        ) from exc


class Artwork:
    """Draws and caches pass images. One per process, built from the assets folder."""

    def __init__(self, assets_dir: Path, *, cache_size: int = 512) -> None:
        self._default_logo = _read_asset(assets_dir / "logo.png")
        self._default_icon = _read_asset(assets_dir / "icon.png")
        self._cache_size = cache_size
        self._images: OrderedDict[Hashable, bytes] = OrderedDict()
        self._digests: dict[bytes, str] = {}
        self._lock = threading.Lock()
        self._drawn = 0

    @property
    def drawn(self) -> int:
        """How many images have been drawn so far (cache hits draw nothing)."""
        return self._drawn

    def strip(self, style: StripStyle, count: int) -> Mapping[str, bytes]:
        """Strip images at 1x/2x/3x with `count` stamps filled (clamped to 0..stamps_required)."""
        return {
            _file_name("strip", scale): self.strip_image(style, count, scale) for scale in SCALES
        }

    def strip_image(self, style: StripStyle, count: int, scale: int) -> bytes:
        """One strip image at `scale` (1, 2 or 3); only that size is drawn."""
        count = min(max(count, 0), style.stamps_required)
        return self._cached(
            ("strip", style, count, scale), partial(_draw_strip, style, count, scale)
        )

    def google_hero(self, style: StripStyle, count: int) -> bytes:
        """The stamp strip as Google's hero image (GOOGLE_HERO_SIZE)."""
        count = min(max(count, 0), style.stamps_required)
        draw = partial(_draw_stamps, style, count, GOOGLE_HERO_SIZE)
        return self._cached(("google-hero", style, count), draw)

    def google_logo(self, background: str, logo: bytes | None = None) -> bytes:
        """The logo as Google's program logo: square, on `background`, inside a safe margin."""
        data = self._default_logo if logo is None else logo
        key = ("google-logo", hashlib.sha256(data).hexdigest(), background)
        return self._cached(key, partial(_draw_google_logo, data, background))

    def brand(self, logo: bytes | None = None, icon: bytes | None = None) -> Mapping[str, bytes]:
        """Logo (fitted into 160×50 pt) and icon (29×29 pt) at 1x/2x/3x; None = default artwork."""
        return {
            **self._variants("logo", self._default_logo if logo is None else logo, _draw_logo),
            **self._variants("icon", self._default_icon if icon is None else icon, _draw_icon),
        }

    def _variants(
        self, kind: str, data: bytes, draw: Callable[[bytes, int], bytes]
    ) -> dict[str, bytes]:
        digest = self._digest(data)
        return {
            _file_name(kind, scale): self._cached((kind, digest, scale), partial(draw, data, scale))
            for scale in SCALES
        }

    def _digest(self, data: bytes) -> str:
        # Every pass asks for the same logo and icon objects: hashing their 100 kB each time
        # cost a fifth of a pass's signature. A dict finds them again by the hash Python keeps.
        digest = self._digests.get(data)
        if digest is None:
            if len(self._digests) >= _DIGESTS_KEPT:
                self._digests.clear()
            digest = self._digests[data] = hashlib.sha256(data).hexdigest()
        return digest

    def _cached(self, key: Hashable, draw: Callable[[], bytes]) -> bytes:
        with self._lock:
            image = self._images.get(key)
            if image is not None:
                self._images.move_to_end(key)
                return image
        # Draw outside the lock: a rare duplicate draw is cheaper than serialising all drawing.
        image = draw()
        with self._lock:
            self._drawn += 1
            self._images[key] = image
            while len(self._images) > self._cache_size:
                self._images.popitem(last=False)
        return image
