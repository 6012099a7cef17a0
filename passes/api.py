"""The shop API under /api/v1: JSON in, JSON out, Bearer API keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from passes import loyalty
from passes.campaigns import Campaigns, PromotionRequest
from passes.cards import CardView, program_of
from passes.errors import InvalidInput, NotFound, Unauthorized
from passes.http import HttpError, JsonResponse, allow_fields, read_json_object
from passes.inputs import whole_number
from passes.loyalty import MAX_MULTIPLIER, Audience
from passes.openapi import openapi_document
from passes.privacy import Customer
from passes.ratelimit import RateLimiter
from passes.serials import check_tier
from passes.service import Service
from passes.stats import stats_json, success_json
from passes.store.apple import Deliveries
from passes.store.shops import ShopRow
from passes.store.stats import campaign_responses, load_stats, program_totals


def card_json(view: CardView) -> dict[str, Any]:
    """A card as the API shows it."""
    card, counters = view.card, view.card.counters
    program, state = program_of(view.shop), view.card.counters
    missing, upcoming = loyalty.next_reward(program, state)
    return {
        "serial": card.serial,
        "shop": view.shop.slug,
        "stamps": counters.stamps,
        "stamps_required": view.shop.program.stamps_required,
        "rewards_available": counters.rewards_available,
        "rewards_redeemed": counters.rewards_redeemed,
        "total_stamps": counters.total_stamps,
        "reward": view.shop.program.reward,
        "voided": counters.voided,
        "version": card.version,
        "last_change_id": card.last_event_id,
        "created_at": card.created_at.isoformat(),
        "updated_at": card.updated_at.isoformat(),
        "urls": view.urls,
        "rewards": [line.__dict__ for line in loyalty.reward_lines(program, state)],
        "next_reward": {"missing": missing, "reward": upcoming},
        "stamps_expire_at": _iso(loyalty.stamps_expire_on(program, state)),
        "reward_expires_at": _iso(loyalty.reward_expires_on(program, state)),
        "stamps_expired": counters.stamps_expired,
        "rewards_expired": counters.rewards_expired,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def deliveries_json(view: CardView, found: Deliveries) -> dict[str, Any]:
    """Why a phone did or did not update: devices, push answers, fetches, device logs (those
    from a sender that proved the card, and apart from them the unverified ones)."""
    fetched = view.card.last_fetched_at
    return {
        "serial": view.card.serial,
        "version": view.card.version,
        "last_fetched_at": fetched.isoformat() if fetched else None,
        "pending_pushes": found.pending,
        "devices": found.devices,
        "attempts": found.attempts,
        "device_logs": found.logs,
        # Lines naming this card from senders that never proved it: anyone may post them.
        "unverified_device_logs": found.unverified_logs,
    }


# Names may hold any text but control characters (the OpenAPI document says the same).
NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")


def customer_from(value: object) -> Customer | None:
    """Personal data is optional and needs explicit consent; anything unclear is refused."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"name", "email", "consent"}:
        raise InvalidInput('customer must be {"name", "email", "consent": true}')
    if value.get("consent") is not True:
        raise InvalidInput("personal data is kept only with consent: set customer.consent to true")
    name, email = value.get("name"), value.get("email")
    if name is not None and (not isinstance(name, str) or not NAME.match(name)):
        raise InvalidInput("customer.name must be 1 to 200 characters, no control characters")
    if email is not None and (not isinstance(email, str) or not EMAIL.match(email)):
        raise InvalidInput("customer.email must be an e-mail address")
    if name is None and email is None:
        raise InvalidInput("customer needs a name or an e-mail address")
    return Customer(name=name, email=email)


