"""Public, immutable image URLs: Google fetches pass images itself, so we serve them by content.

A strip URL names everything the picture depends on (colours, stamps per reward, count), so a
URL never changes its picture and caches may keep it forever. Anyone may ask for any URL, so
only the looks of existing programs are drawn (anything else is a 404, drawn never), only the
size asked for, and off the event loop, a few at a time: a new picture costs up to a tenth of
a second of CPU.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from passes.errors import NotFound
from passes.google.objects import hex_colour
from passes.render import MAX_STAMPS, Artwork, StripStyle
from passes.stamp_symbols import SYMBOLS
from passes.store.styles import StylesInUse

IMMUTABLE = "public, max-age=31536000, immutable"
# Pictures drawn at once, each in a thread of its own; more wait their turn.
DRAWS_AT_ONCE = 2
_COLOUR = re.compile(r"[0-9a-f]{6}")
_NUMBER = re.compile(r"0|[1-9][0-9]{0,2}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
BRAND_IMAGES = frozenset(
    f"{kind}{suffix}.png" for kind in ("logo", "icon") for suffix in ("", "@2x", "@3x")
)


class Logos(Protocol):
    """Where a shop's own logo is found by its digest (passes/design.py)."""

    async def image(self, digest: str | None) -> bytes | None:
        """The logo's PNG, or None."""


def strip_path(style: StripStyle, count: int) -> str:
    """The strip picture's path: /img/strip/{bg}/{stamp}/{required}/{count}@2x.png
    [?tiers=5.8][&symbol=star]."""
    stamps, query = _stamps_part(style, count)
    return f"/img/strip/{stamps}@2x.png{query}"


def _stamps_part(style: StripStyle, count: int) -> tuple[str, str]:
    count = min(max(count, 0), style.stamps_required)
    colours = f"{_path_colour(style.background)}/{_path_colour(style.stamp)}"
    asked = [f"tiers={'.'.join(map(str, style.tiers))}"] if style.tiers else []
    if style.symbol != SYMBOLS[0]:
        asked.append(f"symbol={style.symbol}")
    query = f"?{'&'.join(asked)}" if asked else ""
    return f"{colours}/{style.stamps_required}/{count}", query


def logo_path(digest: str | None = None) -> str:
    """The Apple-sized logo (160×50 pt at 2x): the default, or a shop's by its digest."""
    return "/img/logo@2x.png" if digest is None else f"/img/logo/{digest}/logo@2x.png"


def hero_path(style: StripStyle, count: int) -> str:
    """Google's hero image (1032×336): /img/google/hero/{bg}/{stamp}/{required}/{count}.png."""
    stamps, tiers = _stamps_part(style, count)
    return f"/img/google/hero/{stamps}.png{tiers}"


def program_logo_path(background: str, digest: str | None = None) -> str:
    """Google's program logo (660×660 on the card's colour): /img/google/logo/{bg}.png, or
    /img/google/logo/{digest}/{bg}.png for a shop's own logo."""
    shop = "" if digest is None else f"{digest}/"
    return f"/img/google/logo/{shop}{_path_colour(background)}.png"


def _path_colour(value: str) -> str:
    return hex_colour(value).removeprefix("#")


class PublicImages:
    """Serves the strip and brand images from the shared Artwork cache."""

    def __init__(self, artwork: Artwork, styles: StylesInUse, logos: Logos | None = None) -> None:
        self.artwork = artwork
        self.styles = styles
        self.logos = logos
        self.drawing = anyio.CapacityLimiter(DRAWS_AT_ONCE)

    def routes(self) -> list[Route]:
        """Routes under /img."""
        return [
            Route("/img/strip/{bg}/{stamp}/{required}/{count}@2x.png", self.strip),
            Route("/img/google/hero/{bg}/{stamp}/{required}/{count}.png", self.hero),
            Route("/img/google/logo/{bg}.png", self.google_logo),
            Route("/img/google/logo/{digest}/{bg}.png", self.google_logo),
            Route("/img/logo/{digest}/{name}", self.brand),
            Route("/img/{name}", self.brand),
        ]

    async def strip(self, request: Request) -> Response:
        style, count = await self._strip_in_use(request)
        return await self._drawn(lambda: self.artwork.strip_image(style, count, 2))

    async def hero(self, request: Request) -> Response:
        style, count = await self._strip_in_use(request)
        return await self._drawn(lambda: self.artwork.google_hero(style, count))

    async def google_logo(self, request: Request) -> Response:
        background = request.path_params["bg"]
        if not _COLOUR.fullmatch(background):
            raise NotFound("no such image: colours are six lower-case hex digits")
        if not await self.styles.background(f"#{background}"):
            raise NotFound("no such image: no program has this background")
        logo = await self._logo(request)
        return await self._drawn(lambda: self.artwork.google_logo(f"#{background}", logo))

    async def _strip_in_use(self, request: Request) -> tuple[StripStyle, int]:
        style, count = _strip_of(request)
        look = (style.background, style.stamp, style.stamps_required, style.tiers)
        if not await self.styles.strip(*look):
            raise NotFound("no such image: no program has these colours, stamps and tiers")
        return style, count

    async def _drawn(self, draw: Callable[[], bytes]) -> Response:
        return _png(await anyio.to_thread.run_sync(draw, limiter=self.drawing))

    async def brand(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in BRAND_IMAGES:
            raise NotFound("no such image")
        logo = await self._logo(request)
        return _png(self.artwork.brand(logo, logo)[name])

    async def _logo(self, request: Request) -> bytes | None:
        """The shop logo the path names by digest (NotFound if none is stored), else None."""
        digest = request.path_params.get("digest")
        if digest is None:
            return None
        logo = None
        if _DIGEST.fullmatch(digest) and self.logos is not None:
            logo = await self.logos.image(digest)
        if logo is None:
            raise NotFound("no such logo")
        return logo


def _strip_of(request: Request) -> tuple[StripStyle, int]:
    """The strip a path names (colours, stamps per reward, count, ?tiers=), or NotFound."""
    params = request.path_params
    background, stamp = params["bg"], params["stamp"]
    required, count = _number(params["required"]), _number(params["count"])
    if not (_COLOUR.fullmatch(background) and _COLOUR.fullmatch(stamp)):
        raise NotFound("no such image: colours are six lower-case hex digits")
    if not 1 <= required <= MAX_STAMPS or not 0 <= count <= required:
        raise NotFound("no such image: stamp counts out of range")
    symbol = request.query_params.get("symbol", SYMBOLS[0])
    if symbol not in SYMBOLS:
        raise NotFound(f"no such image: the symbol is one of {', '.join(SYMBOLS)}")
    try:
        tiers = tuple(_number(at) for at in request.query_params.get("tiers", "").split(".") if at)
        style = StripStyle(f"#{background}", f"#{stamp}", required, tiers, symbol)
    except ValueError:
        raise NotFound("no such image: tiers are ascending stamp counts below the total") from None
    return style, count


def _number(text: str) -> int:
    if not _NUMBER.fullmatch(text):
        raise NotFound("no such image: counts are plain whole numbers")
    return int(text)


def _png(data: bytes) -> Response:
    return Response(data, media_type="image/png", headers={"Cache-Control": IMMUTABLE})
