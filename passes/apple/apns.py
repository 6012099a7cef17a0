"""APNs client for Wallet pass updates: one HTTP/2 connection per identity, certificate TLS.

HTTP/2 is spoken with h2's state machine directly over an asyncio TLS transport: a push is a
HEADERS and a DATA frame, and a general HTTP client's layers per request (URL and header
objects, connection-pool bookkeeping, anyio streams) cost several times what the frames do.
At most `max_streams` pushes are in flight, fewer when APNs's SETTINGS_MAX_CONCURRENT_STREAMS
says so; writes of one turn of the event loop leave in one TLS write.
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
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal, cast
from urllib.parse import urlsplit

import certifi
import h2.config
import h2.connection
import h2.events
import h2.exceptions
from cryptography.hazmat.primitives import serialization

from passes.apple.identity import SigningIdentity

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


class ApnsError(Exception):
    """A push got no answer from APNs (the outbox tries it again later)."""


class ConnectError(ApnsError):
    """The connection to APNs could not be opened (refused, TLS handshake, timeout)."""


class ConnectionLost(ApnsError):
    """The connection broke before APNs answered."""


class StreamRefused(ApnsError):
    """APNs reset the push's stream, or went away (GOAWAY) before handling it."""


class PushTimeout(ApnsError):
    """No answer within the timeout."""


@dataclass
class _Response:
    future: asyncio.Future[_Response]
    status: int = 0
    apns_id: str | None = None
    body: list[bytes] = field(default_factory=list)


