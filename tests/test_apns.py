"""The APNs client against a real HTTP/2 TLS peer that checks our client certificate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
import ssl
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvloop

from passes.apple.apns import ApnsClient, backoff_seconds, classify
from passes.apple.identity import SigningIdentity
from tests.fake_apns import FakeApns, make_tls_ca

ROOT = Path(__file__).resolve().parent.parent
TlsFiles = tuple[Path, Path, Path]


def token() -> str:
    return secrets.token_hex(32)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def fake(
    tls: TlsFiles, certs_dir: Path, identity: SigningIdentity
) -> AsyncIterator[FakeApns]:
    _, cert, key = tls
    async with FakeApns(cert, key, certs_dir / "wwdr.pem", topic=identity.pass_type_id) as server:
        yield server


@pytest.fixture
async def client(
    identity: SigningIdentity, fake: FakeApns, tls: TlsFiles
) -> AsyncIterator[ApnsClient]:
    async with ApnsClient(identity, fake.url, ca_file=str(tls[0]), timeout=5) as apns:
        yield apns


async def test_push_posts_empty_json_over_http2_with_the_pass_type_topic(
    client: ApnsClient, fake: FakeApns, identity: SigningIdentity
) -> None:
    device = token()
    result = await client.push(device)
    assert (result.token, result.status, result.outcome, result.reason) == (
        device,
        200,
        "delivered",
        None,
    )
    assert result.apns_id
    [received] = fake.requests
    assert (received.method, received.path, received.token) == (
        "POST",
        f"/3/device/{device}",
        device,
    )
    assert received.http_version == "2"
    assert received.headers["apns-topic"] == identity.pass_type_id
    assert received.body == "{}"


@pytest.mark.parametrize(
    ("status", "outcome", "reason"),
    [
        (410, "unregistered", "Unregistered"),
        (400, "unregistered", "BadDeviceToken"),
        (429, "retry", "TooManyRequests"),
        (500, "retry", "InternalServerError"),
        (503, "retry", "ServiceUnavailable"),
        (403, "certificate", "BadCertificate"),
        (405, "failed", "MethodNotAllowed"),
    ],
)
async def test_each_apns_status_maps_to_an_outcome(
    client: ApnsClient, fake: FakeApns, status: int, outcome: str, reason: str
) -> None:
    device = token()
    fake.reply(device, status)
    result = await client.push(device)
    assert (result.status, result.outcome, result.reason) == (status, outcome, reason)


def test_bad_request_reasons_other_than_the_token_are_failures() -> None:
    assert classify(400, "DeviceTokenNotForTopic") == "unregistered"
    assert classify(400, "BadTopic") == "failed"
    assert classify(400, None) == "failed"
    assert classify(502, None) == "retry"


async def test_a_refused_certificate_is_one_error_line_without_the_token(
    client: ApnsClient, fake: FakeApns, caplog: pytest.LogCaptureFixture
) -> None:
    fake.replies.default = 403
    devices = [token() for _ in range(5)]
    with caplog.at_level(logging.DEBUG, logger="passes.apple.apns"):
        results = await client.push_many(devices)
    assert {result.outcome for result in results} == {"certificate"}
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "APNs refused the Pass Type ID certificate (403 BadCertificate)" in errors[0].message
    assert "certs/" in errors[0].message
    assert not any(device in caplog.text for device in devices)


async def test_push_many_multiplexes_one_connection_and_keeps_order(
    client: ApnsClient, fake: FakeApns
) -> None:
    devices = [token() for _ in range(50)]
    fake.reply(devices[7], 410)
    fake.reply(devices[30], 429)
    results = await client.push_many(devices)
    assert [result.token for result in results] == devices
    assert results[7].outcome == "unregistered"
    assert results[30].outcome == "retry"
    assert sum(result.outcome == "delivered" for result in results) == 48
    assert len(fake.requests) == 50
    assert fake.connections == 1


async def test_a_burst_of_failures_then_recovery(client: ApnsClient, fake: FakeApns) -> None:
    fake.fail_next(3, 500)
    results = await client.push_many([token() for _ in range(5)])
    assert sorted(result.outcome for result in results) == ["delivered"] * 2 + ["retry"] * 3
    assert (await client.push(token())).outcome == "delivered"


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "../../3/device/" + "a" * 16, "a" * 16 + "\n", "a" * 201, "g" * 64, "ab cd" * 8],
)
async def test_a_malformed_token_is_never_sent(
    client: ApnsClient, fake: FakeApns, bad: str
) -> None:
    result = await client.push(bad)
    assert (result.status, result.reason, result.outcome) == (
        None,
        "BadDeviceToken",
        "unregistered",
    )
    assert fake.requests == []


async def test_an_untrusted_server_is_a_retry_not_an_exception(
    identity: SigningIdentity, fake: FakeApns
) -> None:
    async with ApnsClient(identity, fake.url, timeout=5) as apns:
        result = await apns.push(token())
    assert (result.status, result.outcome) == (None, "retry")
    assert result.reason and "certificate" in result.reason.lower()
    assert fake.requests == []


async def test_a_closed_port_is_a_retry(identity: SigningIdentity, tls: TlsFiles) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with ApnsClient(identity, f"https://127.0.0.1:{port}", ca_file=str(tls[0])) as apns:
        result = await apns.push(token())
    assert (result.status, result.outcome) == (None, "retry")
    assert result.reason and result.reason.startswith("ConnectError")


async def test_a_peer_that_refuses_our_certificate_does_not_crash(
    identity: SigningIdentity, tls: TlsFiles, tmp_path: Path
) -> None:
    ca, cert, key = tls
    unrelated_ca, _, _ = make_tls_ca(tmp_path)
    async with (
        FakeApns(cert, key, unrelated_ca) as strict,
        ApnsClient(identity, strict.url, ca_file=str(ca), timeout=5) as apns,
    ):
        results = await apns.push_many([token(), token()])
    # TLS 1.3 rejects the client certificate after the handshake: we only see a broken pipe.
    assert {(result.status, result.outcome) for result in results} <= {
        (None, "retry"),
        (None, "certificate"),
    }
    assert all(result.reason for result in results)
    assert strict.requests == []


@contextmanager
def refusing_tls_peer(tls: TlsFiles, client_ca: Path, version: ssl.TLSVersion) -> Iterator[str]:
    """A blocking stdlib TLS server: unlike asyncio's, it sends the alert when it refuses a cert."""
    _, cert, key = tls
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(client_ca))
    context.load_cert_chain(cert, key)
    context.verify_mode, context.maximum_version = ssl.CERT_REQUIRED, version
    context.set_alpn_protocols(["h2"])
    listener = socket.create_server(("127.0.0.1", 0))

    def refuse() -> None:
        connection, _ = listener.accept()
        connection.settimeout(5)
        with contextlib.suppress(ssl.SSLError, OSError):
            context.wrap_socket(connection.dup(), server_side=True)  # closes the dup on failure
        # Under TLS 1.3 the client writes before it reads the alert: a close now would reset
        # the connection and lose the alert, so keep it open until the client hangs up.
        with contextlib.suppress(OSError), connection:
            while connection.recv(4096):
                pass

    thread = threading.Thread(target=refuse, daemon=True)
    thread.start()
    with listener:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
        thread.join(5)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
