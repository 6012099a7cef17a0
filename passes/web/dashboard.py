"""The owner's dashboard: figures and plots, feedback, campaigns, the staff PIN, the ledger as CSV,
the shop's webhooks.

The owner signs in with the API key; a manager with their name and own PIN (people_form.py:
the People section and the manager's sign-in). A manager may do what the owner does here but
the webhooks, which stay with the key holder.

The campaign, rules and webhook forms post to their own modules, which render this page again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime

from babel.numbers import get_decimal_symbol
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from passes import birthday_rules, campaign_rules, loyalty
from passes.campaigns import Campaigns, nobody_reason
from passes.errors import InvalidInput, Unauthorized
from passes.feedback import FeedbackBox
from passes.inputs import whole_number
from passes.keys import ShopKeys
from passes.program import (
    BIRTHDAY_LIMITS,
    DEFAULT_COLOURS,
    FRAUD_LIMITS,
    LONG_STANDING_LIMITS,
    OPTIONAL_LIMITS,
    PROGRAM_LIMITS,
    check_colour,
)
from passes.purchase_rules import DEFAULT_CURRENCY, PurchaseRule
from passes.ratelimit import RateLimiter
from passes.sessions import OWNER
from passes.staff import StaffPins
from passes.stamp_symbols import SYMBOLS
from passes.stats import WINDOW_DAYS
from passes.store.feedback import FeedbackSummary
from passes.store.people import MANAGER_ROLE
from passes.store.sessions import SessionRow
from passes.store.shops import ShopRow
from passes.store.stats import LEDGER_COLUMNS, ledger_export
from passes.text_keys import N_
from passes.texts import counted
from passes.web.branch_figures import BranchFigures, branch_figures
from passes.web.charts import bar_chart, split_bar
from passes.web.designer import design_view
from passes.web.people_form import manager_sign_in, people_context, people_notice
from passes.web.review import review_of
from passes.web.site import Site
from passes.web.webhook_form import new_draft, webhook_notice
from passes.webhook_events import EVENT_TYPES

COOKIE = "passes_owner"
# After too many wrong keys from one address, one more try every this many seconds.
KEY_RETRY_SECONDS = 10


class DashboardPages:
    """`/dashboard/{shop}` and what hangs off it."""

    def __init__(
        self, site: Site, pins: StaffPins, campaigns: Campaigns, feedback: FeedbackBox
    ) -> None:
        self.site = site
        self.service = site.service
        self.pins = pins
        self.campaigns = campaigns
        self.feedback = feedback
        # Wrong keys per address: API keys are long, this only keeps the logs quiet.
        self.failures = RateLimiter(1 / KEY_RETRY_SECONDS, 10)
        self.keys = ShopKeys(site.service.store)

    def routes(self) -> list[Route]:
        """The dashboard's routes."""
        return [
            Route("/dashboard/{shop}", self.page, methods=["GET"]),
            Route("/dashboard/{shop}/login", self.login, methods=["POST"]),
            Route("/dashboard/{shop}/logout", self.logout, methods=["POST"]),
            Route("/dashboard/{shop}/pin", self.set_pin, methods=["POST"]),
            Route("/dashboard/{shop}/ledger.csv", self.ledger, methods=["GET"]),
        ]

    async def signed_in(self, request: Request) -> tuple[ShopRow, SessionRow] | None:
        """The shop and the session, when this browser is signed in to it with a key that still
        works or as one of its managers (a removed person's session is gone at once)."""
        shop = await self.site.shop(request)
        found = None if shop is None else await self.site.session(request, COOKIE, OWNER, shop)
        if shop is None or found is None:
            return None
        return None if found.staff_id is not None and found.role != MANAGER_ROLE else (shop, found)

    async def owner(self, request: Request) -> ShopRow | None:
        """The shop, when this browser is signed in to it (the key holder or a manager)."""
        found = await self.signed_in(request)
        return None if found is None else found[0]

    async def manager_refused(self, request: Request) -> Response | None:
        """The 403 page for a manager at what only the key holder does (the webhooks)."""
        found = await self.signed_in(request)
        if found is None or found[1].staff_id is None:
            return None
        return self.site.message(request, 403, N_("webhooks_key_only"))

    async def page(self, request: Request) -> Response:
        signed = await self.signed_in(request)
        if signed is None:
            found = await self.site.shop(request)
            if found is None:
                return self.site.no_shop(request)
            return await self.login_page(request, found, 200, None)
        notice, notice_at = await self._notice(request, signed[0])
        return await self.show(request, signed[0], notice=notice, notice_at=notice_at)

    async def login_page(
        self, request: Request, shop: ShopRow, status: int, error: str | None
    ) -> Response:
        """The sign-in page: the API key, and name and PIN once the shop has people."""
        named = await self.service.people.any(shop)
        return self.site.render(
            request, "dashboard_login.html", status, shop=shop, error=error, named=named
        )

    async def show(
        self, request: Request, shop: ShopRow, status: int = 200, **extra: object
    ) -> Response:
        """The dashboard; `extra` carries a form's draft, preview or error."""
        figures = await branch_figures(self.service, shop, request.query_params.get("branch"))
        signed = await self.signed_in(request)
        session = None if signed is None else signed[1]
        manager = session is not None and session.staff_id is not None
        context: dict[str, object] = {
            "shop": shop,
            **await self._figures(request, shop, figures),
            "history": await self.campaigns.history(shop),
            "segments": campaign_rules.SEGMENTS,
            "draft": _new_campaign(),
            "server_zone": datetime.now().astimezone().tzname(),
            "rules": _rules(shop),
            "limits": PROGRAM_LIMITS,
            **await self._fraud(shop),
            "loyal": _loyal(shop),
            "loyal_limits": LONG_STANDING_LIMITS,
            "birthday": _birthday(shop),
            "birthday_limits": BIRTHDAY_LIMITS,
            # The gift select: none, so many bonus stamps, or the next reward.
            "birthday_gifts": [str(n) for n in range(birthday_rules.MAX_BONUS + 1)] + ["reward"],
            "optional": OPTIONAL_LIMITS,
            "tiers": [(str(at), reward) for at, reward in shop.program.tiers],
            "purchase": _purchase(await self.service.purchases.rule(shop)),
            "max_tiers": loyalty.MAX_TIERS,
            "places": figures.places,
            "look": _look(shop),
            "colours": list(DEFAULT_COLOURS),
            "in_wallets": await self.service.refresher.passes_in_wallets(shop),
            "notice": None,
            # The section whose form the notice answers: it shows there, where the page lands.
            "notice_at": None,
            "design": design_view(shop),
            "symbols": SYMBOLS,
            # A manager sees no webhooks (their URLs and secrets stay with the key holder).
            "webhooks": [] if manager else await self.service.webhooks.endpoints(shop),
            "event_types": EVENT_TYPES,
            "webhook_draft": new_draft(),
            # The new endpoint's secret, on the answer to the add form only.
            "webhook_secret": None,
            **await people_context(self.service, shop, session),
        }
        status = figures.status(status)
        return self.site.render(request, "dashboard.html", status, **(context | extra))

    async def _figures(
        self, request: Request, shop: ShopRow, figures: BranchFigures
    ) -> dict[str, object]:
        """The figures (of one branch or the whole shop), their plots and the feedback."""
        stats = figures.stats
        t = self.site.translator(request)
        lang = self.site.language(request)
        wallets = [("Apple Wallet", stats.totals.apple), ("Google Wallet", stats.totals.google)]
        feedback = await self.feedback.summary(shop.id)
        title = t("stamps_per_day").format(days=WINDOW_DAYS)
        return {
            "stats": stats,
            "figures": figures,
            "days": WINDOW_DAYS,
            "chart": bar_chart(stats.stamps_per_day, title, lang, stats.bonus_per_day),
            "wallets": wallets,
            "wallet_bar": split_bar(wallets, t("wallets")),
            "feedback": feedback,
            "average": _average(feedback, lang),
        }

    async def _fraud(self, shop: ShopRow) -> dict[str, object]:
        """The fraud controls as the rules form shows them (empty: none), and the review
        list (web/review.py)."""
        values = {name: getattr(shop.program, name) for name in FRAUD_LIMITS}
        return {
            "fraud": {name: "" if value is None else str(value) for name, value in values.items()},
            "fraud_limits": FRAUD_LIMITS,
            "review": await review_of(self.service, shop),
        }

    async def _notice(self, request: Request, shop: ShopRow) -> tuple[str | None, str | None]:
        """What the last form achieved, named in the redirect's query, and the section of
        that form (the notice shows there)."""
        t = self.site.translator(request)
        query = request.query_params
        if query.get("pin") == "saved":
            return t("pin_saved"), "staff-pin"
        if (people := people_notice(request)) is not None:
            return t(people), "people"
        if (webhook := webhook_notice(request)) is not None:
            return t(webhook), "webhooks"
        saved = query.get("saved")
        refreshed = whole_number(query.get("refreshed", ""), 9)
        if saved in ("settings", "design") and refreshed:
            return t(f"{saved}_saved_refreshed").format(n=refreshed), _SECTIONS[saved]
        if saved == "location_removed":
            return t("location_removed"), _SECTIONS["location"]
        if saved in ("settings", "location", "design"):
            key = "location_added" if saved == "location" else f"{saved}_saved"
            return t(key), _SECTIONS[saved]
        sent = query.get("sent", "")
        found = [row for row in await self.campaigns.history(shop) if str(row["id"]) == sent]
        if not found:
            return None, None
        lang = self.site.language(request)
        said = counted("campaign_sent", int(found[0]["recipients"]), lang).format(**found[0])
        if not found[0]["recipients"]:
            said += " " + nobody_reason(found[0], shop, lang)
        return said, "campaigns"

    async def login(self, request: Request) -> Response:
        found = await self.site.shop(request)
        if found is None:
            return self.site.no_shop(request)
        fields = await self.site.form(request)
        if fields is None:
            return self.site.message(request, 403, "form_expired")
        # The manager's form sends a name and PIN, the owner's the key.
        if "key" not in fields:
            return await manager_sign_in(self, request, found, fields)
        t = self.site.translator(request)
        client = request.client.host if request.client else "unknown"
        if not self.failures.allow(client):
            said = t("too_many_keys").format(seconds=KEY_RETRY_SECONDS, slug=found.slug)
            refused = await self._login_error(request, found, 429, said)
            refused.headers["Retry-After"] = str(KEY_RETRY_SECONDS)
            return refused
        try:
            token = await self.keys.sign_in(found, fields.get("key", "").strip())
        except Unauthorized:
            return await self._login_error(request, found, 401, t("wrong_key"))
        return self.signed_in_as(found, token)

    def signed_in_as(self, shop: ShopRow, token: str) -> Response:
        """To the dashboard with the session's cookie (it names a session, never a key, its
        hash or a PIN)."""
        return self.site.signed_in_to(f"/dashboard/{shop.slug}", COOKIE, token)

    async def _login_error(
        self, request: Request, shop: ShopRow, status: int, error: str
    ) -> Response:
        return await self.login_page(request, shop, status, error)

    async def logout(self, request: Request) -> Response:
        home = f"/dashboard/{request.path_params['shop']}"
        return await self.site.sign_out(request, COOKIE, home)

    async def set_pin(self, request: Request) -> Response:
        shop = await self.owner(request)
        fields = await self.site.form(request)
        if shop is None or fields is None:
            return self.site.message(request, 403, "form_expired")
        try:
            await self.pins.set_pin(shop, fields.get("pin", ""))
        except InvalidInput:
            return self.site.message(request, 422, "new_pin")
        return RedirectResponse(f"/dashboard/{shop.slug}?pin=saved#staff-pin", status_code=303)

    async def ledger(self, request: Request) -> Response:
        shop = await self.owner(request)
        if shop is None:
            return RedirectResponse(f"/dashboard/{request.path_params['shop']}", status_code=303)
        return StreamingResponse(
            self._csv_lines(shop),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{shop.slug}-ledger.csv"',
                "Cache-Control": "no-store",
            },
        )

    async def _csv_lines(self, shop: ShopRow) -> AsyncIterator[str]:
        yield _csv_line(LEDGER_COLUMNS)
        async with self.service.store.reading() as conn:
            async for row in ledger_export(conn, shop.id):
                yield _csv_line(_cell(value) for value in row)


