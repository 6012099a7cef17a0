"""HTTP/2 requests over one connection: h2's state machine on an asyncio TLS transport.

What the APNs client needs and no more: a request is a HEADERS and a DATA frame on a stream
of its own, at most `max_streams` at once and fewer when the peer's
SETTINGS_MAX_CONCURRENT_STREAMS says so, a stream opened only when the flow-control window
has room for its body; the frames of one turn of the event loop leave in one TLS write.
A general HTTP client's layers per request (URL and header objects, connection-pool
bookkeeping, anyio streams) cost several times what the frames do.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from dataclasses import dataclass, field
from typing import cast

import h2.config
import h2.connection
import h2.events
import h2.exceptions


class Http2Error(Exception):
    """A request got no answer (the caller may try it again)."""


class ConnectError(Http2Error):
    """The connection could not be opened (refused, TLS handshake, timeout)."""


class ConnectionLost(Http2Error):
    """The connection broke before the peer answered."""


class StreamRefused(Http2Error):
    """The peer reset the request's stream, or went away (GOAWAY) before handling it."""


class AnswerTimeout(Http2Error):
    """No answer within the timeout."""


@dataclass
class Response:
    """A request's answer, complete once `future` is done."""

    future: asyncio.Future[Response]
    status: int = 0
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)


class Http2Connection(asyncio.Protocol):
    """One HTTP/2 client connection: h2's state machine over an asyncio TLS transport."""

    def __init__(self, max_streams: int, patience: float, body_size: int = 0) -> None:
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self._loop = asyncio.get_running_loop()
        self._max_streams = max_streams
        self._patience = patience  # seconds a request may wait for its answer
        # Requests carry bodies of this size: a stream opens only when the window has room.
        self._body_size = body_size
        self._transport: asyncio.Transport | None = None
        self._responses: dict[int, Response] = {}
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._flush_soon = False
        self.open = 0
        # Set by the peer's first SETTINGS frame: only then are its stream limits known.
        self.settled: asyncio.Future[None] = self._loop.create_future()
        # Once set, the connection takes no new streams.
        self.error: Http2Error | None = None

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
        detail = f"connection lost: {exc}" if exc else "the peer closed the connection"
        self._fail(ConnectionLost(detail), exc)

    def _on(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            response = self._responses.get(event.stream_id)
            if response is not None:
                response.headers = dict(event.headers)
                response.status = int(response.headers[b":status"])
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
        self.error = StreamRefused(f"the peer closed the connection (GOAWAY {event.error_code!r})")
        last = event.last_stream_id or 0
        for stream_id in [sid for sid in self._responses if sid > last]:
            self._responses.pop(stream_id).future.set_exception(self.error)
        self._admit()

    def _fail(self, error: Http2Error, cause: BaseException | None) -> None:
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
        return (
            self.open < self._limit() and self._h2.outbound_flow_control_window >= self._body_size
        )

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

    async def request(self, headers: list[tuple[bytes, bytes]], body: bytes) -> Response:
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
            response = Response(self._loop.create_future())
            self._responses[stream_id] = response
            self._schedule_flush()
            try:
                async with asyncio.timeout(self._patience):
                    return await response.future
            except TimeoutError:
                if self._responses.pop(stream_id, None) is not None:
                    self._reset(stream_id)
                raise AnswerTimeout(f"no answer within {self._patience:g} s") from None
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


async def open_connection(
    host: str,
    port: int,
    context: ssl.SSLContext,
    *,
    max_streams: int,
    patience: float,
    body_size: int,
) -> Http2Connection:
    """A connection whose peer agreed to HTTP/2 and sent its SETTINGS, within `patience` s."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(patience):
            transport, connection = await loop.create_connection(
                lambda: Http2Connection(max_streams, patience, body_size),
                host,
                port,
                ssl=context,
                server_hostname=host,
            )
            await connection.settled
    except Http2Error:
        raise
    except (OSError, TimeoutError) as error:
        raise ConnectError(str(error) or type(error).__name__) from error
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
        transport.close()
        raise ConnectError("the peer did not agree to HTTP/2 (ALPN)")
    return connection
