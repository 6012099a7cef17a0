"""A local APNs peer for tests: HTTP/2 over TLS that demands a client certificate, like Apple.

In-process: ``async with FakeApns(cert, key, ca) as fake: ... fake.url ... fake.requests``.
Another process: ``python -m tests.fake_apns --cert C --key K --ca CA --record out.jsonl``
prints the port on its first line and serves until SIGINT/SIGTERM; ``--delay 0.05`` answers
each push after 50 ms (as a distant APNs does), ``--announce`` then prints each answered token
on a line of its own (so simulated phones learn of their pushes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypercorn.asyncio import serve
from hypercorn.config import Config

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

REASONS = {
    400: "BadDeviceToken",
    403: "BadCertificate",
    404: "BadPath",
    405: "MethodNotAllowed",
    410: "Unregistered",
    413: "PayloadTooLarge",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}
PREFIX = "/3/device/"


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it."""

    method: str
    path: str
    token: str | None
    http_version: str
    headers: dict[str, str]
    body: str
    client: tuple[str, int] | None
    status: int


@dataclass
class Replies:
    """Which status each token gets: a per-token table, a default, and a burst of failures."""

    default: int = 200
    by_token: dict[str, int] = field(default_factory=dict)
    burst: list[int] = field(default_factory=list)
    # For a 410: when the token stopped being valid (ms since the epoch; default: now).
    gone_at: dict[str, int] = field(default_factory=dict)

    def status_for(self, token: str) -> int:
        if self.burst:
            return self.burst.pop(0)
        return self.by_token.get(token, self.default)


class FakeApns:
    """Hypercorn serving a tiny APNs ASGI app on 127.0.0.1, checking client certificates."""

    def __init__(
        self,
        cert_file: Path,
        key_file: Path,
        client_ca_file: Path,
        *,
        port: int = 0,
        record: Path | None = None,
        topic: str | None = None,
        server_ca: Path | None = None,
        max_streams: int = 100,
    ) -> None:
        self.replies = Replies()
        # What clients must trust (SSL_CERT_FILE) to reach this fake.
        self.server_ca = server_ca
        self.topic = topic
        # Seconds each answer waits, so a test can kill a worker while pushes are in flight.
        self.delay = 0.0
        # Called with each token once its answer is sent (benchmarks tell their phones).
        self.on_answer: Callable[[str], None] | None = None
        self._record = record
        self._requests: list[Received] = []
        self._lock = threading.Lock()
        self._config = _config(cert_file, key_file, client_ca_file)
        # Our SETTINGS_MAX_CONCURRENT_STREAMS (APNs sends its own; clients must keep to it).
        self._config.h2_max_concurrent_streams = max_streams
        # Requests being answered right now, and the most there were at once.
        self.in_flight = 0
        self.most_in_flight = 0
        self._socket = socket.create_server(("127.0.0.1", port))
        self.port: int = self._socket.getsockname()[1]
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    @property
    def connections(self) -> int:
        """Distinct TCP connections (client address and port) that sent requests."""
        return len({received.client for received in self.requests})

    def reply(self, token: str, status: int) -> None:
        """Answer `token` with `status` from now on."""
        with self._lock:
            self.replies.by_token[token] = status

    def gone(self, token: str, at: datetime) -> None:
        """Answer `token` with 410 Unregistered, the token invalid since `at` (APNs' timestamp)."""
        with self._lock:
            self.replies.by_token[token] = 410
            self.replies.gone_at[token] = int(at.timestamp() * 1000)

    def fail_next(self, count: int, status: int) -> None:
        """Answer the next `count` requests with `status`, whatever their token."""
        with self._lock:
            self.replies.burst.extend([status] * count)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    async def start(self) -> FakeApns:
        self._config.create_ssl_context()  # fail here, not inside the server task
        self._config.bind = [f"fd://{self._socket.detach()}"]
        self._task = asyncio.create_task(
            serve(self._app, self._config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]
        )
        await asyncio.sleep(0)
        return self

    def stop_soon(self) -> None:
        """Ask the server to shut down (safe from a signal handler)."""
        self._stop.set()

    async def wait_stopped(self) -> None:
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        self.stop_soon()
        await self.wait_stopped()

    async def __aenter__(self) -> FakeApns:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        body = await _read_body(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        token, status, reason = self._decide(scope, headers, body)
        self._save(scope, token, headers, body, status)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        gone_at = self.replies.gone_at.get(token or "") if status == 410 else None
        await _respond(send, status, reason, headers.get("apns-id"), gone_at)
        if token and self.on_answer is not None:
            self.on_answer(token)

    def _decide(
        self, scope: Scope, headers: dict[str, str], body: bytes
    ) -> tuple[str | None, int, str | None]:
        path: str = scope["path"]
        token = path[len(PREFIX) :] if path.startswith(PREFIX) else None
        if not token:
            return None, 404, REASONS[404]
        if scope["method"] != "POST":
            return token, 405, REASONS[405]
        if "apns-topic" not in headers:
            return token, 400, "MissingTopic"
        if self.topic is not None and headers["apns-topic"] != self.topic:
            return token, 400, "TopicDisallowed"
        if len(body) > 4096:
            return token, 413, REASONS[413]
        with self._lock:
            status = self.replies.status_for(token)
        return token, status, REASONS.get(status)

    def _save(
        self, scope: Scope, token: str | None, headers: dict[str, str], body: bytes, status: int
    ) -> None:
        client = scope.get("client")
        received = Received(
            method=scope["method"],
            path=scope["path"],
            token=token,
            http_version=scope["http_version"],
            headers=headers,
            body=body.decode("utf-8", "replace"),
            client=(client[0], client[1]) if client else None,
            status=status,
        )
        with self._lock:
            self._requests.append(received)
            if self._record is not None:
                with self._record.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(asdict(received)) + "\n")


