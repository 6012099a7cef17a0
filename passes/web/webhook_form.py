"""The dashboard's webhooks: add an endpoint (its secret shown on the answer, this once),
remove one, resume a paused one. The same service calls as `/api/v1/webhooks`. For the API
key's holder only: a manager's session gets a 403 page here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from passes.errors import InvalidInput, NotFound
from passes.inputs import whole_number
from passes.store.shops import ShopRow
from passes.text_keys import N_
from passes.webhook_events import EVENT_TYPES

if TYPE_CHECKING:
    from passes.web.dashboard import DashboardPages

# A ticked event's field: forms are read into a dict, so each box needs a name of its own.
EVENT_FIELD = "event_"
# What the remove and resume forms' answers say (?webhook=...), in the section's notice.
OUTCOMES = {
    "removed": N_("webhook_removed"),
    "resumed": N_("webhook_resumed"),
    "gone": N_("webhook_gone"),
}


def new_draft() -> dict[str, object]:
    """The empty add form: every event ticked."""
    return {"url": "", "events": EVENT_TYPES}


class WebhookForm:
    """`POST /dashboard/{shop}/webhooks` adds; `…/webhooks/remove` and `…/resume` take an id."""

    def __init__(self, dashboard: DashboardPages) -> None:
        self.dashboard = dashboard
        self.site = dashboard.site
        self.webhooks = dashboard.service.webhooks

    def routes(self) -> list[Route]:
        """The form's routes."""
        under = "/dashboard/{shop}/webhooks"
        return [
            Route(under, self.add, methods=["POST"]),
            Route(f"{under}/remove", self.remove, methods=["POST"]),
            Route(f"{under}/resume", self.resume, methods=["POST"]),
        ]

    async def add(self, request: Request) -> Response:
        if (refused := await self.dashboard.manager_refused(request)) is not None:
            return refused
        shop = await self.dashboard.owner(request)
        fields = await self.site.form(request)
        if shop is None or fields is None:
            return self.site.message(request, 403, "form_expired")
        events = tuple(e for e in EVENT_TYPES if fields.get(EVENT_FIELD + e) == "1")
        draft = {"url": fields.get("url", "").strip(), "events": events}
        t = self.site.translator(request)
        try:
            _, secret = await self.webhooks.add(shop, str(draft["url"]), events)
        except InvalidInput as exc:
            said = t("webhook_refused").format(reason=str(exc))
            return await self.dashboard.show(
                request, shop, 422, webhook_draft=draft, webhook_error=said
            )
        # Shown on this answer, never in a URL or a later page: no redirect.
        return await self.dashboard.show(
            request,
            shop,
            201,
            webhook_secret=secret,
            notice=t("webhook_added"),
            notice_at="webhooks",
        )

    async def remove(self, request: Request) -> Response:
        return await self._change(request, "removed")

    async def resume(self, request: Request) -> Response:
        return await self._change(request, "resumed")

    async def _change(self, request: Request, outcome: str) -> Response:
        if (refused := await self.dashboard.manager_refused(request)) is not None:
            return refused
        shop = await self.dashboard.owner(request)
        fields = await self.site.form(request)
        if shop is None or fields is None:
            return self.site.message(request, 403, "form_expired")
        endpoint_id = whole_number(fields.get("id", ""), 18)
        try:
            if endpoint_id is None:
                raise NotFound("no such webhook endpoint")
            if outcome == "removed":
                await self.webhooks.remove(shop, endpoint_id)
            else:
                await self.webhooks.resume(shop, endpoint_id)
        except NotFound:
            outcome = "gone"
        return _back(shop, outcome)


def webhook_notice(request: Request) -> str | None:
    """The text key of what the remove or resume form did, from the redirect's query."""
    return OUTCOMES.get(request.query_params.get("webhook", ""))


def _back(shop: ShopRow, outcome: str) -> Response:
    return RedirectResponse(f"/dashboard/{shop.slug}?webhook={outcome}#webhooks", status_code=303)
