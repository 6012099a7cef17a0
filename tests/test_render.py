"""Strip, logo and icon images: sizes, stamp counts by pixel, caching, clamping, colours."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from PIL import Image

from passes.errors import ConfigError, InvalidInput
from passes.render import Artwork, StripStyle, css_rgb, parse_hex_colour, stamp_layout

ASSETS = Path(__file__).resolve().parent.parent / "assets"
STRIP_PX = {"strip.png": (375, 123), "strip@2x.png": (750, 246), "strip@3x.png": (1125, 369)}
BACKGROUND, STAMP = "#1F3A2E", "#E8B04A"


@pytest.fixture(scope="module")
def shared() -> Artwork:
    return Artwork(ASSETS)


@pytest.fixture
def art() -> Artwork:
    return Artwork(ASSETS)


def _image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


def _png(size: tuple[int, int], colour: tuple[int, int, int, int] = (200, 30, 30, 255)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def _filled_slots(image: Image.Image, required: int) -> list[bool]:
    """Classify each slot by a pixel inside the stamp but clear of the check mark."""
    paper, ink = parse_hex_colour(BACKGROUND), parse_hex_colour(STAMP)
    rgb = image.convert("RGB")
    filled = []
    for x, y, radius in stamp_layout(required, *image.size):
        pixel = rgb.getpixel((round(x), round(y - radius * 0.55)))
        assert isinstance(pixel, tuple)
        to_ink = sum((a - b) ** 2 for a, b in zip(pixel, ink, strict=True))
        to_paper = sum((a - b) ** 2 for a, b in zip(pixel, paper, strict=True))
        filled.append(to_ink < to_paper)
    return filled


def test_strip_has_all_scales_at_apple_sizes(shared: Artwork) -> None:
    images = shared.strip(StripStyle(BACKGROUND, STAMP, 10), 4)
    assert {name: _image(data).size for name, data in images.items()} == STRIP_PX


@pytest.mark.parametrize(
    ("required", "count"),
    [(1, 0), (1, 1), (5, 2), (10, 0), (10, 4), (10, 10), (12, 7), (30, 17), (30, 30)],
)
def test_strip_shows_count_filled_then_empty(shared: Artwork, required: int, count: int) -> None:
    images = shared.strip(StripStyle(BACKGROUND, STAMP, required), count)
    expected = [True] * count + [False] * (required - count)
    for data in images.values():
        assert _filled_slots(_image(data), required) == expected


def test_strip_is_drawn_in_the_shop_colours(shared: Artwork) -> None:
    image = _image(shared.strip(StripStyle(BACKGROUND, STAMP, 10), 1)["strip.png"]).convert("RGB")
    x, y, radius = stamp_layout(10, *image.size)[0]
    assert image.getpixel((0, 0)) == parse_hex_colour(BACKGROUND)
    assert image.getpixel((round(x), round(y - radius * 0.55))) == parse_hex_colour(STAMP)


@pytest.mark.parametrize(
    ("required", "rows"), [(1, 1), (10, 1), (11, 2), (20, 2), (21, 3), (30, 3)]
)
def test_layout_rows_fit_the_strip_without_overlap(required: int, rows: int) -> None:
    slots = stamp_layout(required, 375, 123)
    assert len(slots) == required
    assert len({round(y, 6) for _, y, _ in slots}) == rows
    for x, y, radius in slots:
        assert radius <= x <= 375 - radius and radius <= y <= 123 - radius
    for (x1, y1, r1), (x2, y2, r2) in itertools.combinations(slots, 2):
        assert (x1 - x2) ** 2 + (y1 - y2) ** 2 > (r1 + r2) ** 2


def test_strip_is_drawn_once_per_style_count_and_scale(art: Artwork) -> None:
    first = art.strip(StripStyle(BACKGROUND, STAMP, 10), 3)
    assert art.drawn == 3
    assert art.strip(StripStyle(BACKGROUND, STAMP, 10), 3) == first
    assert art.drawn == 3
    art.strip(StripStyle(BACKGROUND, STAMP, 10), 4)
    assert art.drawn == 6
    art.strip(StripStyle(BACKGROUND, "#FFFFFF", 10), 4)
    assert art.drawn == 9


def test_cache_is_bounded(tmp_path: Path) -> None:
    art = Artwork(ASSETS, cache_size=3)
    style = StripStyle(BACKGROUND, STAMP, 1)
    art.strip(style, 0)
    art.strip(style, 1)
    art.strip(style, 0)
    assert art.drawn == 9


def test_count_is_clamped(art: Artwork) -> None:
    style = StripStyle(BACKGROUND, STAMP, 5)
    assert art.strip(style, -3) == art.strip(style, 0)
    assert art.strip(style, 99) == art.strip(style, 5)
    assert art.drawn == 6


@pytest.mark.parametrize(
    ("background", "stamp", "required"),
    [
        ("#12345", STAMP, 10),
        (BACKGROUND, "red", 10),
        (BACKGROUND, STAMP, 0),
        (BACKGROUND, STAMP, 31),
    ],
)
def test_strip_style_refuses_bad_values(background: str, stamp: str, required: int) -> None:
    with pytest.raises(ValueError):
        StripStyle(background, stamp, required)


def test_default_brand_sizes(art: Artwork) -> None:
    sizes = {name: _image(data).size for name, data in art.brand().items()}
    assert sizes == {
        "logo.png": (50, 50),
        "logo@2x.png": (100, 100),
        "logo@3x.png": (150, 150),
        "icon.png": (29, 29),
        "icon@2x.png": (58, 58),
        "icon@3x.png": (87, 87),
    }


@pytest.mark.parametrize(("source", "fitted"), [((600, 100), (160, 27)), ((100, 300), (17, 50))])
def test_logo_keeps_its_aspect(
    art: Artwork, source: tuple[int, int], fitted: tuple[int, int]
) -> None:
    images = art.brand(logo=_png(source))
    for scale, name in enumerate(("logo.png", "logo@2x.png", "logo@3x.png"), start=1):
        width, height = _image(images[name]).size
        assert abs(width - fitted[0] * scale) <= scale and abs(height - fitted[1] * scale) <= scale


def test_icon_is_square_and_pads_a_wide_source(art: Artwork) -> None:
    icon = _image(art.brand(icon=_png((200, 100)))["icon@3x.png"]).convert("RGBA")
    assert icon.size == (87, 87)
    assert icon.getpixel((43, 2)) == (0, 0, 0, 0)
    assert icon.getpixel((43, 43)) == (200, 30, 30, 255)


def test_brand_is_cached_per_input_bytes(art: Artwork) -> None:
    default = art.brand()
    assert art.drawn == 6
    assert art.brand() == default
    assert art.brand(logo=None, icon=None) == default
    assert art.drawn == 6
    art.brand(logo=_png((300, 100)))
    assert art.drawn == 9
    art.brand(logo=_png((300, 100)))
    assert art.drawn == 9


@pytest.mark.parametrize("data", [b"", b"not an image", b"%PDF-1.7 hello"])
def test_brand_refuses_unreadable_uploads(art: Artwork, data: bytes) -> None:
    with pytest.raises(InvalidInput, match="logo"):
        art.brand(logo=data)


def test_default_assets_exist_and_load() -> None:
    logo = Image.open(ASSETS / "logo.png")
    icon = Image.open(ASSETS / "icon.png")
    assert logo.width >= 480 and logo.height >= 150
    assert icon.width == icon.height >= 87
    assert logo.convert("RGBA").getpixel((0, 0)) == (0, 0, 0, 0)
    assert (ASSETS / "README.md").is_file()


def test_missing_assets_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"logo\.png.*make_default_art"):
        Artwork(tmp_path)


@pytest.mark.parametrize(
    ("text", "rgb"),
    [("#1F6F50", (31, 111, 80)), ("#ffffff", (255, 255, 255)), ("#abc", (170, 187, 204))],
)
def test_parse_hex_colour(text: str, rgb: tuple[int, int, int]) -> None:
    assert parse_hex_colour(text) == rgb


@pytest.mark.parametrize(
    "text", ["", "#", "1F6F50", "#1F6F5", "#1F6F500", "#GGGGGG", " #1F6F50", "rgb(1, 2, 3)"]
)
def test_parse_hex_colour_refuses_others_clearly(text: str) -> None:
    with pytest.raises(ValueError, match="#RRGGBB"):
        parse_hex_colour(text)


def test_css_rgb() -> None:
    assert css_rgb("#1F6F50") == "rgb(31, 111, 80)"
    assert css_rgb("#000") == "rgb(0, 0, 0)"


def test_tier_slots_get_a_ring_and_their_own_cache_entry(art: Artwork) -> None:
    plain = _image(art.strip(StripStyle(BACKGROUND, STAMP, 10), 2)["strip@3x.png"]).convert("RGB")
    tiered = _image(art.strip(StripStyle(BACKGROUND, STAMP, 10, (5,)), 2)["strip@3x.png"])
    tiered = tiered.convert("RGB")
    assert art.drawn == 6, "tiers are part of the style: a strip of its own"
    ink = parse_hex_colour(STAMP)
    slots = stamp_layout(10, *plain.size)
    changed = []
    for index, (x, y, radius) in enumerate(slots):
        point = (round(x + radius * 1.12), round(y))  # on the ring, right of the slot
        changed.append(plain.getpixel(point) != tiered.getpixel(point))
        if index == 4:
            pixel = tiered.getpixel(point)
            assert isinstance(pixel, tuple)
            assert sum((a - b) ** 2 for a, b in zip(pixel, ink, strict=True)) < 40**2
    assert changed == [i == 4 for i in range(10)], "only the 5th slot is marked"
    assert _filled_slots(tiered, 10) == _filled_slots(plain, 10)


@pytest.mark.parametrize("tiers", [(10,), (0,), (5, 3), (4, 4)])
def test_tiers_lie_below_the_total(tiers: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="tiers"):
        StripStyle(BACKGROUND, STAMP, 10, tiers)
