"""A shop's own logo: an uploaded PNG or SVG, checked and re-encoded as our own PNG.

Only that PNG is kept and served, never the upload: an SVG can carry scripts and
references to other files, so it is drawn once (resvg) after its references are checked,
and a PNG is decoded with its size checked before any pixel is (decompression bombs).
render.py scales the result for Apple's logo and icon and Google's program logo.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
from dataclasses import dataclass
from xml.etree import ElementTree

from PIL import Image, UnidentifiedImageError

from passes.errors import InvalidInput

MAX_LOGO_BYTES = 2 * 1024 * 1024
# Decoded pictures beyond this many pixels are refused before decoding.
MAX_PIXELS = 4096 * 4096
# Kept: enough for Google's 660 px logo and Apple's logo at 3x (480×150).
KEPT_SIDE = 1024
# Smaller pictures look blurred on a phone; an SVG is drawn at KEPT_SIDE.
MIN_SIDE = 300
# Wider (or taller) than this, the logo is a thin line in Apple's 160×50 box and Google's circle.
MAX_ASPECT = 8
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SVG_TAG = "{http://www.w3.org/2000/svg}svg"
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,([A-Za-z0-9+/=\s]+)", re.S)
_HREFS = ("href", "{http://www.w3.org/1999/xlink}href")


class LogoRefused(InvalidInput):
    """An upload that cannot be a logo; `reason` names why (the dashboard translates it)."""

    def __init__(self, reason: str, message: str, **values: object) -> None:
        super().__init__(message)
        self.reason = reason
        self.values = values


@dataclass(frozen=True)
class Logo:
    """A checked logo: our PNG (RGBA, trimmed, at most KEPT_SIDE a side) and its digest."""

    png: bytes
    size: tuple[int, int]
    digest: str


def read_logo(data: bytes) -> Logo:
    """The upload as a logo, or LogoRefused saying what to upload instead."""
    if len(data) > MAX_LOGO_BYTES:
        raise LogoRefused(
            "too_big",
            f"the logo file has {len(data) // 1024} KB: upload at most "
            f"{MAX_LOGO_BYTES // 1024 // 1024} MB",
            kb=len(data) // 1024,
            mb=MAX_LOGO_BYTES // 1024 // 1024,
        )
    if data.startswith(PNG_MAGIC):
        image = _decoded_png(data)
    elif data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") and b"<svg" in data[:4096]:
        image = _drawn_svg(data)
    else:
        raise LogoRefused("not_image", "the file is not a PNG or SVG picture: upload one of those")
    return _kept(image)


def _decoded_png(data: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as source:
            width, height = source.size
            if width * height > MAX_PIXELS:
                raise LogoRefused(
                    "too_many_pixels",
                    f"the logo is {width}×{height} px: upload at most 4096×4096",
                    width=width,
                    height=height,
                )
            if max(width, height) < MIN_SIDE:
                raise _too_small(width, height)
            source.load()
            return source.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise LogoRefused("not_image", "the PNG file cannot be read: export it again") from exc
    except Image.DecompressionBombError as exc:
        raise LogoRefused("too_many_pixels", "the logo has too many pixels") from exc


def _too_small(width: int, height: int) -> LogoRefused:
    return LogoRefused(
        "too_small",
        f"the logo is {width}×{height} px: upload one at least {MIN_SIDE} px wide or tall "
        "(or an SVG), so it stays sharp on phones",
        width=width,
        height=height,
        min=MIN_SIDE,
    )


def _drawn_svg(data: bytes) -> Image.Image:
    try:
        import resvg_py
    except ImportError as exc:
        raise LogoRefused(
            "svg_unavailable", "SVG logos need the resvg-py package here: upload a PNG"
        ) from exc
    text = _checked_svg(data)
    try:
        drawn = resvg_py.svg_to_bytes(svg_string=text, width=KEPT_SIDE, height=KEPT_SIDE)
    except ValueError as exc:
        raise LogoRefused("not_image", f"the SVG cannot be drawn ({exc}): export it again") from exc
    with Image.open(io.BytesIO(bytes(drawn)), formats=["PNG"]) as image:
        return image.convert("RGBA")


def _checked_svg(data: bytes) -> str:
    """The SVG's text, if it stands alone: no entities, no files or addresses it would load."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LogoRefused("not_image", "the SVG is not UTF-8 text: export it again") from exc
    if "<!ENTITY" in text.upper() or re.search(r"<!DOCTYPE[^>]*\[", text, re.I):
        raise _unsafe("it declares entities")
    try:
        # Entities were refused above, and expat loads no external ones: nothing to expand.
        root = ElementTree.fromstring(text)  # noqa: S314
    except ElementTree.ParseError as exc:
        raise LogoRefused("not_image", f"the SVG is not well-formed ({exc})") from exc
    if root.tag != _SVG_TAG:
        raise LogoRefused(
            "not_image", "the file is not an SVG picture (no <svg> in the SVG namespace)"
        )
    for element in root.iter():
        for name in _HREFS:
            target = element.get(name)
            if target is not None:
                _check_reference(target.strip())
    return text


def _check_reference(target: str) -> None:
    """Only references inside the file, and embedded pictures of a sane size."""
    if target.startswith("#"):
        return
    embedded = _DATA_IMAGE.fullmatch(target)
    if embedded is None:
        raise _unsafe(f"it refers to {target[:60]!r}")
    try:
        inner = base64.b64decode(re.sub(r"\s+", "", embedded.group(2)), validate=True)
        with Image.open(io.BytesIO(inner)) as picture:
            fits = picture.width * picture.height <= MAX_PIXELS
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError) as exc:
        raise _unsafe("an embedded picture cannot be read") from exc
    if not fits:
        raise _unsafe("an embedded picture has too many pixels")


def _unsafe(why: str) -> LogoRefused:
    return LogoRefused(
        "svg_unsafe",
        f"the SVG cannot be used: {why}. Save it as plain SVG (text as paths, pictures "
        "embedded), or upload a PNG",
        why=why,
    )


def _kept(image: Image.Image) -> Logo:
    """Trimmed to what is visible, at most KEPT_SIDE a side, as a fresh PNG."""
    box = image.getchannel("A").getbbox()
    if box is None:
        raise LogoRefused("empty", "the logo is fully transparent: nothing would show")
    mark = image.crop(box)
    longer, shorter = max(mark.size), min(mark.size)
    if longer > MAX_ASPECT * shorter:
        raise LogoRefused(
            "too_narrow",
            f"the logo is {mark.width}×{mark.height} px: at most {MAX_ASPECT} times wider "
            "than tall (or taller than wide), or it becomes a thin line",
            width=mark.width,
            height=mark.height,
            most=MAX_ASPECT,
        )
    if longer > KEPT_SIDE:
        ratio = KEPT_SIDE / longer
        size = (max(1, round(mark.width * ratio)), max(1, round(mark.height * ratio)))
        mark = mark.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    mark.save(out, "PNG", optimize=True)
    png = out.getvalue()
    return Logo(png, mark.size, hashlib.sha256(png).hexdigest())
