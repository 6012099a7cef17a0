"""Every page route, built from one Service and the Apple wallet."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from passes.apple.wallet import AppleWallet
from passes.campaigns import Campaigns
from passes.counter_codes import CounterCodes
from passes.design import ShopLogos
from passes.feedback import FeedbackBox
from passes.service import Service
from passes.staff import StaffPins
from passes.web.birthday_form import BirthdayForm
from passes.web.campaign_form import CampaignForm
from passes.web.card_cookie import CardCookie
from passes.web.counter import CounterPages
from passes.web.counter_scan import CounterScan
from passes.web.dashboard import DashboardPages
from passes.web.designer import DesignForm
from passes.web.feedback import FeedbackPages
from passes.web.home import HomePage
from passes.web.import_form import ImportForm
from passes.web.join import JoinPages
from passes.web.pages import CardPages
from passes.web.people_form import PeopleForm
from passes.web.program_form import ProgramForm
from passes.web.review import ReviewPages
from passes.web.session import load_secret
from passes.web.site import Site
from passes.web.staff import StaffPages
from passes.web.webhook_form import WebhookForm

JSQR = Path(__file__).resolve().parent / "node_modules" / "jsqr" / "dist" / "jsQR.js"


def web_routes(
    service: Service,
    wallet: AppleWallet,
    campaigns: Campaigns,
    logos: ShopLogos | None = None,
) -> list[BaseRoute]:
    """Card, feedback, join, poster, staff and dashboard pages, and the locally served QR decoder."""
    logos = logos or ShopLogos(service.store)
    site = Site(service)
    site.badges.log_sources()
    pins = StaffPins(service.store)
    feedback = FeedbackBox(service.store)
    dashboard = DashboardPages(site, pins, campaigns, feedback)
    codes = CounterCodes(load_secret(service.settings.certs_dir))
    return [
        *CardPages(site, wallet).routes(),
        *FeedbackPages(site, feedback).routes(),
        *BirthdayForm(site).routes(),
        *JoinPages(site).routes(),
        *StaffPages(site, pins).routes(),
        *CounterPages(site, pins, codes).routes(),
        *CounterScan(site, codes, CardCookie.from_settings(service.settings)).routes(),
        *dashboard.routes(),
        *CampaignForm(dashboard, campaigns).routes(),
        *ProgramForm(dashboard).routes(),
        *DesignForm(dashboard, logos).routes(),
        *ImportForm(dashboard).routes(),
        *WebhookForm(dashboard).routes(),
        *PeopleForm(dashboard).routes(),
        *ReviewPages(dashboard).routes(),
        *site.badges.routes(),
        *HomePage(site).routes(),
        Route("/vendor/jsqr.js", _jsqr, methods=["GET"]),
    ]


async def _jsqr(request: Request) -> Response:
    """jsQR from npm (Apache-2.0), for browsers without BarcodeDetector; never from a CDN."""
    if not JSQR.is_file():
        return PlainTextResponse(
            "jsQR is not installed: run `npm ci` in passes/web", status_code=404
        )
    return FileResponse(
        JSQR, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
    )
