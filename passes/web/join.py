"""The join page behind the counter QR code, and the printable counter poster."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from passes.cards import CardView
from passes.errors import NotFound
from passes.inputs import storable
from passes.ratelimit import RateLimiter
from passes.store.shops import ShopRow
from passes.texts import counted, text
from passes.web.poster import PosterText, poster_png, poster_svg
from passes.web.qr import qr_svg
from passes.web.site import Site

CARD_COOKIE = "passes_card"
# A café's Wi-Fi puts many customers behind one address: allow a queue of them, not thousands.
JOIN_RATE = 1 / 30
JOIN_BURST = 20
TWO_YEARS = 2 * 365 * 24 * 3600
# A referral carries the recommending card's serial; anything else is dropped, not an error.
REFERRAL = re.compile(r"[0-9A-Za-z-]{1,32}")


def referral(value: str | None) -> str | None:
    """The `ref` a join link or form carries, when it looks like a serial."""
    return value if value and REFERRAL.fullmatch(value) else None


class JoinPages:
    """`/join/{shop}`: the offer and the wallet buttons; `/join/{shop}/poster(.png)`."""

    def __init__(self, site: Site, limiter: RateLimiter | None = None) -> None:
        self.site = site
        self.service = site.service
        self.limiter = limiter or RateLimiter(JOIN_RATE, JOIN_BURST)

    def routes(self) -> list[Route]:
        """The join and poster routes."""
        return [
            Route("/join/{shop}", self.page, methods=["GET"]),
            Route("/join/{shop}", self.join, methods=["POST"]),
            Route("/join/{shop}/poster", self.poster, methods=["GET"]),
            Route("/join/{shop}/poster.png", self.poster_png, methods=["GET"]),
        ]

    def join_url(self, shop: ShopRow) -> str:
        """The address the counter QR code carries."""
        return f"{self.site.settings.base_url}/join/{shop.slug}"

    @property
    def google_enabled(self) -> bool:
        """Google Wallet is configured on this server."""
        return getattr(self.service, "google", None) is not None

    async def page(self, request: Request) -> Response:
        shop = await self.site.shop(request)
        if shop is None:
            return self.site.no_shop(request)
        mine = await self._my_card(request, shop)
        return self.site.render(
            request,
            "join.html",
            shop=shop,
            mine=mine,
            google=self.google_enabled,
            qr=qr_svg(self.join_url(shop), "QR"),
            ref=None if mine else referral(request.query_params.get("ref")),
        )

    async def join(self, request: Request) -> Response:
        shop = await self.site.shop(request)
        if shop is None:
            return self.site.no_shop(request)
        fields = await self.site.form(request)
        if fields is None:
            return self.site.message(request, 403, "form_expired")
        view = await self._my_card(request, shop)
        if view is None:
            client = request.client.host if request.client else "unknown"
            if not self.limiter.allow(client):
                return self.site.message(request, 429, "rate_limited")
            ref = referral(fields.get("ref"))
            view = await self.service.issuing.issue_card(shop, "join", referrer=ref)
        response = self._hand_over(request, view, fields.get("wallet", "apple"))
        response.set_cookie(
            CARD_COOKIE,
            view.card.page_secret,
            max_age=TWO_YEARS,
            path=f"/join/{shop.slug}",
            secure=self.site.secure,
            httponly=True,
            samesite="lax",
        )
        return response

    def _hand_over(self, request: Request, view: CardView, wallet: str) -> Response:
        """Apple: straight to the pass file. Google: via a page, since the CSP's form-action
        'self' forbids a form's redirect to another origin."""
        google = view.urls.get("google")
        if wallet == "google" and google:
            return self.site.render(request, "handover.html", shop=view.shop, href=google)
        target = view.urls["apple"] if wallet == "apple" else view.urls["card"]
        return RedirectResponse(str(target), status_code=303)

    async def _my_card(self, request: Request, shop: ShopRow) -> CardView | None:
        """The card this browser got here before, so a second tap adds the same card."""
        secret = request.cookies.get(CARD_COOKIE)
        # A quoted cookie may spell any character ("\\000"): only text a database keeps is looked up.
        if not secret or not storable(secret):
            return None
        try:
            view = await self.service.cards.card_by_secret(secret)
        except NotFound:
            return None
        return view if view.shop.id == shop.id else None

    def _poster_words(self, request: Request, shop: ShopRow) -> PosterText:
        """What the poster says (the page and the PNG alike), in the visitor's language."""
        lang = self.site.language(request)
        program = shop.program
        return PosterText(
            shop=shop.name,
            offer=counted("offer", program.stamps_required, lang).format(
                stamps=program.stamps_required, reward=program.reward
            ),
            scan=text("poster_scan", lang),
            small=text("poster_small", lang),
            url=self.join_url(shop),
        )

    async def poster(self, request: Request) -> Response:
        shop = await self.site.shop(request)
        if shop is None:
            return self.site.no_shop(request)
        program = shop.program
        words = self._poster_words(request, shop)
        sheet = poster_svg(words, program.background_color, program.label_color)
        return self.site.render(request, "poster.html", shop=shop, sheet=sheet)

    async def poster_png(self, request: Request) -> Response:
        shop = await self.site.shop(request)
        if shop is None:
            return self.site.no_shop(request)
        program = shop.program
        words = self._poster_words(request, shop)
        data = poster_png(words, program.background_color, program.label_color)
        return Response(
            data,
            media_type="image/png",
            headers={"Content-Disposition": f'inline; filename="{shop.slug}-poster.png"'},
        )
