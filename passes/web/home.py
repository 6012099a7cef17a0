"""The root page, which tells a visitor where they are, and the site's favicon.

Shops are not listed unless the operator opts in (PASSES_LIST_SHOPS): on a server hosting
several shops, their names are theirs to publish. The operator's own list, with every shop's
join, staff and dashboard links, is `passes shop list`.
"""

from __future__ import annotations

import io
from functools import cached_property
from pathlib import Path

from PIL import Image
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from passes.links import shop_links
from passes.web.site import Site

FAVICON_SIZES = [(16, 16), (32, 32), (48, 48)]
DAY = 86400


class HomePage:
    """`/` and `/favicon.ico`."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.settings = site.settings

    def routes(self) -> list[Route]:
        """The root page and the favicon."""
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/favicon.ico", self.favicon, methods=["GET"]),
        ]

    async def page(self, request: Request) -> Response:
        shops = []
        if self.settings.list_shops:
            base = self.settings.base_url
            shops = [
                (summary.name, shop_links(base, summary.slug)["join"])
                for summary in await self.site.service.shops.shops()
            ]
        return self.site.render(request, "home.html", shop=None, shops=shops)

    async def favicon(self, request: Request) -> Response:
        headers = {"Cache-Control": f"public, max-age={DAY}"}
        return Response(self._icon, media_type="image/x-icon", headers=headers)

    @cached_property
    def _icon(self) -> bytes:
        """The pass icon (assets/icon.png, the operator's if replaced) as an ICO file."""
        return favicon_bytes(self.settings.assets_dir / "icon.png")


def favicon_bytes(icon: Path) -> bytes:
    """An ICO of `icon` at the sizes browsers ask for."""
    out = io.BytesIO()
    with Image.open(icon) as image:
        image.convert("RGBA").save(out, format="ICO", sizes=FAVICON_SIZES)
    return out.getvalue()
