"""The dashboard's card designer: logo upload, colours and stamp symbol, with a live preview of
the Apple pass's front and the Google card (static/designer.js keeps it in step with the
inputs); saving refreshes every pass in a wallet (passes/design.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from passes.design import ShopLogos, change_design
from passes.google.images import hero_path, logo_path, program_logo_path, strip_path
from passes.http import HttpError
from passes.logos import MAX_LOGO_BYTES, LogoRefused
from passes.program import DEFAULT_COLOURS, BadSetting, LowContrast, ProgramChange, check_colour
from passes.render import StripStyle
from passes.stamp_symbols import SYMBOLS
from passes.store.shops import ShopRow

if TYPE_CHECKING:
    from passes.web.dashboard import DashboardPages

# The multipart form around the file: the fields and the parts' headers.
UPLOAD_LIMIT = MAX_LOGO_BYTES + 64 * 1024


def design_view(shop: ShopRow, draft: dict[str, str] | None = None) -> dict[str, object]:
    """What the designer shows: the colours and symbol (as saved, or as typed when refused),
    the preview's pictures, and what the script needs to redraw them."""
    program = shop.program
    colours = {key: check_colour(key, getattr(program, key)) for key in DEFAULT_COLOURS}
    symbol = program.stamp_symbol
    if draft is not None:
        colours |= {key: draft[key] for key in DEFAULT_COLOURS if key in draft}
        symbol = draft.get("stamp_symbol", symbol)
    count = max(1, program.stamps_required // 2)
    shown = _style(shop, colours, symbol)
    digest = program.logo_digest
    return {
        "colours": colours,
        "symbol": symbol,
        "has_logo": digest is not None,
        "logo_url": logo_path(digest),
        "google_logo_url": program_logo_path(program.background_color, digest),
        "strip_url": strip_path(shown, count) if shown else "",
        "hero_url": hero_path(shown, count) if shown else "",
        "count": count,
        "digest": digest or "",
        "tiers": ".".join(str(at) for at in program.tier_stamps),
    }


def _style(shop: ShopRow, colours: dict[str, str], symbol: str) -> StripStyle | None:
    """The strip as the designer shows it; None while a typed value is not a colour."""
    program = shop.program
    try:
        return StripStyle(
            colours["background_color"],
            colours["stamp_color"],
            program.stamps_required,
            program.tier_stamps,
            symbol if symbol in SYMBOLS else SYMBOLS[0],
        )
    except ValueError:
        return None


class DesignForm:
    """`POST /dashboard/{shop}/design` (multipart: the logo file, colours, symbol)."""

    def __init__(self, dashboard: DashboardPages, logos: ShopLogos) -> None:
        self.dashboard = dashboard
        self.site = dashboard.site
        self.service = dashboard.service
        self.logos = logos

    def routes(self) -> list[Route]:
        """The designer's one route."""
        return [Route("/dashboard/{shop}/design", self.save, methods=["POST"])]

    async def save(self, request: Request) -> Response:
        shop = await self.dashboard.owner(request)
        t = self.site.translator(request)
        try:
            form = await self.site.upload(request, UPLOAD_LIMIT)
        except HttpError as exc:
            if exc.status != 413 or shop is None:
                raise
            error = t("logo_too_big").format(mb=MAX_LOGO_BYTES // 1024 // 1024)
            return await self.dashboard.show(request, shop, 413, design_error=error)
        if shop is None or form is None:
            return self.site.message(request, 403, "form_expired")
        fields, files = form
        upload = files.get("logo") or None
        remove = fields.get("remove_logo") == "1" and upload is None
        change = ProgramChange(
            colours={key: fields[key] for key in DEFAULT_COLOURS if key in fields},
            symbol=fields.get("stamp_symbol"),
            logo="" if remove else None,
        )
        try:
            changed = await change_design(self.service, self.logos, shop, change, upload)
        except (LogoRefused, BadSetting) as exc:
            return await self._refused(request, shop, fields, exc)
        saved = f"saved=design&refreshed={changed.refreshed}"
        return RedirectResponse(f"/dashboard/{shop.slug}?{saved}#design", status_code=303)

    async def _refused(
        self,
        request: Request,
        shop: ShopRow,
        fields: dict[str, str],
        exc: LogoRefused | BadSetting,
    ) -> Response:
        """The designer again, as the owner set it, saying what was refused and why."""
        t = self.site.translator(request)
        if isinstance(exc, LogoRefused):
            error, field = t(f"logo_{exc.reason}").format(**exc.values), "logo"
        elif isinstance(exc, LowContrast):
            error = t("contrast_low").format(field=t(exc.name), ratio=exc.ratio, needed=exc.needed)
            field = exc.name
        elif exc.name in DEFAULT_COLOURS:
            error, field = t("colour_invalid").format(field=t(exc.name)), exc.name
        else:
            error, field = t("symbol_invalid"), "stamp_symbol"
        design = design_view(shop, fields)
        return await self.dashboard.show(
            request, shop, 422, design=design, design_error=error, design_field=field
        )
