"""The dashboard's campaign form: preview who a message reaches, then send it."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from passes import campaign_rules, loyalty
from passes.campaigns import Campaigns, PromotionRequest, counts, nobody_reason
from passes.errors import FAILURES, InvalidInput
from passes.store.shops import ShopRow
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
        draft = {
            name: fields.get(name, "")
            for name in ("segment", "text", "multiplier", "starts_at", "ends_at")
        }
        t = self.site.translator(request)
        if draft["segment"] not in campaign_rules.SEGMENTS:
            error = t("campaign_invalid_segment")
            return await self.dashboard.show(request, shop, 422, draft=draft, campaign_error=error)
        try:
            promotion = parse_promotion(draft)
        except InvalidInput:
            error = t("promotion_invalid")
            return await self.dashboard.show(request, shop, 422, draft=draft, campaign_error=error)
        sending = fields.get("action") == "send"
        try:
            if sending:
                self.campaigns.check(draft["text"], promotion=promotion)
            # Sending to nobody needs a tick on the form: it is asked, with the reason shown.
            if sending and fields.get("confirm_nobody") == "1":
                return await self._send(shop, draft, promotion)
            preview = await self._preview(request, shop, draft["segment"])
            if sending and preview["recipients"]:
                return await self._send(shop, draft, promotion)
        except FAILURES:
            # The text is checked first: with a good text, the promotion was refused.
            promotion_fault = promotion is not None and _good_text(draft["text"])
            error = t("promotion_invalid") if promotion_fault else t("campaign_invalid_text")
            return await self.dashboard.show(request, shop, 422, draft=draft, campaign_error=error)
        if sending:
            error = t("nobody_confirm_needed")
            return await self.dashboard.show(
                request, shop, 409, draft=draft, preview=preview, campaign_error=error
            )
        return await self.dashboard.show(request, shop, draft=draft, preview=preview)

    async def _send(
        self, shop: ShopRow, draft: dict[str, str], promotion: PromotionRequest | None
    ) -> Response:
        campaign_id, _ = await self.campaigns.send(
            shop, draft["text"], draft["segment"], promotion=promotion
        )
        target = f"/dashboard/{shop.slug}?sent={campaign_id}#campaigns"
        return RedirectResponse(target, status_code=303)

    async def _preview(self, request: Request, shop: ShopRow, segment: str) -> dict[str, object]:
        """Who the message would reach now; for nobody, why."""
        audience = await self.campaigns.audience(shop, segment)
        google = await self.campaigns.google_reach(shop, audience.recipients)
        figures = counts(segment, audience)
        language = self.site.language(request)
        return {
            **figures,
            "google_notified": google.notified,
            "google_silent": google.silent,
            "nobody": None if audience.recipients else nobody_reason(figures, shop, language),
        }


# What the form's <input type="datetime-local"> sends; read in the server's time zone.
LOCAL_INPUT = "%Y-%m-%dT%H:%M"
MULTIPLIERS = ("2", "3")


def parse_promotion(draft: dict[str, str]) -> PromotionRequest | None:
    """The form's promotion (multiplier, from, until), or None for a plain message."""
    if not draft["multiplier"]:
        return None
    if draft["multiplier"] not in MULTIPLIERS:
        raise InvalidInput("unknown multiplier")
    return PromotionRequest(
        int(draft["multiplier"]), _local(draft["starts_at"]), _local(draft["ends_at"])
    )


def _local(value: str) -> datetime | None:
    if not value.strip():
        return None
    try:
        return datetime.strptime(value.strip(), LOCAL_INPUT).astimezone()
    except ValueError as exc:
        raise InvalidInput("times look like 2026-12-05T09:00") from exc


def _good_text(text: str) -> bool:
    try:
        campaign_rules.check_message(text)
    except loyalty.Refused:
        return False
    return True