async def test_a_certificate_alert_is_a_certificate_outcome_logged_once(
    identity: SigningIdentity,
    tls: TlsFiles,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    version: ssl.TLSVersion,
) -> None:
    unrelated_ca, _, _ = make_tls_ca(tmp_path)
    with refusing_tls_peer(tls, unrelated_ca, version) as url:
        async with ApnsClient(identity, url, ca_file=str(tls[0]), timeout=5) as apns:
            result = await apns.push(token())
    assert (result.status, result.outcome) == (None, "certificate")
    assert result.reason and "ALERT_UNKNOWN_CA" in result.reason
    [line] = [record.message for record in caplog.records if record.levelno == logging.ERROR]
    assert line.startswith("APNs refused the Pass Type ID certificate (TLS ")


async def test_the_key_never_stays_on_disk(
    identity: SigningIdentity, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    apns = ApnsClient(identity, "https://127.0.0.1:9")
    await apns.aclose()
    assert list(tmp_path.iterdir()) == []


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    assert [backoff_seconds(n, rand=lambda: 1.0) for n in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_seconds(3, rand=lambda: 0.0) == 0.0
    assert backoff_seconds(20, rand=lambda: 1.0) == 300.0
    assert backoff_seconds(10_000, base=0.5, cap=60.0, rand=lambda: 1.0) == 60.0
    assert backoff_seconds(-3, rand=lambda: 1.0) == 1.0
    assert all(0.0 <= backoff_seconds(n) <= min(300.0, 2.0**n) for n in range(40))


async def test_the_fake_runs_in_another_process_and_records_json_lines(
    identity: SigningIdentity, tls: TlsFiles, certs_dir: Path, tmp_path: Path
) -> None:
    ca, cert, key = tls
    record = tmp_path / "apns.jsonl"
    gone = token()
    command = ["-m", "tests.fake_apns", "--cert", str(cert), "--key", str(key)]
    command += [
        "--ca",
        str(certs_dir / "wwdr.pem"),
        "--record",
        str(record),
        "--reply",
        f"{gone}=410",
    ]
    process = await asyncio.create_subprocess_exec(
        sys.executable, *command, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        port = int(await asyncio.wait_for(process.stdout.readline(), 10))
        async with ApnsClient(identity, f"https://127.0.0.1:{port}", ca_file=str(ca)) as apns:
            results = await apns.push_many([token(), gone])
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
    assert [result.outcome for result in results] == ["delivered", "unregistered"]
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert sorted(line["status"] for line in lines) == [200, 410]
    assert {line["http_version"] for line in lines} == {"2"}


async def test_pushes_keep_to_the_streams_the_peer_allows(
    identity: SigningIdentity, tls: TlsFiles, certs_dir: Path
) -> None:
    ca, cert, key = tls
    async with FakeApns(cert, key, certs_dir / "wwdr.pem", max_streams=10) as narrow:
        narrow.delay = 0.05
        async with ApnsClient(identity, narrow.url, ca_file=str(ca), timeout=5) as apns:
            results = await apns.push_many([token() for _ in range(60)])
    assert {result.outcome for result in results} == {"delivered"}
    assert 1 < narrow.most_in_flight <= 10, "SETTINGS_MAX_CONCURRENT_STREAMS of the peer"
    assert narrow.connections == 1


async def test_a_410_says_since_when_the_token_is_gone(client: ApnsClient, fake: FakeApns) -> None:
    device, since = token(), datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    fake.gone(device, since)
    result = await client.push(device)
    assert (result.status, result.outcome, result.gone_at) == (410, "unregistered", since)
    assert (await client.push(token())).gone_at is None


def test_the_client_runs_on_uvloop_like_the_server(
    identity: SigningIdentity, tls: TlsFiles, certs_dir: Path
) -> None:
    ca, cert, key = tls

    async def push_two() -> list[str]:
        async with (
            FakeApns(cert, key, certs_dir / "wwdr.pem") as peer,
            ApnsClient(identity, peer.url, ca_file=str(ca), timeout=5) as apns,
        ):
            return [result.outcome for result in await apns.push_many([token(), token()])]

    assert uvloop.run(push_two()) == ["delivered", "delivered"]
