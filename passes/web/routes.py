"""Every page route, built from one Service and the Apple wallet."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from passes.apple.wallet import AppleWallet
from passes.service import Service
from passes.staff import StaffPins
from passes.web.dashboard import DashboardPages
from passes.web.join import JoinPages
from passes.web.pages import CardPages
from passes.web.site import Site
from passes.web.staff import StaffPages

JSQR = Path(__file__).resolve().parent / "node_modules" / "jsqr" / "dist" / "jsQR.js"


def web_routes(service: Service, wallet: AppleWallet) -> list[BaseRoute]:
    """Card, join, poster, staff and dashboard pages, and the locally served QR decoder."""
    site = Site(service)
    pins = StaffPins(service.store)
    return [
        *CardPages(site, wallet).routes(),
        *JoinPages(site).routes(),
        *StaffPages(site, pins).routes(),
        *DashboardPages(site, pins).routes(),
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
