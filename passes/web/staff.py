"""The staff page: sign in with the shop's PIN, scan or type a card, stamp, redeem, undo."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from passes import loyalty
from passes.errors import Conflict, InvalidInput, NotFound, Unauthorized
from passes.http import JsonResponse, error_response, json_body, read_body
from passes.inputs import whole_number
from passes.service import CardView, check_tier
from passes.staff import NoPin, PinLocked, StaffPins, WrongPin
from passes.store.shops import ShopRow
from passes.texts import PAGE_TEXTS, text
from passes.web.site import Site

COOKIE = "passes_staff"
SESSION_SECONDS = 12 * 3600
ACTOR = "staff"
# What staff.js says, handed over in the page's language.
SCRIPT_TEXTS = (
    *("stamp_n", "stamped", "redeemed", "undone", "reward_due", "network_error"),
    *("camera_unavailable", "signed_out", "page_stamps", "scan", "scan_stop", "redeem_tier"),
)


def staff_card_json(view: CardView) -> dict[str, Any]:
    """What the staff page shows of a card."""
    counters = view.card.counters
    return {
        "serial": view.card.serial,
        "stamps": counters.stamps,
        "stamps_required": view.shop.program.stamps_required,
        "rewards_available": counters.rewards_available,
        "reward": view.shop.program.reward,
        "last_change_id": view.card.last_event_id,
        # The due rewards by kind (a tiered program may have several): staff pick one.
        "due": [
            line.__dict__
            for line in loyalty.reward_lines(view.shop.program.rules(), view.card.counters)
            if line.due
        ],
    }


class StaffPages:
    """`/staff/{shop}` and the JSON actions its script calls."""

    def __init__(self, site: Site, pins: StaffPins) -> None:
        self.site = site
        self.service = site.service
        self.pins = pins

    def routes(self) -> list[Route]:
        """The staff page, its sign-in and its card actions."""
        card = "/staff/{shop}/cards/{serial}"
        return [
            Route("/staff/{shop}", self.page, methods=["GET"]),
            Route("/staff/{shop}/login", self.login, methods=["POST"]),
            Route("/staff/{shop}/logout", self.logout, methods=["POST"]),
            Route(card, self.get_card, methods=["GET"]),
            Route(card + "/stamps", self.stamp, methods=["POST"]),
            Route(card + "/stamps/{change_id}", self.undo, methods=["DELETE"]),
            Route(card + "/redeem", self.redeem, methods=["POST"]),
        ]

    async def _signed_in(self, request: Request, shop: ShopRow) -> bool:
        session = self.site.sessions.read(request, COOKIE, SESSION_SECONDS)
        if session is None or session.get("shop") != shop.id:
            return False
        return session.get("pin") == await self.pins.version(shop)

    async def page(self, request: Request) -> Response:
        shop = await self.site.shop(request)
        if shop is None:
            return self.site.no_shop(request)
        if not await self._signed_in(request, shop):
            return self.site.render(request, "staff_login.html", shop=shop, error=None)
        t = self.site.translator(request)
        texts = json.dumps({key: t(key) for key in SCRIPT_TEXTS})
        return self.site.render(request, "staff.html", shop=shop, texts=texts)

    async def login(self, request: Request) -> Response:
        shop = await self.site.shop(request)
        if shop is None:
            return self.site.no_shop(request)
        fields = await self.site.form(request)
        if fields is None:
            return self.site.message(request, 403, "form_expired")
        t = self.site.translator(request)
        try:
            version = await self.pins.sign_in(shop, fields.get("pin", ""))
        except WrongPin as exc:
            return self._login_error(request, shop, 401, t("wrong_pin").format(left=exc.tries_left))
        except PinLocked as exc:
            minutes = math.ceil((exc.until - datetime.now(UTC)).total_seconds() / 60)
            return self._login_error(request, shop, 429, t("pin_locked").format(minutes=minutes))
        except NoPin:
            return self._login_error(request, shop, 409, t("no_pin"))
        response = RedirectResponse(f"/staff/{shop.slug}", status_code=303)
        self.site.sessions.write(
            response,
            COOKIE,
            {"shop": shop.id, "pin": version},
            path=f"/staff/{shop.slug}",
            max_age=SESSION_SECONDS,
        )
        return response

    def _login_error(self, request: Request, shop: ShopRow, status: int, error: str) -> Response:
        return self.site.render(request, "staff_login.html", status, shop=shop, error=error)

    async def logout(self, request: Request) -> Response:
        slug = request.path_params["shop"]
        if await self.site.form(request) is None:
            return self.site.message(request, 403, "form_expired")
        response = RedirectResponse(f"/staff/{slug}", status_code=303)
        self.site.sessions.clear(response, COOKIE, path=f"/staff/{slug}")
        return response

    async def _shop_for_action(self, request: Request, *, changes: bool) -> ShopRow:
        shop = await self.site.shop(request)
        if shop is None or not await self._signed_in(request, shop):
            raise Unauthorized("sign in on the staff page first")
        if changes:
            self.site.check_header(request)
        return shop

    async def get_card(self, request: Request) -> Response:
        shop = await self._shop_for_action(request, changes=False)
        return await self._answer(request, self.service.card(shop, request.path_params["serial"]))

    async def stamp(self, request: Request) -> Response:
        shop = await self._shop_for_action(request, changes=True)
        body = await _json(request)
        count = body.get("count", 1) if isinstance(body, dict) else None
        if isinstance(count, bool) or not isinstance(count, int):
            return error_response(422, "invalid", "count must be a whole number")
        change = self.service.stamp(
            shop,
            request.path_params["serial"],
            count,
            actor=ACTOR,
            idempotency_key=request.headers.get("idempotency-key"),
        )
        return await self._answer(request, change)

    async def redeem(self, request: Request) -> Response:
        shop = await self._shop_for_action(request, changes=True)
        body = await _json(request)
        try:
            tier = check_tier(body.get("tier") if isinstance(body, dict) else "")
        except InvalidInput:
            return error_response(422, "invalid", "tier must be the stamp count of a reward")
        change = self.service.redeem(
            shop,
            request.path_params["serial"],
            actor=ACTOR,
            idempotency_key=request.headers.get("idempotency-key"),
            tier=tier,
        )
        return await self._answer(request, change)

    async def undo(self, request: Request) -> Response:
        shop = await self._shop_for_action(request, changes=True)
        change_id = whole_number(request.path_params["change_id"])
        if change_id is None:
            return await self._answer(request, _missing())
        change = self.service.undo_stamp(
            shop, request.path_params["serial"], change_id, actor=ACTOR
        )
        return await self._answer(request, change)

    async def _answer(self, request: Request, change: Awaitable[CardView]) -> Response:
        """The card as JSON, or the refusal in the staff's language."""
        lang = self.site.language(request)
        try:
            view = await change
        except Conflict as exc:
            key = f"refusal_{exc.code}"
            said = text(key, lang) if key in PAGE_TEXTS[lang] else str(exc)
            return error_response(409, exc.code, said)
        except NotFound:
            return error_response(404, "not_found", text("no_such_card", lang))
        except InvalidInput as exc:
            return error_response(422, "invalid", str(exc))
        return JsonResponse(staff_card_json(view))


async def _json(request: Request) -> Any:
    """The small JSON body of a staff action ({} when empty); 400 when it is not JSON."""
    body = await read_body(request, 1024)
    return json_body(body) if body.strip() else {}


async def _missing() -> CardView:
    raise NotFound("no such change")
