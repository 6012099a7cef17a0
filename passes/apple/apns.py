"""APNs client for Wallet pass updates: one HTTP/2 connection per identity, certificate TLS.

HTTP/2 is spoken by passes/apple/http2.py (h2 directly over an asyncio TLS transport): at
most `max_streams` pushes in flight, fewer when APNs's SETTINGS_MAX_CONCURRENT_STREAMS says so.
"""

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import certifi
from cryptography.hazmat.primitives import serialization

from passes.apple.http2 import Http2Connection, Http2Error, Response, open_connection
from passes.apple.identity import SigningIdentity
from passes.http_clients import HttpClient

log = logging.getLogger(__name__)

Outcome = Literal["delivered", "unregistered", "retry", "certificate", "failed"]

TOKEN_PATTERN = re.compile(r"[0-9A-Fa-f]{16,200}")
GONE_REASONS = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic"})
# OpenSSL reasons for an alert the peer sends when it rejects *our* certificate.
REFUSED_CERT_MARKERS = ("ALERT_BAD_CERTIFICATE", "ALERT_UNKNOWN_CA", "ALERT_CERTIFICATE")
MAX_STREAMS = 100
PAYLOAD = b"{}"


@dataclass(frozen=True)
class PushResult:
    """What APNs said about one push token, and what the outbox should do next."""

    token: str
    status: int | None
    reason: str | None
    outcome: Outcome
    apns_id: str | None
    # A 410's `timestamp`: since when the token is no longer valid for the topic.
    gone_at: datetime | None = None


class ApnsClient(HttpClient):
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
        url = urlsplit(base_url)
        self._host = url.hostname or "localhost"
        self._port = url.port or 443
        self._timeout = timeout
        self._max_streams = max_streams
        self._context = _tls_context(identity, ca_file)
        self._context.set_alpn_protocols(["h2"])
        self._connection: Http2Connection | None = None
        self._opening: asyncio.Task[Http2Connection] | None = None
        self._refused = False
        self._headers = [
            (b":method", b"POST"),
            (b":scheme", b"https"),
            (b":authority", url.netloc.encode()),
            (b":path", b""),
            (b"apns-topic", self._topic.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(PAYLOAD)).encode()),
        ]

    async def push(self, token: str) -> PushResult:
        """Notify the device behind `token` that its pass changed; never raises for APNs errors."""
        if not TOKEN_PATTERN.fullmatch(token):
            return PushResult(token, None, "BadDeviceToken", "unregistered", None)
        headers = self._headers.copy()
        headers[3] = (b":path", b"/3/device/" + token.encode())
        try:
            connection = await self._connected()
            response = await connection.request(headers, PAYLOAD)
        except Http2Error as error:
            return self._failed(token, error)
        return self._answered(token, response)

    async def push_many(self, tokens: Sequence[str]) -> list[PushResult]:
        """Push to all `tokens` as concurrent streams; results in the order of `tokens`."""
        return list(await asyncio.gather(*(self.push(token) for token in tokens)))

    async def aclose(self) -> None:
        """Close the connection to APNs."""
        if self._opening is not None and not self._opening.done():
            self._opening.cancel()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def _connected(self) -> Http2Connection:
        """The open connection, or one opened now; pushes that ask meanwhile share the attempt
        (a dead APNs costs one failed attempt per round, not one per push)."""
        connection = self._connection
        if connection is not None and connection.error is None:
            return connection
        if self._opening is None or self._opening.done():
            self._opening = asyncio.create_task(self._open())
        return await asyncio.shield(self._opening)

    async def _open(self) -> Http2Connection:
        connection = await open_connection(
            self._host,
            self._port,
            self._context,
            max_streams=self._max_streams,
            patience=self._timeout,
            body_size=len(PAYLOAD),
        )
        self._connection = connection
        return connection

    def _answered(self, token: str, response: Response) -> PushResult:
        status = response.status
        body = b"".join(response.body)
        reason = None if status == 200 else _reason(body)
        outcome = classify(status, reason)
        log.debug("APNs %s: %s %s", short_token(token), status, reason or "")
        self._note_certificate(outcome, f"{status} {reason}")
        gone_at = _gone_at(body) if status == 410 else None
        apns_id = response.headers.get(b"apns-id")
        apns_id_text = apns_id.decode("latin-1") if apns_id else None
        return PushResult(token, status, reason, outcome, apns_id_text, gone_at)

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


def _json(body: bytes) -> dict[str, object]:
    try:
        found = json.loads(body)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _reason(body: bytes) -> str | None:
    reason = _json(body).get("reason")
    return reason if isinstance(reason, str) else None


def _gone_at(body: bytes) -> datetime | None:
    """A 410's `timestamp` (ms since the epoch), if it carries a sensible one."""
    stamp = _json(body).get("timestamp")
    if not isinstance(stamp, int | float) or isinstance(stamp, bool):
        return None
    try:
        return datetime.fromtimestamp(stamp / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


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
