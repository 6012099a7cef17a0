"""Customer pages: the card page and the pass file behind it."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from passes.apple.wallet import AppleWallet
from passes.errors import NotFound
from passes.render import StripStyle
from passes.service import Service
from passes.texts import pick_language, text

TEMPLATES = Path(__file__).resolve().parent / "templates"
PKPASS = "application/vnd.apple.pkpass"


class CardPages:
    """The card page (`urls.card`) and its pass file (`urls.apple`)."""

    def __init__(self, service: Service, wallet: AppleWallet) -> None:
        self.service = service
        self.wallet = wallet
        self.templates = Jinja2Templates(directory=str(TEMPLATES))

    def routes(self) -> list[Route]:
        """Routes under /c/{secret}."""
        return [
            Route("/c/{secret}", self.card_page, methods=["GET"]),
            Route("/c/{secret}/pass.pkpass", self.pass_file, methods=["GET"]),
            Route("/c/{secret}/strip.png", self.strip, methods=["GET"]),
        ]

    def _render(
        self, request: Request, name: str, status: int = 200, **context: object
    ) -> Response:
        lang = pick_language(
            request.headers.get("accept-language", ""), request.query_params.get("lang")
        )
        context |= {"lang": lang, "t": lambda key: text(key, lang)}
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    async def card_page(self, request: Request) -> Response:
        try:
            view = await self.service.card_by_secret(request.path_params["secret"])
        except NotFound:
            return self._render(request, "not_found.html", 404, shop={"name": ""})
        return self._render(
            request,
            "card.html",
            shop=view.shop,
            card=view.card,
            card_path=f"/c/{view.card.page_secret}",
        )

    async def pass_file(self, request: Request) -> Response:
        view = await self.service.card_by_secret(request.path_params["secret"])
        data = self.wallet.pass_file(view.shop, view.card, str(view.urls["card"]))
        return Response(
            data,
            media_type=PKPASS,
            headers={
                "Content-Disposition": f'attachment; filename="{view.shop.slug}.pkpass"',
                "Cache-Control": "no-store",
            },
        )

    async def strip(self, request: Request) -> Response:
        view = await self.service.card_by_secret(request.path_params["secret"])
        program = view.shop.program
        style = StripStyle(program.background_color, program.stamp_color, program.stamps_required)
        images = self.wallet.artwork.strip(style, view.card.counters.stamps)
        return Response(
            images["strip@2x.png"], media_type="image/png", headers={"Cache-Control": "no-cache"}
        )
