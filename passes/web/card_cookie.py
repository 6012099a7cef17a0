"""The cookie by which a phone's browser names its card to the counter page.

The card page sets it; a code scanned from a counter screen then stamps that card. It is
signed (a key of its own, derived from the site's secret), HttpOnly, scoped to the shop's
counter paths, and SameSite=Lax: a phone's camera app opens the scanned link as a top-level
navigation from outside the site, which a Strict cookie would not be sent with.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from passes.config import Settings
from passes.web.session import load_secret

CARD_COOKIE = "passes_card"
# Chromium keeps a cookie at most 400 days; a visit to the card page renews it.
CARD_COOKIE_SECONDS = 400 * 24 * 3600


@dataclass(frozen=True)
class KnownCard:
    """The card a phone named: its shop and serial."""

    shop_id: int
    serial: str


def counter_path(slug: str) -> str:
    """The shop's counter pages, where the card cookie goes along."""
    return f"/counter/{slug}"


class CardCookie:
    """Writing and reading the card cookie."""

    def __init__(self, secret: bytes, *, secure: bool) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="passes.counter-card")
        self.secure = secure

    @classmethod
    def from_settings(cls, settings: Settings) -> CardCookie:
        """Signed with the site's session secret (certs dir), under its own salt."""
        secure = settings.base_url.startswith("https://")
        return cls(load_secret(settings.certs_dir), secure=secure)

    def write(self, response: Response, slug: str, card: KnownCard) -> None:
        """Name `card` to the shop's counter pages (replacing the card named before)."""
        token = self.serializer.dumps({"shop": card.shop_id, "serial": card.serial})
        response.set_cookie(
            CARD_COOKIE,
            token,
            max_age=CARD_COOKIE_SECONDS,
            path=counter_path(slug),
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def read(self, request: Request) -> KnownCard | None:
        """The card this browser named, or None (none, tampered with, too old)."""
        raw = request.cookies.get(CARD_COOKIE)
        if raw is None:
            return None
        try:
            value = self.serializer.loads(raw, max_age=CARD_COOKIE_SECONDS)
        except BadSignature:
            return None
        if not isinstance(value, dict):
            return None
        shop, serial = value.get("shop"), value.get("serial")
        if not isinstance(shop, int) or not isinstance(serial, str):
            return None
        return KnownCard(shop, serial)
