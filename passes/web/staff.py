"""The staff page: sign in (name and own PIN once the shop has people, else the shop's shared
PIN), scan or type a card, stamp, redeem, undo; each change names the person and branch."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from passes.card_facts import CardFacts
from passes.cards import CardView
from passes.errors import FAILURES, Answer, InvalidInput, NotFound, Unauthorized, http_answer
from passes.http import JsonResponse, error_response, json_body, read_body
from passes.inputs import whole_number
from passes.lockout import Client
from passes.serials import check_tier
from passes.sessions import STAFF
from passes.staff import StaffPins
from passes.store.ledger import Origin
from passes.store.receipts import StampReceipt, stamp_receipt
from passes.store.sessions import SessionRow
from passes.store.shops import ShopRow
from passes.text_keys import N_
from passes.texts import counted, refusal_text, text
from passes.web.sign_in_refusals import SIGN_IN_REFUSALS, sign_in_refusal
from passes.web.site import Site

COOKIE = "passes_staff"
# A random id per browser, so wrong PINs lock out the device that typed them (lockout.py).
DEVICE_COOKIE = "passes_device"
DEVICE_SECONDS = 400 * 24 * 3600
ACTOR = "staff"
# What staff.js says, handed over in the page's language.
SCRIPT_TEXTS = (
    *("stamp_n", "stamped", "redeemed", "undone", "reward_due", "network_error"),
    *("camera_unavailable", "signed_out", "page_stamps", "scan", "scan_stop", "redeem_tier"),
)
# Texts staff.js picks by a count: their singular forms go along as "<key>_one".
SCRIPT_COUNTED = ("page_stamps",)


def staff_card_json(view: CardView) -> dict[str, Any]:
    """What the staff page shows of a card."""
    facts = CardFacts.of(view.shop.program, view.card)
    return {
        "serial": view.card.serial,
        "stamps": facts.stamps,
        "stamps_required": facts.stamps_required,
        "rewards_available": facts.rewards_available,
        "reward": facts.reward,
        "last_change_id": view.card.last_event_id,
        # The due rewards by kind (a tiered program may have several): staff pick one.
        "due": [line.__dict__ for line in facts.due],
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

    async def _session(self, request: Request, shop: ShopRow) -> SessionRow | None:
        """The live staff session of this shop (a removed person's is gone at once)."""
        return await self.site.session(request, COOKIE, STAFF, shop)

    async def _who(self, shop: ShopRow, session: SessionRow) -> str | None:
        """ "Ana · Sonnenallee": who is signed in and where (None for the shared PIN)."""
        if session.name is None:
            return None
        branch = await self.service.shops.branch_name(shop, session.branch_id)
        return session.name if branch is None else f"{session.name} · {branch}"

    async def page(self, request: Request) -> Response:
        shop = await self.site.shop(request)
        if shop is None:
            return self.site.no_shop(request)
        session = await self._session(request, shop)
        if session is None:
            device = request.cookies.get(DEVICE_COOKIE) or new_device()
            return await self._login_page(request, shop, 200, None, device)
        t = self.site.translator(request)
        lang = self.site.language(request)
        singular = {f"{key}_one": counted(key, 1, lang) for key in SCRIPT_COUNTED}
        texts = json.dumps({key: t(key) for key in SCRIPT_TEXTS} | singular)
        who = await self._who(shop, session)
        return self.site.render(request, "staff.html", shop=shop, texts=texts, who=who)

    async def login(self, request: Request) -> Response:
        shop = await self.site.shop(request)
        if shop is None:
            return self.site.no_shop(request)
        fields = await self.site.form(request)
        if fields is None:
            return self.site.message(request, 403, "form_expired")
        device = request.cookies.get(DEVICE_COOKIE) or new_device()
        client = Client(request.client.host if request.client else "unknown", device)
        try:
            name = fields.get("name", "")
            token = await self.pins.sign_in(shop, fields.get("pin", ""), client, name=name)
        except SIGN_IN_REFUSALS as exc:
            refusal = sign_in_refusal(exc, self.site.language(request), shop.slug)
            response = await self._login_page(request, shop, refusal.status, refusal.said, device)
            if refusal.retry_after is not None:
                response.headers["Retry-After"] = str(refusal.retry_after)
            return response
        response = self.site.signed_in_to(f"/staff/{shop.slug}", COOKIE, token)
        self._remember_device(request, response, shop, device)
        return response

    async def _login_page(
        self, request: Request, shop: ShopRow, status: int, error: str | None, device: str
    ) -> Response:
        """The sign-in form (asking for a name once the shop has people); it gives the browser
        its device id if it has none yet."""
        named = await self.service.people.any(shop)
        response = self.site.render(
            request, "staff_login.html", status, shop=shop, error=error, named=named
        )
        self._remember_device(request, response, shop, device)
        return response

    def _remember_device(
        self, request: Request, response: Response, shop: ShopRow, device: str
    ) -> None:
        if request.cookies.get(DEVICE_COOKIE) == device:
            return
        response.set_cookie(
            DEVICE_COOKIE,
            device,
            max_age=DEVICE_SECONDS,
            path=f"/staff/{shop.slug}",
            secure=self.site.secure,
            httponly=True,
            samesite="strict",
        )

    async def logout(self, request: Request) -> Response:
        home = f"/staff/{request.path_params['shop']}"
        return await self.site.sign_out(request, COOKIE, home)

    async def _shop_for_action(self, request: Request, *, changes: bool) -> ShopRow:
        shop, _ = await self._acting(request, changes=changes)
        return shop

    async def _acting(self, request: Request, *, changes: bool) -> tuple[ShopRow, Origin]:
        """The shop and who acts for it where; 401 without a live session of this shop."""
        shop = await self.site.shop(request)
        session = None if shop is None else await self._session(request, shop)
        if shop is None or session is None:
            raise Unauthorized("sign in on the staff page first")
        if changes:
            self.site.check_header(request)
        return shop, Origin(session.staff_id, session.branch_id)

    async def get_card(self, request: Request) -> Response:
        shop = await self._shop_for_action(request, changes=False)
        return await self._answer(
            request, self.service.cards.card(shop, request.path_params["serial"])
        )

    async def stamp(self, request: Request) -> Response:
        shop, origin = await self._acting(request, changes=True)
        body = await _json(request)
        count = body.get("count", 1) if isinstance(body, dict) else None
        if isinstance(count, bool) or not isinstance(count, int):
            return error_response(422, "invalid", "count must be a whole number")
        change = self.service.changes.stamp(
            shop,
            request.path_params["serial"],
            count,
            actor=ACTOR,
            idempotency_key=request.headers.get("idempotency-key"),
            origin=origin,
        )
        return await self._answer(request, change, receipt=True)

    async def redeem(self, request: Request) -> Response:
        shop, origin = await self._acting(request, changes=True)
        body = await _json(request)
        try:
            tier = check_tier(body.get("tier") if isinstance(body, dict) else "")
        except InvalidInput:
            return error_response(422, "invalid", "tier must be the stamp count of a reward")
        change = self.service.changes.redeem(
            shop,
            request.path_params["serial"],
            actor=ACTOR,
            idempotency_key=request.headers.get("idempotency-key"),
            tier=tier,
            origin=origin,
        )
        return await self._answer(request, change)

    async def undo(self, request: Request) -> Response:
        shop, origin = await self._acting(request, changes=True)
        change_id = whole_number(request.path_params["change_id"])
        if change_id is None:
            return await self._answer(request, _missing())
        change = self.service.undo.undo_stamp(
            shop, request.path_params["serial"], change_id, actor=ACTOR, origin=origin
        )
        return await self._answer(request, change)

    async def _answer(
        self, request: Request, change: Awaitable[CardView], *, receipt: bool = False
    ) -> Response:
        """The card as JSON (with what a stamp gave, when `receipt`), or the refusal in the
        staff's language."""
        lang = self.site.language(request)
        try:
            view = await change
        except FAILURES as exc:
            return _refusal(http_answer(exc), lang)
        found = staff_card_json(view)
        if receipt and view.card.last_event_id is not None:
            async with self.service.store.reading() as conn:
                given = await stamp_receipt(conn, view.card.id, view.card.last_event_id)
            if given is not None:
                found |= {"given": given.__dict__, "said": stamped_text(given, lang)}
        return JsonResponse(found)


def _refusal(answer: Answer, lang: str) -> Response:
    """A refusal as the API tells it (passes/errors.py), in the staff's language where the
    page has words for it: a missing card, and what the card's state refuses (409)."""
    said = None
    if answer.status == 404:
        said = text(N_("no_such_card"), lang)
    elif answer.status == 409:
        said = refusal_text(answer.code, answer.params, lang)
    return error_response(answer.status, answer.code, said or answer.message, **answer.headers)


def stamped_text(given: StampReceipt, lang: str) -> str:
    """ "+2 gestempelt (1 + 1 Aktion ×2)": what the card gained, and why when it is more
    than the stamps asked for."""
    parts = [str(given.stamps)]
    if given.promotion:
        promoted = text("given_promotion", lang)
        parts.append(promoted.format(n=given.promotion, multiplier=given.multiplier))
    if given.bonus:
        parts.append(text("given_bonus", lang).format(n=given.bonus))
    if len(parts) == 1:
        return text("stamped", lang).format(n=given.total)
    return text("stamped_with", lang).format(n=given.total, parts=" + ".join(parts))


def new_device() -> str:
    """A fresh device id for the device cookie."""
    return secrets.token_urlsafe(18)


async def _json(request: Request) -> Any:
    """The small JSON body of a staff action ({} when empty); 400 when it is not JSON."""
    body = await read_body(request, 1024)
    return json_body(body) if body.strip() else {}


async def _missing() -> CardView:
    raise NotFound("no such change")
