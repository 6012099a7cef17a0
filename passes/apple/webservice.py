"""Apple's "Wallet Passes web service" under {PASSES_BASE_URL}/wallet, as Apple specifies it."""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from passes.apple.registrations import RegistrationLimits, retry_after
from passes.apple.senders import KnownSenders
from passes.apple.wallet import AppleWallet
from passes.errors import NotFound
from passes.http import HttpError, JsonResponse, error_response, read_json_object
from passes.inputs import whole_number
from passes.ratelimit import RateLimiter
from passes.store import Store
from passes.store.apple import (
    DEVICES_PER_CARD,
    add_device_log,
    is_registered,
    register,
    serials_since,
    unregister,
)
from passes.store.cards import CardRow, card_by_serial_any_shop
from passes.store.shops import ShopRow

PKPASS = "application/vnd.apple.pkpass"
DEVICE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
PUSH_TOKEN = re.compile(r"^[0-9A-Fa-f]{16,200}$")
SERIAL_IN_LOG = re.compile(r"/passes/[^/\s]+/([0-9A-Za-z]{1,32})")
MAX_LOG_LINES = 20
MAX_LOG_LENGTH = 500
# Where a phone fetches its pass (under /wallet).
LATEST_PKPASS_ROUTE = "/v1/passes/{pass_type}/{serial}"


class Unauthorized(HttpError):
    """Apple's web service answers 401 with no body."""

    def __init__(self) -> None:
        super().__init__(401, "unauthorized", "wrong or missing ApplePass token")


class _TooManyDevices(Exception):
    """A new registration over the limits: raised inside the transaction to undo it."""

    def __init__(self, wait: float) -> None:
        super().__init__(wait)
        self.wait = wait


def _now() -> datetime:
    return datetime.now(UTC)