# The section of each saved form.
_SECTIONS = {"settings": "rules", "location": "locations", "design": "design"}


def _new_campaign() -> dict[str, str]:
    """The campaign form as it starts: to everyone, nothing typed."""
    return {"segment": "all", "text": "", "multiplier": "", "starts_at": "", "ends_at": ""}


def _rules(shop: ShopRow) -> dict[str, str]:
    """The program's settings as the rules form shows them."""
    program = shop.program
    values = {name: getattr(program, name) for name in PROGRAM_LIMITS}
    return {name: "" if value is None else str(value) for name, value in values.items()}


def _look(shop: ShopRow) -> dict[str, str]:
    """The card's name and colours as the form shows them."""
    # As "#RRGGBB": a colour input shows nothing for the short form older shops may have.
    colours = {key: check_colour(key, getattr(shop.program, key)) for key in DEFAULT_COLOURS}
    return {"shop_name": shop.name, **colours}


def _purchase(rule: PurchaseRule | None) -> dict[str, str]:
    """The purchase rule as the rules form shows it (none yet: the default currency)."""
    if rule is None:
        rule_kind, amount, currency = "none", "", DEFAULT_CURRENCY
    else:
        rule_kind, amount, currency = rule.kind, str(rule.amount), rule.currency
    return {"purchase_kind": rule_kind, "purchase_amount": amount, "purchase_currency": currency}


def _loyal(shop: ShopRow) -> dict[str, str]:
    """The long-standing customer settings as the rules form shows them."""
    program = shop.program
    values = {name: str(getattr(program, name)) for name in LONG_STANDING_LIMITS}
    return {**values, "loyal_perk": program.loyal_perk or ""}


def _birthday(shop: ShopRow) -> dict[str, str]:
    """The birthday settings as the rules form shows them: the gift is one select."""
    program = shop.program
    values = {name: str(getattr(program, name)) for name in BIRTHDAY_LIMITS}
    gift = "reward" if program.birthday_gift == "reward" else str(program.birthday_bonus_stamps)
    return {**values, "birthday_gift": gift}


def _average(summary: FeedbackSummary, lang: str) -> str:
    """Average stars with one decimal, in the page's decimal style."""
    if summary.average is None:
        return "–"
    return f"{summary.average:.1f}".replace(".", get_decimal_symbol(lang))


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # Spreadsheets run cells that start like a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _csv_line(values: object) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(values)  # type: ignore[arg-type]
    return out.getvalue()
