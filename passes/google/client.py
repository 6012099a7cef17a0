"""The Google Wallet REST API (walletobjects v1) for loyalty classes and objects, over httpx."""

from __future__ import annotations

import secrets
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from passes.errors import ConfigError
from passes.google.config import GoogleAccount
from passes.google.errors import (
    GoogleAuthError,
    GoogleQuotaExceeded,
    GoogleRequestError,
    GoogleUnavailable,
)
from passes.google.token import AccessTokens
from passes.http_clients import HttpClient
from passes.inputs import whole_number

Resource = dict[str, Any]
# The `reason`s Google gives when a quota, not our credentials, refused a call.
QUOTA_REASONS = frozenset(
    {"quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded"}
)


class GoogleWalletClient(HttpClient):
    """One connection pool and one token cache for all calls; close it with `aclose`."""

    def __init__(
        self,
        account: GoogleAccount,
        *,
        ca_file: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._base = account.config.api_url
        self._http = httpx.AsyncClient(verify=trust(ca_file), timeout=timeout, transport=transport)
        self._tokens = AccessTokens(account, self._http, clock)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def insert_class(self, resource: Resource) -> Resource:
        """POST loyaltyClass."""
        return await self._call("POST", "loyaltyClass", resource)

    async def get_class(self, class_id: str) -> Resource:
        """GET loyaltyClass/{id}."""
        return await self._call("GET", f"loyaltyClass/{_quote(class_id)}")

    async def patch_class(self, resource: Resource) -> Resource:
        """PATCH loyaltyClass/{id} with the fields given."""
        return await self._call("PATCH", f"loyaltyClass/{_quote(resource['id'])}", resource)

    async def insert_object(self, resource: Resource) -> Resource:
        """POST loyaltyObject."""
        return await self._call("POST", "loyaltyObject", resource)

    async def get_object(self, object_id: str) -> Resource:
        """GET loyaltyObject/{id}."""
        return await self._call("GET", f"loyaltyObject/{_quote(object_id)}")

    async def patch_object(self, resource: Resource) -> Resource:
        """PATCH loyaltyObject/{id}; Google updates the pass silently unless notifyPreference asks."""
        return await self._call("PATCH", f"loyaltyObject/{_quote(resource['id'])}", resource)

    async def add_message(
        self,
        object_id: str,
        header: str,
        body: str,
        message_id: str | None = None,
        *,
        notify: bool = True,
        shown: tuple[datetime, datetime] | None = None,
    ) -> Resource:
        """Show a message on the pass; `notify` makes it TEXT_AND_NOTIFY (Google allows 3
        notifications a day per pass), else plain TEXT. `shown` is its displayInterval."""
        message: Resource = {
            "header": header,
            "body": body,
            "id": message_id or secrets.token_hex(8),
            "messageType": "TEXT_AND_NOTIFY" if notify else "TEXT",
        }
        if shown is not None:
            message["displayInterval"] = {"start": _moment(shown[0]), "end": _moment(shown[1])}
        path = f"loyaltyObject/{_quote(object_id)}/addMessage"
        return await self._call("POST", path, {"message": message})

    async def ensure_class(self, resource: Resource) -> Resource:
        """Insert the class, or patch it when it exists already."""
        try:
            return await self.insert_class(resource)
        except GoogleRequestError as exc:
            if not exc.conflict:
                raise
        return await self.patch_class(resource)

    async def upsert_object(self, resource: Resource) -> Resource:
        """Patch the object, or insert it when Google does not know it yet."""
        try:
            return await self.patch_object(resource)
        except GoogleRequestError as exc:
            if not exc.not_found:
                raise
        try:
            return await self.insert_object(resource)
        except GoogleRequestError as exc:
            if not exc.conflict:  # another worker inserted it meanwhile
                raise
        return await self.patch_object(resource)

    async def _call(self, method: str, path: str, body: Resource | None = None) -> Resource:
        url = f"{self._base}/{path}"
        for first in (True, False):
            headers = {"Authorization": f"Bearer {await self._tokens.get()}"}
            try:
                response = await self._http.request(method, url, json=body, headers=headers)
            except httpx.TransportError as exc:
                raise GoogleUnavailable(f"{method} {path}: {type(exc).__name__}") from None
            if response.status_code == 401 and first:
                self._tokens.invalidate()
                continue
            break
        return _result(method, path, response)


def _result(method: str, path: str, response: httpx.Response) -> Resource:
    status = response.status_code
    if 200 <= status < 300:
        try:
            body = response.json() if response.content else {}
        except ValueError:
            raise GoogleUnavailable(
                f"{method} {path}: {status} with a body that is not JSON", status
            ) from None
        return body if isinstance(body, dict) else {}
    text, reasons = _error_of(response)
    message = f"{method} {path}: {status} {text}"
    if status == 429 or status >= 500:
        raise GoogleUnavailable(message, status, _retry_after(response))
    if status == 403 and reasons & QUOTA_REASONS:
        # Google's answer to a 4th notification in 24 h: 403, reason quotaExceeded.
        raise GoogleQuotaExceeded(f"{message} ({', '.join(sorted(reasons))})", status)
    if status in (401, 403):
        raise GoogleAuthError(message, status)
    raise GoogleRequestError(message, status)


def _error_of(response: httpx.Response) -> tuple[str, set[str]]:
    """Google's error message and the `reason`s of its `errors` list."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return response.text[:300], set()
    if not isinstance(error, dict):
        return str(error)[:300], set()
    listed = error.get("errors")
    reasons = {
        str(item.get("reason"))
        for item in (listed if isinstance(listed, list) else [])
        if isinstance(item, dict) and item.get("reason")
    }
    return str(error.get("message", ""))[:300], reasons


def _moment(value: datetime) -> Resource:
    """A walletobjects DateTime: ISO 8601 with its offset, so it is one instant everywhere."""
    return {"date": value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")}


def _retry_after(response: httpx.Response) -> float | None:
    seconds = whole_number(response.headers.get("retry-after", ""), 9)
    return None if seconds is None else float(seconds)


def _quote(resource_id: str) -> str:
    return quote(resource_id, safe="")


def trust(ca_file: str | None) -> ssl.SSLContext | bool:
    """What outbound HTTPS trusts: the system store, or SSL_CERT_FILE when set."""
    if ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"SSL_CERT_FILE={ca_file}: cannot load trusted certificates ({exc}) — "
            "point it at a PEM bundle or unset it"
        ) from None
