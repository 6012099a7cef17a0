"""The counter page: a screen at the till, signed in by a manager, showing a QR code that
changes every 30 seconds; a customer scans it to stamp their own card (web/counter_scan.py),
and the screen lists each stamp as it happens."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from passes.counter_codes import CounterCode, CounterCodes, seconds_left, window_of
from passes.errors import PassesError
from passes.http import JsonResponse, error_response
from passes.lockout import Client
from passes.people import MANAGER_ROLE
from passes.sessions import COUNTER
from passes.staff import NoPin, NotManager, StaffPins
from passes.store.counter import counter_stamps
from passes.store.sessions import SessionRow
from passes.store.shops import ShopRow
from passes.text_keys import N_
from passes.web.card_cookie import counter_path
from passes.web.qr import qr_svg
from passes.web.sign_in_refusals import SIGN_IN_REFUSALS, sign_in_refusal
from passes.web.site import Site
from passes.web.staff import DEVICE_COOKIE, DEVICE_SECONDS, new_device

COOKIE = "passes_counter"
# What counter.js says, handed over in the page's language.
SCRIPT_TEXTS = (
    *(N_("counter_new_code_in"), N_("counter_signed_out"), N_("counter_offline")),
    *(N_("counter_stamp_line"), N_("counter_qr_label")),
)


def scan_url(base_url: str, slug: str, code: str) -> str:
    """What the screen's QR code carries: the page that stamps the scanning phone's card."""
    return f"{base_url}{counter_path(slug)}/s/{code}"


class CounterPages:
    """`/counter/{shop}`: sign-in, the screen and what its script polls."""

    def __init__(self, site: Site, pins: StaffPins, codes: CounterCodes) -> None:
        self.site = site
        self.service = site.service
        self.pins = pins
        self.codes = codes

    def routes(self) -> list[Route]:
        """The screen, its sign-in and sign-out, and its poll."""
        return [
            Route("/counter/{shop}", self.page, methods=["GET"]),
            Route("/counter/{shop}/login", self.login, methods=["POST"]),
            Route("/counter/{shop}/logout", self.logout, methods=["POST"]),
            Route("/counter/{shop}/now", self.now, methods=["GET"]),
        ]

    async def _session(self, request: Request, shop: ShopRow) -> SessionRow | None:
        """The live counter session of this shop, held by a manager, or None."""
        found = await self.site.session(request, COOKIE, COUNTER, shop)
        if found is None or found.role != MANAGER_ROLE:
            return None  # a manager made staff since shows no more codes (they would not work)
        return found

    def _code(self, shop: ShopRow, session: SessionRow, now: datetime) -> str:
        assert session.staff_id is not None
        return self.codes.make(
            CounterCode(shop.id, session.branch_id or 0, session.staff_id, window_of(now))
        )

    def _qr(self, request: Request, shop: ShopRow, code: str) -> Markup:
        label = self.site.translator(request)("counter_qr_label")
        return qr_svg(scan_url(self.site.settings.base_url, shop.slug, code), label)

    async def page(self, request: Request) -> Response:
        shop = await self.site.shop(request)
        if shop is None:
            return self.site.no_shop(request)
        session = await self._session(request, shop)
        if session is None:
            device = request.cookies.get(DEVICE_COOKIE) or new_device()
            return await self._login_page(request, shop, 200, None, device)
        t = self.site.translator(request)
        now = self.service.clock()
        code = self._code(shop, session, now)
        texts = json.dumps({key: t(key) for key in SCRIPT_TEXTS})
        branch = await self.service.shops.branch_name(shop, session.branch_id)
        return self.site.render(
            request,
            "counter.html",
            shop=shop,
            texts=texts,
            code=code,
            qr=self._qr(request, shop, code),
            seconds=math.ceil(seconds_left(now)),
            branch=branch,
            manager=session.name,
        )

    async def now(self, request: Request) -> Response:
        """The code to show now (its QR code when `have` is another), the seconds it has
        left, and this counter's stamps after event id `after`."""
        shop = await self.site.shop(request)
        session = None if shop is None else await self._session(request, shop)
        if shop is None or session is None or session.staff_id is None:
            return error_response(401, "signed_out", "the counter is signed out")
        now = self.service.clock()
        code = self._code(shop, session, now)
        after = request.query_params.get("after", "0")
        async with self.service.store.reading() as conn:
            stamps = await counter_stamps(
                conn,
                shop.id,
                session.staff_id,
                session.branch_id,
                after_id=int(after) if after.isdigit() and len(after) < 19 else 0,
                since=now - timedelta(hours=12),
            )
        found: dict[str, object] = {
            "code": code,
            "seconds_left": math.ceil(seconds_left(now)),
            "stamps": [
                {
                    "id": stamp.id,
                    "at": stamp.at.astimezone(UTC).isoformat(),
                    "card": stamp.serial[-4:],
                    "stamps": stamp.stamps_after,
                }
                for stamp in stamps
            ],
        }
        if request.query_params.get("have") != code:
            found["svg"] = str(self._qr(request, shop, code))
        return JsonResponse(found, headers={"Cache-Control": "no-store"})

    async def login(self, request: Request) -> Response:
        shop = await self.site.shop(request)
        if shop is None:
            return self.site.no_shop(request)
        fields = await self.site.form(request)
        if fields is None:
            return self.site.message(request, 403, "form_expired")
        device = request.cookies.get(DEVICE_COOKIE) or new_device()
        branches = {branch.id for branch in await self.service.shops.branches(shop)}
        branch = fields.get("branch", "")
        branch_id = int(branch) if branch.isdigit() and len(branch) < 19 else 0
        if branches and branch_id not in branches:
            error = self.site.translator(request)(N_("counter_pick_branch"))
            return await self._login_page(request, shop, 422, error, device)
        client = Client(request.client.host if request.client else "unknown", device)
        try:
            token = await self.pins.sign_in(
                shop,
                fields.get("pin", ""),
                client,
                name=fields.get("name", ""),
                kind=COUNTER,
                branch_id=branch_id or None,
            )
        except SIGN_IN_REFUSALS as exc:
            lang = self.site.language(request)
            refusal = sign_in_refusal(exc, lang, shop.slug, _COUNTER_WORDS)
            response = await self._login_page(request, shop, refusal.status, refusal.said, device)
            if refusal.retry_after is not None:
                response.headers["Retry-After"] = str(refusal.retry_after)
            return response
        return self.site.signed_in_to(counter_path(shop.slug), COOKIE, token)

    async def _login_page(
        self, request: Request, shop: ShopRow, status: int, error: str | None, device: str
    ) -> Response:
        """The sign-in form (a branch to pick when the shop has several places), or what to
        do first when the shop has no manager yet."""
        people = await self.service.people.list(shop)
        managers = [person for person in people if person.role == MANAGER_ROLE]
        if not managers and error is None:
            status, error = 409, self.site.translator(request)("counter_no_manager")
            error = error.format(slug=shop.slug)
        response = self.site.render(
            request,
            "counter_login.html",
            status,
            shop=shop,
            error=error,
            branches=await self.service.shops.branches(shop),
            can_sign_in=bool(managers),
        )
        if request.cookies.get(DEVICE_COOKIE) != device:
            response.set_cookie(
                DEVICE_COOKIE,
                device,
                max_age=DEVICE_SECONDS,
                path=counter_path(shop.slug),
                secure=self.site.secure,
                httponly=True,
                samesite="strict",
            )
        return response

    async def logout(self, request: Request) -> Response:
        home = counter_path(request.path_params["shop"])
        return await self.site.sign_out(request, COOKIE, home)


# The counter's own words: it is for managers, and a shop without one is told how to add one.
_COUNTER_WORDS: dict[type[PassesError], tuple[int, str]] = {
    NotManager: (403, N_("counter_not_manager")),
    NoPin: (409, N_("counter_no_manager")),
}
