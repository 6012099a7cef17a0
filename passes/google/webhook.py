"""POST /wallet/google/callback: Google says a customer saved or deleted a card's object.

Google's root keys are fetched on the first callback (never at start-up) and kept until they
expire; a callback is applied once per nonce, since Google retries them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from passes.errors import InvalidInput
from passes.google.callbacks import PROTOCOL, CallbackVerifier, fetch_root_keys
from passes.google.errors import GoogleUnavailable
from passes.google.wallet import CALLBACK_PATH
from passes.http import JsonResponse, error_response, read_body
from passes.inputs import whole_number
from passes.store import Store
from passes.store.google import record_callback

log = logging.getLogger("passes.google")

# Keys are fetched again after this long even when they claim to live longer (rotation).
KEYS_MAX_AGE = 86400.0
# After a failed or useless fetch, wait this long before asking Google again.
KEYS_RETRY = 60.0


class RootKeys:
    """Google's callback root keys, fetched lazily and cached until the first of them expires."""

    def __init__(
        self,
        issuer_id: str,
        http: httpx.AsyncClient,
        url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer_id = issuer_id
        self._http = http
        self._url = url
        self._clock = clock
        self._lock = asyncio.Lock()
        self._verifier: CallbackVerifier | None = None
        self._fetched = 0.0
        self._until = 0.0

    async def verifier(self) -> CallbackVerifier:
        """A verifier over current keys; GoogleUnavailable when they are out of reach."""
        async with self._lock:
            if self._verifier is None or self._clock() >= self._until:
                try:
                    keys = await fetch_root_keys(self._http, self._url)
                    self._verifier = CallbackVerifier(self._issuer_id, keys)
                except (httpx.HTTPError, ValueError, KeyError, AttributeError, InvalidInput) as exc:
                    raise GoogleUnavailable(f"{self._url}: no usable keys ({exc})") from None
                self._fetched = self._clock()
                self._until = self._fetched + _lifetime(keys, self._fetched)
            return self._verifier

    def doubt(self) -> None:
        """A callback did not verify: Google may have rotated its keys, so fetch again soon."""
        self._until = min(self._until, self._fetched + KEYS_RETRY)


def _lifetime(keys: list[dict[str, Any]], now: float) -> float:
    millis = [
        whole_number(str(key.get("keyExpiration", "")))
        for key in keys
        if key.get("protocolVersion") == PROTOCOL
    ]
    expiries = [value / 1000 - now for value in millis if value is not None]
    live = [seconds for seconds in expiries if seconds > 0]
    return min([KEYS_MAX_AGE, *live]) if live else KEYS_RETRY


class GoogleCallbacks:
    """The callback route over one store; the verifier is built on first use."""

    def __init__(self, keys: RootKeys, store: Store, max_body_bytes: int) -> None:
        self.keys = keys
        self.store = store
        self.limit = max_body_bytes

    def routes(self) -> list[Route]:
        """The one route, at its full path."""
        return [Route(CALLBACK_PATH, self.callback, methods=["POST"])]

    async def callback(self, request: Request) -> Response:
        body = await read_body(request, self.limit)
        try:
            verifier = await self.keys.verifier()
        except GoogleUnavailable as exc:
            log.error("cannot fetch Google's callback keys: %s", exc)
            return _unavailable("Google's callback signing keys are out of reach; retry later")
        try:
            event = verifier.verify(body)
        except InvalidInput as exc:
            self.keys.doubt()
            return error_response(400, "invalid_callback", str(exc))
        try:
            async with self.store.transaction() as conn:
                outcome = await record_callback(
                    conn, event.nonce, event.object_id, event.event_type == "save", _now()
                )
        except Exception:  # Google retries a callback that failed; a 500 would only hide why
            log.exception("could not record Google callback %s", event.event_type)
            return _unavailable("the callback could not be recorded; retry later")
        if outcome == "unknown":
            log.info("Google callback for unknown object %s ignored", event.object_id)
        return JsonResponse({"outcome": outcome, "event": event.event_type})


def _unavailable(message: str) -> Response:
    return error_response(503, "unavailable", message, **{"Retry-After": "60"})


def _now() -> datetime:
    return datetime.now(UTC)