class _Http2(asyncio.Protocol):
    """One HTTP/2 client connection: h2's state machine over an asyncio TLS transport."""

    def __init__(self, max_streams: int, patience: float) -> None:
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self._loop = asyncio.get_running_loop()
        self._max_streams = max_streams
        self._patience = patience  # seconds a push may wait for its answer
        self._transport: asyncio.Transport | None = None
        self._responses: dict[int, _Response] = {}
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._flush_soon = False
        self.open = 0
        # Set by the peer's first SETTINGS frame: only then are its stream limits known.
        self.settled: asyncio.Future[None] = self._loop.create_future()
        # Once set, the connection takes no new streams.
        self.error: ApnsError | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio.Transport, but write all the same.
        self._transport = cast(asyncio.Transport, transport)
        self._h2.initiate_connection()
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._fail(ConnectionLost(f"HTTP/2 protocol error: {exc}"), exc)
            if self._transport is not None:
                self._transport.close()
            return
        for event in events:
            self._on(event)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        detail = f"connection lost: {exc}" if exc else "APNs closed the connection"
        self._fail(ConnectionLost(detail), exc)

    def _on(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            response = self._responses.get(event.stream_id)
            if response is not None:
                headers = dict(event.headers)
                response.status = int(headers[b":status"])
                apns_id = headers.get(b"apns-id")
                response.apns_id = apns_id.decode("latin-1") if apns_id else None
        elif isinstance(event, h2.events.DataReceived):
            self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            if (response := self._responses.get(event.stream_id)) is not None:
                response.body.append(event.data)
        elif isinstance(event, h2.events.StreamEnded):
            if (response := self._responses.pop(event.stream_id, None)) is not None:
                response.future.set_result(response)
        elif isinstance(event, h2.events.StreamReset):
            if (response := self._responses.pop(event.stream_id, None)) is not None:
                response.future.set_exception(StreamRefused(f"stream reset ({event.error_code!r})"))
        elif isinstance(event, h2.events.RemoteSettingsChanged | h2.events.WindowUpdated):
            if not self.settled.done():
                self.settled.set_result(None)
            self._admit()
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._going_away(event)

    def _going_away(self, event: h2.events.ConnectionTerminated) -> None:
        """GOAWAY: streams above its last id were never handled; the others may still answer."""
        self.error = StreamRefused(f"APNs closed the connection (GOAWAY {event.error_code!r})")
        last = event.last_stream_id or 0
        for stream_id in [sid for sid in self._responses if sid > last]:
            self._responses.pop(stream_id).future.set_exception(self.error)
        self._admit()

    def _fail(self, error: ApnsError, cause: BaseException | None) -> None:
        error.__cause__ = cause
        if self.error is None or isinstance(self.error, StreamRefused):
            self.error = error
        if not self.settled.done():
            self.settled.set_exception(error)
            self.settled.exception()  # retrieved: nobody may be waiting for it any more
        for response in self._responses.values():
            response.future.set_exception(error)
        self._responses.clear()
        self._admit()

    def _limit(self) -> int:
        return min(self._max_streams, self._h2.remote_settings.max_concurrent_streams)

    def _has_room(self) -> bool:
        return self.open < self._limit() and self._h2.outbound_flow_control_window >= len(PAYLOAD)

    def _admit(self) -> None:
        """Let waiting pushes open streams as far as the limits allow (all of them fail once
        the connection is broken)."""
        while self._waiting and (self.error is not None or self._has_room()):
            waiter = self._waiting.popleft()
            if waiter.done():  # cancelled
                continue
            if self.error is not None:
                waiter.set_exception(self.error)
            else:
                self.open += 1
                waiter.set_result(None)

    async def _stream_slot(self) -> None:
        if self.error is not None:
            raise self.error
        if not self._waiting and self._has_room():
            self.open += 1
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiting.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release()
            raise

    def _release(self) -> None:
        self.open -= 1
        self._admit()

    async def request(self, headers: list[tuple[bytes, bytes]], body: bytes) -> _Response:
        """Send one request on a stream of its own; the whole response once it has ended."""
        await self._stream_slot()
        try:
            if self.error is not None:
                raise self.error
            stream_id = self._h2.get_next_available_stream_id()
            try:
                self._h2.send_headers(stream_id, headers)
                self._h2.send_data(stream_id, body, end_stream=True)
            except h2.exceptions.H2Error as exc:  # the connection's state forbids it: a new one
                broken = ConnectionLost(f"HTTP/2: {exc!r}")
                self._fail(broken, exc)
                self.close()
                raise broken from exc
            response = _Response(self._loop.create_future())
            self._responses[stream_id] = response
            self._schedule_flush()
            try:
                async with asyncio.timeout(self._patience):
                    return await response.future
            except TimeoutError:
                if self._responses.pop(stream_id, None) is not None:
                    self._reset(stream_id)
                raise PushTimeout(f"no answer within {self._patience:g} s") from None
        finally:
            self._release()

    def _reset(self, stream_id: int) -> None:
        try:
            self._h2.reset_stream(stream_id)
        except h2.exceptions.H2Error:
            return
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_soon:
            self._flush_soon = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_soon = False
        data = self._h2.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


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
        url = urlsplit(base_url)
        self._host = url.hostname or "localhost"
        self._port = url.port or 443
        self._timeout = timeout
        self._max_streams = max_streams
        self._context = _tls_context(identity, ca_file)
        self._context.set_alpn_protocols(["h2"])
        self._connection: _Http2 | None = None
        self._opening: asyncio.Task[_Http2] | None = None
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
        headers = self._headers.copy()
        headers[3] = (b":path", b"/3/device/" + token.encode())
        try:
            connection = await self._connected()
            response = await connection.request(headers, PAYLOAD)
        except ApnsError as error:
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

    async def _connected(self) -> _Http2:
        """The open connection, or one opened now; pushes that ask meanwhile share the attempt
        (a dead APNs costs one failed attempt per round, not one per push)."""
        connection = self._connection
        if connection is not None and connection.error is None:
            return connection
        if self._opening is None or self._opening.done():
            self._opening = asyncio.create_task(self._open())
        return await asyncio.shield(self._opening)

    async def _open(self) -> _Http2:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                transport, connection = await loop.create_connection(
                    lambda: _Http2(self._max_streams, self._timeout),
                    self._host,
                    self._port,
                    ssl=self._context,
                    server_hostname=self._host,
                )
                await connection.settled
        except ApnsError:
            raise
        except (OSError, TimeoutError) as error:
            detail = str(error) or type(error).__name__
            raise ConnectError(detail) from error
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
            transport.close()
            raise ConnectError("APNs did not agree to HTTP/2 (ALPN)")
        self._connection = connection
        return connection

    def _answered(self, token: str, response: _Response) -> PushResult:
        status = response.status
        body = b"".join(response.body)
        reason = None if status == 200 else _reason(body)
        outcome = classify(status, reason)
        log.debug("APNs %s: %s %s", short_token(token), status, reason or "")
        self._note_certificate(outcome, f"{status} {reason}")
        gone_at = _gone_at(body) if status == 410 else None
        return PushResult(token, status, reason, outcome, response.apns_id, gone_at)

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
