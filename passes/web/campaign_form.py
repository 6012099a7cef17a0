"""The dashboard's campaign form: preview who a message reaches, then send it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from passes import loyalty
from passes.campaigns import Campaigns
from passes.errors import InvalidInput
from passes.web.dashboard import DashboardPages


class CampaignForm:
    """`POST /dashboard/{shop}/campaigns`: action "preview" shows the counts, "send" sends."""

    def __init__(self, dashboard: DashboardPages, campaigns: Campaigns) -> None:
        self.dashboard = dashboard
        self.site = dashboard.site
        self.campaigns = campaigns

    def routes(self) -> list[Route]:
        """The form's one route."""
        return [Route("/dashboard/{shop}/campaigns", self.submit, methods=["POST"])]

    async def submit(self, request: Request) -> Response:
        shop = await self.dashboard.owner(request)
        fields = await self.site.form(request)
        if shop is None or fields is None:
            return self.site.message(request, 403, "form_expired")
        draft = {"segment": fields.get("segment", ""), "text": fields.get("text", "")}
        t = self.site.translator(request)
        if draft["segment"] not in loyalty.SEGMENTS:
            error = t("campaign_invalid_segment")
            return await self.dashboard.show(request, shop, 422, draft=draft, campaign_error=error)
        try:
            if fields.get("action") == "send":
                campaign_id, _ = await self.campaigns.send(shop, draft["text"], draft["segment"])
                target = f"/dashboard/{shop.slug}?sent={campaign_id}#campaigns"
                return RedirectResponse(target, status_code=303)
            audience = await self.campaigns.audience(shop, draft["segment"])
        except InvalidInput:
            error = t("campaign_invalid_text")
            return await self.dashboard.show(request, shop, 422, draft=draft, campaign_error=error)
        preview = {
            "recipients": len(audience.recipients),
            "held_out": len(audience.held_out),
            "over_limit": len(audience.over_limit),
        }
        return await self.dashboard.show(request, shop, draft=draft, preview=preview)
