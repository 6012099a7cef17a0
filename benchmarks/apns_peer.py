"""What push_fanout.py and campaign_reach.py share: a local APNs in a process of its own, and
the two baselines measured against it (a sequential sender, bare httpx HTTP/2).

The fake (tests/fake_apns.py) is HTTP/2 over TLS with client certificates, like Apple, and
answers each push after `delay` seconds (50 ms: a distant APNs). With `announce` it prints each
answered token on its stdout, which the campaign benchmark forwards to its simulated phones.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from serve_for_bench import stop

from passes.apple.apns import ApnsClient, _tls_context
from passes.apple.devcerts import create_dev_identity
from passes.apple.identity import SigningIdentity, load_identity
from tests.fake_apns import make_tls_ca

ROOT = Path(__file__).resolve().parents[1]
DELAY = 0.05
SEQUENTIAL_SAMPLE = 40
CEILING_STREAMS = 100


@dataclass(frozen=True)
class Peer:
    """The running fake APNs and what a client needs to reach it."""

    url: str
    server_ca: Path
    process: subprocess.Popen[bytes]


@dataclass(frozen=True)
class Tls:
    """Our dev signing identity (its certificate is the APNs client certificate) and the
    fake's own CA."""

    certs_dir: Path
    identity: SigningIdentity
    server_ca: Path
    server_cert: Path
    server_key: Path


def make_tls(work: Path) -> Tls:
    """A dev identity in work/certs and a server certificate for the fake."""
    certs_dir = work / "certs"
    create_dev_identity(certs_dir)
    ca, cert, key = make_tls_ca(work)
    return Tls(certs_dir, load_identity(certs_dir, None), ca, cert, key)


@contextmanager
def fake_apns(tls: Tls, delay: float, *, announce: bool = False) -> Iterator[Peer]:
    """`python -m tests.fake_apns` in its own process; killed afterwards whatever happens."""
    command = [
        sys.executable,
        "-m",
        "tests.fake_apns",
        "--cert",
        str(tls.server_cert),
        "--key",
        str(tls.server_key),
        "--ca",
        str(tls.certs_dir / "wwdr.pem"),
        "--topic",
        tls.identity.pass_type_id,
        "--delay",
        str(delay),
    ]
    if announce:
        command.append("--announce")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield Peer(f"https://127.0.0.1:{port}", tls.server_ca, process)
    finally:
        stop(process, 10)


def token() -> str:
    """A random device push token (64 hex digits, like an iPhone's)."""
    return secrets.token_hex(32)


async def sequential_seconds(tls: Tls, peer: Peer, sample: int = SEQUENTIAL_SAMPLE) -> float:
    """Seconds per push of a sender that waits for each answer (one push at a time), over a
    sample; the warm-up push (TLS handshake) is not counted."""
    async with ApnsClient(tls.identity, peer.url, ca_file=str(peer.server_ca)) as apns:
        await apns.push(token())
        started = time.perf_counter()
        for _ in range(sample):
            result = await apns.push(token())
            assert result.outcome == "delivered", result
        return (time.perf_counter() - started) / sample


async def bare_httpx_rate(
    tls: Tls, peer: Peer, pushes: int, streams: int = CEILING_STREAMS
) -> float:
    """Pushes/s of bare httpx over one HTTP/2 connection, `streams` requests in flight: the
    most this client library gets from this peer (no database, no outbox)."""
    context: ssl.SSLContext = _tls_context(tls.identity, str(peer.server_ca))
    headers = {"apns-topic": tls.identity.pass_type_id}
    async with httpx.AsyncClient(http2=True, verify=context, timeout=30) as client:
        await client.post(f"{peer.url}/3/device/{token()}", content=b"{}", headers=headers)
        tokens = [token() for _ in range(pushes)]
        started = time.perf_counter()

        async def lane(part: list[str]) -> None:
            for one in part:
                response = await client.post(
                    f"{peer.url}/3/device/{one}", content=b"{}", headers=headers
                )
                assert response.status_code == 200, response.text

        await asyncio.gather(*(lane(tokens[i::streams]) for i in range(streams)))
        return pushes / (time.perf_counter() - started)
