"""OAuth2 access tokens for the service account (JWT-bearer grant), cached until near expiry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from passes.google.config import GoogleAccount
from passes.google.errors import GoogleAuthError, GoogleUnavailable
from passes.google.jws import RS256Signer

SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600
# Renew this long before expiry so a token never runs out during a request.
REFRESH_MARGIN = 300


class AccessTokens:
    """Fetches one token at a time and hands out the cached one until shortly before expiry."""

    def __init__(
        self,
        account: GoogleAccount,
        http: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = RS256Signer(account.private_key, account.key_id)
        self._email = account.email
        self._token_uri = account.token_uri
        self._http = http
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    async def get(self) -> str:
        """A valid access token, fetching a new one only when needed."""
        async with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._token, lifetime = await self._fetch()
                self._renew_at = self._clock() + max(lifetime - REFRESH_MARGIN, 0)
            return self._token

    def invalidate(self) -> None:
        """Forget the cached token (Google said 401: revoked or expired early)."""
        self._token = None

    async def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": GRANT_TYPE, "assertion": self._assertion()}
        try:
            response = await self._http.post(self._token_uri, data=form)
        except httpx.TransportError as exc:
            raise GoogleUnavailable(f"token request failed: {type(exc).__name__}") from None
        return _parse_token(response)

    def _assertion(self) -> str:
        now = int(self._clock())
        claims = {
            "iss": self._email,
            "scope": SCOPE,
            "aud": self._token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        return self._signer.encode(claims)


def _parse_token(response: httpx.Response) -> tuple[str, float]:
    status = response.status_code
    if status == 429 or status >= 500:
        raise GoogleUnavailable(f"token endpoint answered {status}", status)
    body = _json(response)
    if status != 200 or not isinstance(body.get("access_token"), str):
        reason = body.get("error_description") or body.get("error") or "no access_token"
        raise GoogleAuthError(
            f"token endpoint refused the service account ({status}: {reason}); check the key "
            "file, that the account is enabled and that this machine's clock is right",
            status,
        )
    return body["access_token"], float(body.get("expires_in", ASSERTION_LIFETIME))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