def _moment(value: object, name: str = "send_at") -> datetime | None:
    """An ISO 8601 time with its zone, e.g. "2026-12-05T09:00:00+01:00"."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidInput(f"{name} must be an ISO 8601 time with its zone")
    return moment


def promotion_from(body: dict[str, Any]) -> PromotionRequest | None:
    """`multiplier` with `ends_at` (and optionally `starts_at`): a stamp promotion."""
    multiplier = body.get("multiplier")
    starts, ends = (
        _moment(body.get("starts_at"), "starts_at"),
        _moment(body.get("ends_at"), "ends_at"),
    )
    if multiplier is None:
        if starts is not None or ends is not None:
            raise InvalidInput("starts_at and ends_at belong to a promotion: give a multiplier")
        return None
    if (
        isinstance(multiplier, bool)
        or not isinstance(multiplier, int)
        or not 2 <= multiplier <= MAX_MULTIPLIER
    ):
        raise InvalidInput(f"multiplier must be a whole number from 2 to {MAX_MULTIPLIER}")
    return PromotionRequest(multiplier, starts, ends)


def _money(request: Request, name: str) -> float | None:
    """An optional amount in the query (e.g. ?reward_cost=3.50), 0 to 10,000."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an amount like 3.50") from None
    if not 0 <= value <= 10_000:
        raise InvalidInput(f"{name} must be 0 to 10000")
    return value


def audience_json(chosen: Audience) -> dict[str, int]:
    """Counts only: who gets the message, who is held out, who is at the weekly limit."""
    return {
        "recipients": len(chosen.recipients),
        "held_out": len(chosen.held_out),
        "over_limit": len(chosen.over_limit),
    }


