"""APNs client for Wallet pass updates: one HTTP/2 connection per identity, certificate TLS."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import ssl
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import certifi
import httpx
from cryptography.hazmat.primitives import serialization

from passes.apple.identity import SigningIdentity

log = logging.getLogger(__name__)

Outcome = Literal["delivered", "unregistered", "retry", "certificate", "failed"]

TOKEN_PATTERN = re.compile(r"[0-9A-Fa-f]{16,200}")
GONE_REASONS = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic"})
# OpenSSL reasons for an alert the peer sends when it rejects *our* certificate.
REFUSED_CERT_MARKERS = ("ALERT_BAD_CERTIFICATE", "ALERT_UNKNOWN_CA", "ALERT_CERTIFICATE")
MAX_STREAMS = 100


@dataclass(frozen=True)
class PushResult:
    """What APNs said about one push token, and what the outbox should do next."""

    token: str
    status: int | None
    reason: str | None
    outcome: Outcome
    apns_id: str | None


class ApnsClient:
    """Posts empty pass-update notifications over one long-lived HTTP/2 connection."""

    def __init__(
        self,
        identity: SigningIdentity,
        base_url: str,
        *,
        ca_file: str | None = None,
        timeout: float = 10.0,
        max_streams: int = MAX_STREAMS,
    ) -> None:
        self._topic = identity.pass_type_id
        self._base_url = base_url.rstrip("/")
        self._streams = asyncio.Semaphore(max_streams)
        self._refused = False
        self._client = httpx.AsyncClient(
            http1=False,
            http2=True,
            verify=_tls_context(identity, ca_file),
            timeout=timeout,
            limits=httpx.Limits(max_connections=1, keepalive_expiry=3600.0),
            trust_env=False,
        )

    async def __aenter__(self) -> ApnsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def push(self, token: str) -> PushResult:
        """Notify the device behind `token` that its pass changed; never raises for APNs errors."""
        if not TOKEN_PATTERN.fullmatch(token):
            return PushResult(token, None, "BadDeviceToken", "unregistered", None)
        async with self._streams:
            try:
                response = await self._client.post(
                    f"{self._base_url}/3/device/{token}",
                    content=b"{}",
                    headers={"apns-topic": self._topic, "content-type": "application/json"},
                )
            # anyio lets a TLS alert that arrives after the handshake escape as ssl.SSLError.
            except (httpx.RequestError, OSError) as error:
                return self._failed(token, error)
        return self._answered(token, response)

    async def push_many(self, tokens: Sequence[str]) -> list[PushResult]:
        """Push to all `tokens` as concurrent streams; results in the order of `tokens`."""
        return list(await asyncio.gather(*(self.push(token) for token in tokens)))

    async def aclose(self) -> None:
        """Close the connection to APNs."""
        await self._client.aclose()

    def _answered(self, token: str, response: httpx.Response) -> PushResult:
        reason = None if response.status_code == 200 else _reason(response)
        outcome = classify(response.status_code, reason)
        log.debug("APNs %s: %s %s", short_token(token), response.status_code, reason or "")
        self._note_certificate(outcome, f"{response.status_code} {reason}")
        return PushResult(
            token, response.status_code, reason, outcome, response.headers.get("apns-id")
        )

    def _failed(self, token: str, error: Exception) -> PushResult:
        reason = _describe(error)
        outcome: Outcome = "certificate" if _peer_refused_certificate(error) else "retry"
        log.debug("APNs %s: no answer (%s)", short_token(token), reason)
        self._note_certificate(outcome, f"TLS {reason}")
        return PushResult(token, None, reason, outcome, None)

    def _note_certificate(self, outcome: Outcome, detail: str) -> None:
        # One ERROR line per refusal episode, not one per token of a large batch.
        if outcome == "certificate" and not self._refused:
            log.error(
                "APNs refused the Pass Type ID certificate (%s): check certs/ — APNs needs the "
                "Apple-issued certificate for %s, unexpired and not revoked "
                "(a dev identity never works against Apple)",
                detail,
                self._topic,
            )
        if outcome in ("certificate", "delivered"):
            self._refused = outcome == "certificate"


def classify(status: int, reason: str | None) -> Outcome:
    """Map an APNs status (and reason) to what the outbox should do."""
    if status == 200:
        return "delivered"
    if status == 410 or (status == 400 and reason in GONE_REASONS):
        return "unregistered"
    if status == 429 or status >= 500:
        return "retry"
    if status == 403:
        return "certificate"
    return "failed"


def backoff_seconds(
    attempt: int,
    *,
    base: float = 1.0,
    cap: float = 300.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Delay before retry number `attempt` (0 first): full jitter in [0, min(cap, base·2^attempt))."""
    ceiling = min(cap, base * 2.0 ** min(max(attempt, 0), 64))
    return rand() * ceiling


def short_token(token: str) -> str:
    """A push token shortened for logs: device tokens identify a phone."""
    return f"{token[:8]}…"


def _reason(response: httpx.Response) -> str | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else None


def _describe(error: BaseException) -> str:
    root = error
    while root.__cause__ or root.__context__:
        root = root.__cause__ or root.__context__  # type: ignore[assignment]
    detail = str(error) or str(root) or type(root).__name__
    return f"{type(error).__name__}: {detail}"


def _peer_refused_certificate(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            text = str(cause.reason or cause)
            return any(marker in text for marker in REFUSED_CERT_MARKERS)
        cause = cause.__cause__ or cause.__context__
    return any(marker in str(error) for marker in REFUSED_CERT_MARKERS)


def _tls_context(identity: SigningIdentity, ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_file)
    if ca_file is None:
        context.load_verify_locations(certifi.where())
    _load_client_certificate(context, identity)
    return context


def _load_client_certificate(context: ssl.SSLContext, identity: SigningIdentity) -> None:
    # load_cert_chain only reads files: keep the key on disk for as short as possible.
    pem = serialization.Encoding.PEM
    chain = identity.certificate.public_bytes(pem) + identity.wwdr.public_bytes(pem)
    key = identity.private_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with tempfile.TemporaryDirectory(prefix="passes-apns-") as directory:
        cert_file, key_file = Path(directory, "cert.pem"), Path(directory, "key.pem")
        _write_private(cert_file, chain)
        _write_private(key_file, key)
        try:
            context.load_cert_chain(cert_file, key_file)
        finally:
            key_file.unlink()


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
