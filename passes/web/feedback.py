"""The one-question feedback page a pass links to after a redemption: 1–5 stars, a few words."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from passes.cards import CardView
from passes.errors import InvalidInput, NotFound
from passes.feedback import FeedbackBox, check_answer
from passes.web.site import Site


class FeedbackPages:
    """`/c/{secret}/feedback`: the question (GET) and the answer (POST, with CSRF token)."""

    def __init__(self, site: Site, box: FeedbackBox) -> None:
        self.site = site
        self.service = site.service
        self.box = box

    def routes(self) -> list[Route]:
        """The feedback page's routes."""
        path = "/c/{secret}/feedback"
        return [
            Route(path, self.page, methods=["GET"]),
            Route(path, self.answer, methods=["POST"]),
        ]

    async def _card(self, request: Request) -> CardView | None:
        try:
            return await self.service.cards.card_by_secret(request.path_params["secret"])
        except NotFound:
            return None

    async def page(self, request: Request) -> Response:
        view = await self._card(request)
        if view is None:
            return self.site.message(request, 404, "page_not_found")
        if not self.box.may_answer(view.card):
            return self._said(request, view, "feedback_not_yet")
        if await self.box.answered(view.card):
            return self._said(request, view, "feedback_done")
        return self._form(request, view)

    async def answer(self, request: Request) -> Response:
        view = await self._card(request)
        if view is None:
            return self.site.message(request, 404, "page_not_found")
        fields = await self.site.form(request)
        if fields is None:
            return self.site.message(request, 403, "form_expired")
        if not self.box.may_answer(view.card):
            return self._said(request, view, "feedback_not_yet", 409)
        stars, words = fields.get("stars", ""), fields.get("text", "")
        try:
            check_answer(stars, words)
        except InvalidInput:
            key = "feedback_stars_missing" if not _stars_ok(stars) else "feedback_too_long"
            return self._form(request, view, 422, error=key, text=words)
        stored = await self.box.give(view.card, stars, words)
        return self._said(request, view, "feedback_thanks" if stored else "feedback_done")

    def _form(self, request: Request, view: CardView, status: int = 200, **extra: str) -> Response:
        return self.site.render(
            request, "feedback.html", status, shop=view.shop, card=view.card, **extra
        )

    def _said(self, request: Request, view: CardView, key: str, status: int = 200) -> Response:
        return self.site.render(
            request, "feedback.html", status, shop=view.shop, card=view.card, said=key
        )


def _stars_ok(stars: str) -> bool:
    try:
        check_answer(stars, "")
    except InvalidInput:
        return False
    return True