class ShopApi:
    """Routes of the shop API over one Service."""

    def __init__(self, service: Service, campaigns: Campaigns) -> None:
        self.service = service
        self.campaigns = campaigns
        self.limit = service.settings.max_body_bytes
        # Wrong keys cost a client: after a burst of failures, one try per second.
        self.auth_failures = RateLimiter(rate=1.0, burst=service.settings.auth_failure_burst)

    def routes(self) -> list[Route]:
        """The API's routes, relative to /api/v1."""
        return [
            Route("/openapi.json", self.openapi, methods=["GET"]),
            Route("/cards", self.create_card, methods=["POST"]),
            Route("/cards/{serial}", self.get_card, methods=["GET"]),
            Route("/cards/{serial}/stamps", self.stamp, methods=["POST"]),
            Route("/cards/{serial}/stamps/{change_id}", self.undo_stamp, methods=["DELETE"]),
            Route("/cards/{serial}/redeem", self.redeem, methods=["POST"]),
            Route("/cards/{serial}/void", self.void, methods=["POST"]),
            Route("/cards/{serial}/personal-data", self.personal_data, methods=["GET", "DELETE"]),
            Route("/cards/{serial}/deliveries", self.deliveries, methods=["GET"]),
            Route("/stats", self.stats, methods=["GET"]),
            Route("/messages", self.messages, methods=["GET", "POST"]),
        ]

    async def send_message(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        body = await read_json_object(request, self.limit)
        allow_fields(
            body,
            {"text", "segment", "preview", "send_at", "bonus_stamps"}
            | {"multiplier", "starts_at", "ends_at"},
        )
        segment, text, preview = body.get("segment", "all"), body.get("text"), body.get("preview")
        if not isinstance(segment, str) or not isinstance(preview, bool | None):
            raise InvalidInput("segment must be a string and preview true or false")
        send_at = _moment(body.get("send_at"))
        bonus = body.get("bonus_stamps") or 0
        if isinstance(bonus, bool) or not isinstance(bonus, int) or not 0 <= bonus <= 3:
            raise InvalidInput("bonus_stamps must be a whole number from 0 to 3")
        promotion = promotion_from(body)
        if preview:
            chosen = await self.campaigns.audience(shop, segment)
            google = await self.campaigns.google_reach(shop, chosen.recipients)
            reach = {"notified": google.notified, "silent": google.silent}
            return JsonResponse({**audience_json(chosen), "google": reach})
        if not isinstance(text, str):
            raise InvalidInput("text must be a string")
        campaign_id, chosen = await self.campaigns.send(
            shop, text, segment, send_at, bonus, promotion
        )
        return JsonResponse({"campaign": campaign_id, **audience_json(chosen)}, status_code=202)

    async def messages(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.send_message(request)
        shop, _ = await self._shop(request)
        return JsonResponse({"campaigns": await self.campaigns.history(shop)})

    async def _shop(self, request: Request) -> tuple[ShopRow, str]:
        try:
            scheme, _, key = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not key.strip():
                raise Unauthorized("send the shop's API key as 'Authorization: Bearer <key>'")
            shop = await self.service.authenticate(key.strip())
        except Unauthorized:
            client = request.client.host if request.client else "unknown"
            if not self.auth_failures.allow(client):
                raise HttpError(429, "rate_limited", "too many failed sign-ins; wait") from None
            raise
        return shop, f"api:{key.strip()[:8]}"

    async def openapi(self, request: Request) -> Response:
        return JsonResponse(openapi_document(self.service.settings.base_url))

    async def create_card(self, request: Request) -> Response:
        shop, actor = await self._shop(request)
        body = await read_json_object(request, self.limit)
        allow_fields(body, {"referrer", "customer"})
        referrer = body.get("referrer")
        if referrer is not None and (not isinstance(referrer, str) or len(referrer) > 64):
            raise InvalidInput("referrer must be the recommending card's serial")
        customer = customer_from(body.get("customer"))
        view = await self.service.issue_card(shop, actor, referrer=referrer, customer=customer)
        return JsonResponse(card_json(view), status_code=201)

    async def personal_data(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        serial = request.path_params["serial"]
        if request.method == "DELETE":
            erased = await self.service.erase_personal_data(shop, serial)
            return JsonResponse({"serial": serial, "erased": erased})
        return JsonResponse(await self.service.personal_data(shop, serial))

    async def get_card(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        view = await self.service.card(shop, request.path_params["serial"])
        return JsonResponse(card_json(view))

    async def stamp(self, request: Request) -> Response:
        shop, actor = await self._shop(request)
        body = await read_json_object(request, self.limit)
        allow_fields(body, {"count"})
        count = body.get("count", 1)
        if isinstance(count, float) and count.is_integer():
            count = int(count)  # JSON Schema counts 2.0 as an integer, and so do we
        if isinstance(count, bool) or not isinstance(count, int):
            raise InvalidInput("count must be a whole number")
        view = await self.service.stamp(
            shop,
            request.path_params["serial"],
            count,
            actor=actor,
            idempotency_key=request.headers.get("idempotency-key"),
        )
        return JsonResponse(card_json(view))

    async def deliveries(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        view, found = await self.service.deliveries(shop, request.path_params["serial"])
        return JsonResponse(deliveries_json(view, found))

    async def undo_stamp(self, request: Request) -> Response:
        shop, actor = await self._shop(request)
        change_id = whole_number(request.path_params["change_id"])
        if change_id is None:
            raise NotFound("no such change")
        view = await self.service.undo_stamp(
            shop, request.path_params["serial"], change_id, actor=actor
        )
        return JsonResponse(card_json(view))

    async def void(self, request: Request) -> Response:
        shop, actor = await self._shop(request)
        body = await read_json_object(request, self.limit)
        allow_fields(body, set())
        view = await self.service.void(shop, request.path_params["serial"], actor=actor)
        return JsonResponse(card_json(view))

    async def redeem(self, request: Request) -> Response:
        shop, actor = await self._shop(request)
        body = await read_json_object(request, self.limit)
        allow_fields(body, {"tier"})
        view = await self.service.redeem(
            shop,
            request.path_params["serial"],
            actor=actor,
            idempotency_key=request.headers.get("idempotency-key"),
            tier=check_tier(body.get("tier")),
        )
        return JsonResponse(card_json(view))

    async def stats(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        reward_cost = _money(request, "reward_cost")
        basket = _money(request, "basket")
        found = await load_stats(self.service.store, shop.id, datetime.now(UTC).date())
        async with self.service.store.reading() as conn:
            totals = await program_totals(conn, shop.id)
            responses = await campaign_responses(conn, shop.id)
        success = success_json(found, totals, responses, reward_cost, basket)
        return JsonResponse({**stats_json(found), "success": success})
