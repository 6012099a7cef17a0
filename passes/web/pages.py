"""Customer pages: the card page and the pass file behind it."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from passes.apple.wallet import AppleWallet
from passes.card_facts import CardFacts
from passes.cards import CardView
from passes.errors import NotFound
from passes.feedback import FeedbackBox
from passes.render import StripStyle
from passes.store.counter import has_counter
from passes.store.shops import ProgramRow
from passes.texts import counted, local_date
from passes.web.birthday_form import birthday_view
from passes.web.card_cookie import CardCookie, KnownCard
from passes.web.qr import qr_svg
from passes.web.site import Site

PKPASS = "application/vnd.apple.pkpass"
PER_ROW = 5
# urls.apple: the pass file behind the card page.
PKPASS_FILE_ROUTE = "/c/{secret}/pass.pkpass"


def stamps_svg(program: ProgramRow, stamps: int, label: str) -> Markup:
    """The card's stamps as a picture: filled and empty circles in rows of five."""
    required = program.stamps_required
    rows = -(-required // PER_ROW)
    width, height = PER_ROW * 60, rows * 60
    parts = [
        f'<svg class="stamps" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">',
        f'<rect width="{width}" height="{height}" rx="14" fill="{program.background_color}"/>',
    ]
    for index in range(required):
        cx, cy = 30 + (index % PER_ROW) * 60, 30 + (index // PER_ROW) * 60
        filled = index < stamps
        fill = program.stamp_color if filled else "none"
        parts.append(
            f'<circle cx="{cx}" cy="{cy}" r="21" fill="{fill}" stroke="{program.stamp_color}" '
            'stroke-width="3"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - validated colours and numbers, escaped label


class CardPages:
    """The card page (`urls.card`) and its pass file (`urls.apple`)."""

    def __init__(self, site: Site, wallet: AppleWallet) -> None:
        self.site = site
        self.service = site.service
        self.wallet = wallet
        # Names the card to the shop's counter pages (web/counter_scan.py) on this phone.
        self.card_cookie = CardCookie.from_settings(site.settings)

    def referral_url(self, view: CardView) -> str:
        """The join page with this card as the recommender."""
        return f"{self.site.settings.base_url}/join/{view.shop.slug}?ref={view.card.serial}"

    def routes(self) -> list[Route]:
        """Routes under /c/{secret}."""
        return [
            Route("/c/{secret}", self.card_page, methods=["GET"]),
            Route(PKPASS_FILE_ROUTE, self.pass_file, methods=["GET"]),
            Route("/c/{secret}/strip.png", self.strip, methods=["GET"]),
        ]

    async def card_page(self, request: Request) -> Response:
        try:
            view = await self.service.cards.card_by_secret(request.path_params["secret"])
        except NotFound:
            return self.site.message(request, 404, "page_not_found")
        t = self.site.translator(request)
        program = view.shop.program
        facts = CardFacts.of(program, view.card)
        language = self.site.language(request)
        required = facts.stamps_required
        label = counted("page_stamps", required, language).format(
            stamps=facts.stamps, required=required
        )
        dates = {
            key: local_date(moment, language)
            for key, moment in (
                ("stamps_expire_on", facts.stamps_expire_on),
                ("reward_expires_on", facts.reward_expires_on),
            )
            if moment is not None
        }
        async with self.service.store.reading() as conn:
            counter = await has_counter(conn, view.shop.id, datetime.now(UTC))
        response = self.site.render(
            request,
            "card.html",
            shop=view.shop,
            card=view.card,
            urls=view.urls,
            label=label,
            picture=stamps_svg(program, facts.stamps, label),
            qr=qr_svg(view.card.serial, view.card.serial),
            share_url=self.referral_url(view),
            share_message=t("share_message").format(
                shop=view.shop.name,
                offer=counted("offer", required, language).format(
                    stamps=required, reward=facts.reward
                ),
            ),
            feedback=FeedbackBox.may_answer(view.card),
            counter=counter,
            lines=facts.lines,
            upcoming=facts.next_reward,
            dates=dates,
            birthday=await birthday_view(
                self.service, view, language, request.query_params.get("birthday")
            ),
        )
        self.card_cookie.write(response, view.shop.slug, KnownCard(view.shop.id, view.card.serial))
        return response

    async def pass_file(self, request: Request) -> Response:
        """The signed pass (urls.apple): card, shop and places read in one round trip."""
        found = await self.service.store.passes.by_secret(request.path_params["secret"])
        if found is None:
            raise NotFound("no such card")
        card = await self.service.cards.fresh_card(found.shop, found.card)
        card_url = self.site.settings.card_page_url(card.page_secret)
        data = await self.wallet.pass_file(found.shop, card, card_url, found.places)
        return Response(
            data,
            media_type=PKPASS,
            headers={
                "Content-Disposition": f'attachment; filename="{found.shop.slug}.pkpass"',
                "Cache-Control": "no-store",
            },
        )

    async def strip(self, request: Request) -> Response:
        view = await self.service.cards.card_by_secret(request.path_params["secret"])
        program = view.shop.program
        style = StripStyle.of(program)
        image = self.wallet.artwork.strip_image(style, view.card.counters.stamps, 2)
        return Response(image, media_type="image/png", headers={"Cache-Control": "no-cache"})