def _config(cert_file: Path, key_file: Path, client_ca_file: Path) -> Config:
    config = Config()
    config.certfile = str(cert_file)
    config.keyfile = str(key_file)
    config.ca_certs = str(client_ca_file)
    config.verify_mode = ssl.CERT_REQUIRED
    config.alpn_protocols = ["h2"]
    config.graceful_timeout = 1.0
    config.accesslog = None
    # APNs keeps a connection for hours; Hypercorn would close it after 1,000 requests.
    config.keep_alive_max_requests = 1 << 40
    return config


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(
    send: Send, status: int, reason: str | None, apns_id: str | None, gone_at: int | None = None
) -> None:
    headers = [(b"apns-id", (apns_id or str(uuid.uuid4()).upper()).encode())]
    body = b""
    if status != 200:
        payload: dict[str, object] = {"reason": reason or "BadRequest"}
        if status == 410:
            payload["timestamp"] = gone_at if gone_at is not None else int(time.time() * 1000)
        body = json.dumps(payload).encode()
        headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def make_tls_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1/localhost: (ca_file, cert_file, key_file)."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake APNs test CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    names = [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        _builder(name, ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = (
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
    )
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(cert.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


def _builder(
    subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey, now: datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="A local APNs peer for tests")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--cert", type=Path, required=True, help="server certificate (PEM)")
    parser.add_argument("--key", type=Path, required=True, help="server key (PEM)")
    parser.add_argument("--ca", type=Path, required=True, help="CA that issued client certs")
    parser.add_argument("--record", type=Path, help="append each request as a JSON line here")
    parser.add_argument("--topic", help="reject other apns-topic values with 400")
    parser.add_argument("--default-status", type=int, default=200)
    parser.add_argument(
        "--reply",
        action="append",
        default=[],
        metavar="TOKEN=STATUS[@MS]",
        help="per-token status; a 410 may name its timestamp (ms since the epoch)",
    )
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--announce", action="store_true", help="print each answered token on stdout"
    )
    return parser.parse_args()


async def _main(args: argparse.Namespace) -> None:
    fake = FakeApns(
        args.cert, args.key, args.ca, port=args.port, record=args.record, topic=args.topic
    )
    fake.replies.default = args.default_status
    fake.delay = args.delay
    for rule in args.reply:
        token, _, answer = rule.partition("=")
        status, _, gone_at = answer.partition("@")
        fake.reply(token, int(status))
        if gone_at:
            fake.replies.gone_at[token] = int(gone_at)
    if args.announce:
        fake.on_answer = _announcer()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, fake.stop_soon)
    await fake.start()
    print(fake.port, flush=True)
    await fake.wait_stopped()


def _announcer() -> Callable[[str], None]:
    """Print answered tokens in lines, flushed at most every few ms (a write per push is slow)."""
    pending: list[str] = []
    loop = asyncio.get_running_loop()

    def flush() -> None:
        sys.stdout.write("".join(pending))
        sys.stdout.flush()
        pending.clear()

    def announce(token: str) -> None:
        if not pending:
            loop.call_later(0.002, flush)
        pending.append(token + "\n")

    return announce


if __name__ == "__main__":
    asyncio.run(_main(_arguments()))
