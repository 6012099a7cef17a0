"""The "Add to Apple Wallet" / "Add to Google Wallet" badges: Apple's and Google's own artwork.

Apple and Google ask that their badges be used as they ship them, never redrawn. The artwork
comes, first found first, from the operator's `{certs dir}/badges/` (files downloaded from
Apple's and Google's brand pages), then from the npm package `@neostore/cinto` that `npm ci`
installs (it carries both sets, unmodified, in 45+ languages). Only when neither is there do the
pages fall back to the badges drawn in `_wallet.html`, marked as such in the page.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from passes.config import Settings
from passes.texts import LANGUAGES

WALLETS = ("apple", "google")
# Official badges run to ~20 KB; anything far larger is not a badge.
MAX_BYTES = 512 * 1024
SVG_HEADERS = {"Cache-Control": "public, max-age=86400"}
# Served from our origin, so it must stay a picture and never run anything.
ACTIVE_CONTENT = re.compile(rb"<script|<foreignObject|\son[a-z]+\s*=", re.IGNORECASE)
# The root element's attributes are all we read, so no XML parser (and no entity tricks) runs.
SVG_TAG = re.compile(rb"<svg\b([^>]*)>")
ATTRIBUTE = re.compile(r"""\b([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
LENGTH = re.compile(r"\s*([0-9.]+)\s*(px)?\s*")

log = logging.getLogger("passes.badges")


class BadArtwork(Exception):
    """A badge file that cannot be served as an SVG image."""


@dataclass(frozen=True)
class Badge:
    """One official badge for one wallet and language, held in memory."""

    wallet: str
    language: str
    svg: bytes
    width: float
    height: float
    origin: str

    @property
    def name(self) -> str:
        """The file name operators use and the pages serve: add-to-apple-wallet-de.svg."""
        return badge_name(self.wallet, self.language)

    @cached_property
    def url(self) -> str:
        """Where the pages load it; the digest changes when the artwork does."""
        digest = hashlib.sha256(self.svg).hexdigest()[:12]
        return f"/badges/{self.name}?v={digest}"

    @property
    def ratio(self) -> float:
        """Width over height, kept whatever height the page draws it at."""
        return self.width / self.height


def badge_name(wallet: str, language: str) -> str:
    """`add-to-{wallet}-wallet-{language}.svg`."""
    return f"add-to-{wallet}-wallet-{language}.svg"


def read_badge(wallet: str, language: str, path: Path, origin: str) -> Badge:
    """The SVG at `path` with its size; BadArtwork when it is not a plain SVG image."""
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise BadArtwork(f"{path}: {len(data)} bytes, more than a badge ({MAX_BYTES})")
    if ACTIVE_CONTENT.search(data):
        raise BadArtwork(f"{path}: contains scripts or event handlers; use the artwork as shipped")
    tag = SVG_TAG.search(data)
    if tag is None:
        raise BadArtwork(f"{path}: not an SVG file (no <svg> element)")
    attributes = {
        name: double or single
        for name, double, single in ATTRIBUTE.findall(tag.group(1).decode("utf-8", "replace"))
    }
    width, height = _size(attributes)
    if width is None or height is None or width <= 0 or height <= 0:
        raise BadArtwork(f"{path}: SVG without a usable width/height or viewBox")
    return Badge(wallet, language, data, width, height, origin)


def _size(attributes: dict[str, str]) -> tuple[float | None, float | None]:
    """The artwork's width and height: from viewBox, else from width/height in px."""
    box = attributes.get("viewBox", "").replace(",", " ").split()
    if len(box) == 4:
        try:
            return float(box[2]), float(box[3])
        except ValueError:
            pass
    return _length(attributes.get("width")), _length(attributes.get("height"))


def _length(value: str | None) -> float | None:
    match = LENGTH.fullmatch(value or "")
    return float(match.group(1)) if match else None


@dataclass(frozen=True)
class Source:
    """A folder of badge artwork: the operator's (our file names) or the package's."""

    origin: str
    directory: Path
    # The package files its artwork as {wallet}/{language}.svg.
    nested: bool = False

    def path(self, wallet: str, language: str) -> Path:
        """Where this source keeps the badge for `wallet` in `language`."""
        if self.nested:
            return self.directory / wallet / f"{language}.svg"
        return self.directory / badge_name(wallet, language)


class Badges:
    """The badges in use, found once at start-up, and the route that serves them."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self.found: dict[tuple[str, str], Badge] = {}
        for wallet in WALLETS:
            for language in LANGUAGES:
                badge = self._find(wallet, language)
                if badge is not None:
                    self.found[(wallet, language)] = badge
        self.by_name = {badge.name: badge for badge in self.found.values()}

    @classmethod
    def from_settings(cls, settings: Settings) -> Badges:
        """The operator's `{certs dir}/badges/` first, then the npm package's artwork."""
        return cls(
            [
                Source("operator", settings.certs_dir / "badges"),
                Source("package", settings.packaged_badges_dir, nested=True),
            ]
        )

    def _find(self, wallet: str, language: str) -> Badge | None:
        for source in self.sources:
            path = source.path(wallet, language)
            if not path.is_file():
                continue
            try:
                return read_badge(wallet, language, path, source.origin)
            except BadArtwork as exc:
                log.warning("badge not used: %s", exc)
        return None

    def badge(self, wallet: str, language: str) -> Badge | None:
        """The official badge for this wallet in this language (else English); None: draw ours."""
        return self.found.get((wallet, language)) or self.found.get((wallet, "en"))

    def summary(self) -> str:
        """One line for the start-up log: where each badge comes from."""
        parts = []
        for wallet in WALLETS:
            for language in LANGUAGES:
                badge = self.found.get((wallet, language))
                parts.append(f"{wallet}-{language}: {badge.origin if badge else 'drawn fallback'}")
        return "wallet badges: " + ", ".join(parts)

    def log_sources(self) -> None:
        """Say at start-up where the badges come from, and what to do about drawn ones."""
        if len(self.found) == len(WALLETS) * len(LANGUAGES):
            log.info("%s", self.summary())
            return
        log.warning(
            "%s; the pages show our drawn badges instead of Apple's and Google's: "
            "run `npm ci` in passes/web, or put their artwork into %s (see certs.example/README.md)",
            self.summary(),
            self.sources[0].directory,
        )

    def routes(self) -> list[Route]:
        """`GET /badges/{name}`."""
        return [Route("/badges/{name}", self.serve, methods=["GET"])]

    async def serve(self, request: Request) -> Response:
        badge = self.by_name.get(request.path_params["name"])
        if badge is None:
            return PlainTextResponse("no such badge", status_code=404)
        return Response(badge.svg, media_type="image/svg+xml", headers=SVG_HEADERS)