class WalletWebService:
    """Registration, update checks, latest pass and device logs for Apple Wallet."""

    def __init__(
        self,
        store: Store,
        wallet: AppleWallet,
        card_url: Callable[[CardRow], str],
        body_limit: int,
        fresh: Callable[[ShopRow, CardRow], Awaitable[CardRow]],
        *,
        devices_per_card: int = DEVICES_PER_CARD,
        limits: RegistrationLimits | None = None,
    ) -> None:
        self.store = store
        self.wallet = wallet
        self.card_url = card_url
        # The card with what has expired by now recorded (the expiry sweep may lag).
        self.fresh = fresh
        self.body_limit = body_limit
        self.pass_type_id = wallet.identity.pass_type_id
        self.log_limiter = RateLimiter(rate=1.0, burst=20)
        self.senders = KnownSenders()
        self.devices_per_card = devices_per_card
        self.limits = limits or RegistrationLimits()

    def routes(self) -> list[Route]:
        """Routes relative to /wallet."""
        registration = "/v1/devices/{device}/registrations/{pass_type}/{serial}"
        return [
            Route(registration, self.register, methods=["POST"]),
            Route(registration, self.unregister, methods=["DELETE"]),
            Route("/v1/devices/{device}/registrations/{pass_type}", self.updated, methods=["GET"]),
            Route(LATEST_PKPASS_ROUTE, self.latest_pass, methods=["GET"]),
            Route("/v1/log", self.log, methods=["POST"]),
        ]

    def _check_pass_type(self, request: Request) -> None:
        if request.path_params["pass_type"] != self.pass_type_id:
            raise HttpError(404, "not_found", "unknown pass type")

    async def _authorized_card(self, request: Request) -> CardRow:
        """The card named in the path, if the ApplePass token is its own (constant time)."""
        self._check_pass_type(request)
        async with self.store.reading() as conn:
            try:
                card = await card_by_serial_any_shop(conn, request.path_params["serial"])
            except NotFound as exc:
                raise Unauthorized() from exc
        _check_token(request, card)
        self.senders.proved(_client(request), card.id)
        return card

    def _device(self, request: Request) -> str:
        device: str = request.path_params["device"]
        if not DEVICE_ID.match(device):
            raise HttpError(400, "bad_device", "malformed device library identifier")
        return device

    async def register(self, request: Request) -> Response:
        device = self._device(request)
        card = await self._authorized_card(request)
        body = await read_json_object(request, self.body_limit)
        token = body.get("pushToken")
        if not isinstance(token, str) or not PUSH_TOKEN.match(token):
            raise HttpError(400, "bad_push_token", "pushToken must be the device's hex token")
        client = _client(request)
        # Over the limits, only a device the card already has may renew (read, nothing written).
        wait = self.limits.wait(card.id, client)
        if wait and not await self._registered(device, card.id):
            return _too_many(wait)
        try:
            async with self.store.transaction() as conn:
                created = await register(
                    conn, device, token, card.id, _now(), keep=self.devices_per_card
                )
                if created and (wait := self.limits.take(card.id, client)):
                    raise _TooManyDevices(wait)
        except _TooManyDevices as refused:
            return _too_many(refused.wait)
        return Response(status_code=201 if created else 200)

    async def _registered(self, device: str, card_id: int) -> bool:
        async with self.store.reading() as conn:
            return await is_registered(conn, device, card_id)

    async def unregister(self, request: Request) -> Response:
        device = self._device(request)
        card = await self._authorized_card(request)
        async with self.store.transaction() as conn:
            await unregister(conn, device, card.id)
        return Response(status_code=200)

    async def updated(self, request: Request) -> Response:
        device = self._device(request)
        self._check_pass_type(request)
        since = request.query_params.get("passesUpdatedSince") or None
        tag = None if since is None else whole_number(since)
        if since is not None and tag is None:
            raise HttpError(400, "bad_tag", "passesUpdatedSince must be a lastUpdated we sent")
        async with self.store.reading() as conn:
            serials, last_updated = await serials_since(conn, device, tag)
        if not serials:
            return Response(status_code=204)
        return JsonResponse({"serialNumbers": serials, "lastUpdated": str(last_updated)})

    async def latest_pass(self, request: Request) -> Response:
        """The card's pass as it is now, read in one round trip; 304 if the phone has it."""
        self._check_pass_type(request)
        found = await self.store.passes.by_serial(request.path_params["serial"])
        if found is None:
            raise Unauthorized()
        _check_token(request, found.card)
        self.senders.proved(_client(request), found.card.id)
        card = await self.fresh(found.shop, found.card)
        self.store.fetches.note(card.id, _now())
        modified = card.pass_modified_at
        headers = {
            "Last-Modified": format_datetime(modified, usegmt=True),
            "Cache-Control": "no-cache",
        }
        since = _http_date(request.headers.get("if-modified-since"))
        if since is not None and modified <= since:
            return Response(status_code=304, headers=headers)
        data = await self.wallet.pass_file(found.shop, card, self.card_url(card), found.places)
        return Response(data, media_type=PKPASS, headers=headers)

    async def log(self, request: Request) -> Response:
        """Device log lines (no token): the card's own only from an address that proved it."""
        client = _client(request)
        if not self.log_limiter.allow(client):
            raise HttpError(429, "rate_limited", "too many log messages")
        # Lines are made printable below, so any text is taken.
        body = await read_json_object(request, self.body_limit, any_text=True)
        lines = body.get("logs")
        if not isinstance(lines, list):
            raise HttpError(400, "bad_logs", 'send {"logs": ["…"]}')
        messages = [_clean(line) for line in lines[:MAX_LOG_LINES] if isinstance(line, str)]
        async with self.store.transaction() as conn:
            for message in messages:
                card_id = await _card_in(conn, message)
                verified = card_id is not None and self.senders.knows(client, card_id)
                await add_device_log(conn, card_id, message, _now(), verified=verified)
        return Response(status_code=200)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many(wait: float) -> Response:
    return error_response(
        429,
        "rate_limited",
        "too many new devices for this pass or from this address; retry later",
        **{"Retry-After": retry_after(wait)},
    )


def _check_token(request: Request, card: CardRow) -> None:
    """Unauthorized unless the request carries the card's ApplePass token (constant time)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = card.auth_token.encode()
    if scheme != "ApplePass" or not hmac.compare_digest(token.encode(), expected):
        raise Unauthorized()


async def _card_in(conn: AsyncConnection, message: str) -> int | None:
    """The card a device log line speaks of, if it names one of ours. Never acted upon."""
    match = SERIAL_IN_LOG.search(message)
    if match is None:
        return None
    try:
        card = await card_by_serial_any_shop(conn, match.group(1))
    except NotFound:
        return None
    return card.id


def _clean(line: str) -> str:
    printable = "".join(ch if ch.isprintable() else " " for ch in line)
    return printable[:MAX_LOG_LENGTH]


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
