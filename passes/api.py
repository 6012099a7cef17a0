"""The shop API under /api/v1: JSON in, JSON out, Bearer API keys."""

from __future__ import annotations

from datetime import UTC, datetime

from msgspec import UNSET
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from passes import answers
from passes.answers import card_answer
from passes.answers_history import history_answer
from passes.answers_webhooks import NewWebhookAnswer, Webhooks, webhook_answer
from passes.campaigns import Campaigns, PromotionRequest
from passes.errors import HttpError, NotFound, Unauthorized
from passes.http import JsonResponse, read_shape
from passes.inputs import whole_number
from passes.openapi import openapi_document
from passes.ratelimit import RateLimiter
from passes.service import Service
from passes.shapes import (
    EmptyRequest,
    MessageRequest,
    NewCard,
    NewWebhook,
    PurchaseRequest,
    RedeemRequest,
    StampRequest,
    StatsQuery,
    read_query,
)
from passes.stats import stats_json, success_json
from passes.store.ledger import NO_ORIGIN, Origin
from passes.store.shops import ShopRow
from passes.store.stats import campaign_responses, load_stats, program_totals


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
            Route("/cards/{serial}/purchases", self.purchase, methods=["POST"]),
            Route("/cards/{serial}/purchases/{reference}/refund", self.refund, methods=["POST"]),
            Route("/cards/{serial}/redeem", self.redeem, methods=["POST"]),
            Route("/cards/{serial}/void", self.void, methods=["POST"]),
            Route("/cards/{serial}/personal-data", self.personal_data, methods=["GET", "DELETE"]),
            Route("/cards/{serial}/deliveries", self.deliveries, methods=["GET"]),
            Route("/cards/{serial}/history", self.history, methods=["GET"]),
            Route("/stats", self.stats, methods=["GET"]),
            Route("/messages", self.messages, methods=["GET", "POST"]),
            Route("/webhooks", self.webhooks, methods=["GET", "POST"]),
            Route("/webhooks/{id}", self.remove_webhook, methods=["DELETE"]),
            Route("/webhooks/{id}/resume", self.resume_webhook, methods=["POST"]),
        ]

    async def webhooks(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        if request.method == "GET":
            found = await self.service.webhooks.endpoints(shop)
            return JsonResponse(Webhooks([webhook_answer(e) for e in found]))
        asked = await read_shape(request, self.limit, NewWebhook)
        made, secret = await self.service.webhooks.add(shop, asked.url, asked.events)
        answer = NewWebhookAnswer(made.id, made.url, list(made.events), secret)
        return JsonResponse(answer, status_code=201)

    async def remove_webhook(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        await self.service.webhooks.remove(shop, _endpoint_id(request))
        return Response(status_code=204)

    async def resume_webhook(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        await read_shape(request, self.limit, EmptyRequest)
        endpoint_id = _endpoint_id(request)
        await self.service.webhooks.resume(shop, endpoint_id)
        found = await self.service.webhooks.endpoints(shop)
        (endpoint,) = [e for e in found if e.id == endpoint_id]
        return JsonResponse(webhook_answer(endpoint))

    async def send_message(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        asked = await read_shape(request, self.limit, MessageRequest)
        if asked.preview:
            chosen = await self.campaigns.audience(shop, asked.segment)
            google = await self.campaigns.google_reach(shop, chosen.recipients)
            reach = answers.GoogleReach(google.notified, google.silent)
            return JsonResponse(answers.audience_answer(chosen, google=reach))
        promotion = None
        if asked.multiplier is not None:
            promotion = PromotionRequest(asked.multiplier, asked.starts_at, asked.ends_at)
        bonus = asked.bonus_stamps or 0
        campaign_id, chosen = await self.campaigns.send(
            shop, asked.text or "", asked.segment, asked.send_at, bonus, promotion
        )
        return JsonResponse(answers.audience_answer(chosen, campaign_id), status_code=202)

    async def messages(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.send_message(request)
        shop, _ = await self._shop(request)
        return JsonResponse(answers.Campaigns(await self.campaigns.history(shop)))

    async def _shop(self, request: Request) -> tuple[ShopRow, str]:
        try:
            scheme, _, key = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not key.strip():
                raise Unauthorized("send the shop's API key as 'Authorization: Bearer <key>'")
            shop = await self.service.shops.authenticate(key.strip())
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
        asked = await read_shape(request, self.limit, NewCard)
        customer = None if asked.customer is None else asked.customer.customer()
        view = await self.service.issuing.issue_card(
            shop, actor, referrer=asked.referrer, customer=customer
        )
        return JsonResponse(card_answer(view), status_code=201)

    async def personal_data(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        serial = request.path_params["serial"]
        if request.method == "DELETE":
            erased = await self.service.privacy.erase_personal_data(shop, serial)
            return JsonResponse(answers.Erased(serial, erased))
        found = await self.service.privacy.personal_data(shop, serial)
        return JsonResponse(answers.PersonalData(found["serial"], found["personal_data"]))

    async def get_card(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        view = await self.service.cards.card(shop, request.path_params["serial"])
        return JsonResponse(card_answer(view))

    async def stamp(self, request: Request) -> Response:
        shop, actor = await self._shop(request)
        asked = await read_shape(request, self.limit, StampRequest)
        view = await self.service.changes.stamp(
            shop,
            request.path_params["serial"],
            asked.count,
            actor=actor,
            idempotency_key=request.headers.get("idempotency-key"),
            origin=await self._origin(shop, asked.branch),
        )
        return JsonResponse(card_answer(view))

    async def purchase(self, request: Request) -> Response:
        shop, actor = await self._shop(request)
        asked = await read_shape(request, self.limit, PurchaseRequest)
        bought = await self.service.purchases.purchase(
            shop,
            request.path_params["serial"],
            asked.reference,
            asked.amount,
            asked.currency,
            actor=actor,
            origin=await self._origin(shop, asked.branch),
        )
        answer = answers.purchase_answer(bought.view, bought.purchase, bought.earned)
        return JsonResponse(answer, status_code=201 if bought.new else 200)

    async def refund(self, request: Request) -> Response:
        shop, actor = await self._shop(request)
        await read_shape(request, self.limit, EmptyRequest)
        params = request.path_params
        refunded = await self.service.purchases.refund(
            shop, params["serial"], params["reference"], actor=actor
        )
        return JsonResponse(answers.purchase_answer(refunded.view, refunded.purchase))

    async def deliveries(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        view, found = await self.service.cards.deliveries(shop, request.path_params["serial"])
        return JsonResponse(answers.deliveries_answer(view, found))

    async def history(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        serial, found = await self.service.history.of(shop, request.path_params["serial"])
        return JsonResponse(history_answer(serial, found))

    async def undo_stamp(self, request: Request) -> Response:
        shop, actor = await self._shop(request)
        change_id = whole_number(request.path_params["change_id"])
        if change_id is None:
            raise NotFound("no such change")
        view = await self.service.undo.undo_stamp(
            shop, request.path_params["serial"], change_id, actor=actor
        )
        return JsonResponse(card_answer(view))

    async def void(self, request: Request) -> Response:
        shop, actor = await self._shop(request)
        await read_shape(request, self.limit, EmptyRequest)
        view = await self.service.changes.void(shop, request.path_params["serial"], actor=actor)
        return JsonResponse(card_answer(view))

    async def redeem(self, request: Request) -> Response:
        shop, actor = await self._shop(request)
        asked = await read_shape(request, self.limit, RedeemRequest)
        view = await self.service.changes.redeem(
            shop,
            request.path_params["serial"],
            actor=actor,
            idempotency_key=request.headers.get("idempotency-key"),
            tier=asked.tier,
            origin=await self._origin(shop, asked.branch),
        )
        return JsonResponse(card_answer(view))

    async def stats(self, request: Request) -> Response:
        shop, _ = await self._shop(request)
        query = read_query(dict(request.query_params), StatsQuery)
        branch = (
            None if query.branch is UNSET else await self.service.shops.branch(shop, query.branch)
        )
        today = datetime.now(UTC).date()
        found = await load_stats(self.service.store, shop.id, today, branch)
        async with self.service.store.reading() as conn:
            totals = await program_totals(conn, shop.id)
            responses = await campaign_responses(conn, shop.id)
        success = success_json(found, totals, responses, *query.amounts())
        places = await self.service.shops.locations(shop)
        names = {place.id: place.label for place in places if place.id is not None}
        figures = stats_json(found, names)
        return JsonResponse(answers.stats_answer(figures, success))

    async def _origin(self, shop: ShopRow, branch: int | str | None) -> Origin:
        """Where a change happened, as asked; the key is its own actor (no person)."""
        if branch is None:
            return NO_ORIGIN
        return Origin(branch_id=await self.service.shops.branch(shop, branch))


def _endpoint_id(request: Request) -> int:
    endpoint_id = whole_number(request.path_params["id"])
    if endpoint_id is None:
        raise NotFound("no such webhook endpoint")
    return endpoint_id
