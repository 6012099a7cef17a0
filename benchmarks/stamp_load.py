"""Load generators for stamp_api.py: wrk with stamp_api.lua, or a small asyncio fallback.

Both return the same RunResult so the benchmark does not care which one ran.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
import statistics
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).resolve().with_name("stamp_api.lua")
TIME_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
WRK_MISSING = (
    "wrk is not on PATH, so the built-in asyncio client generates the load instead; it is "
    "heavier and shares the 2 cores with the server. For fair figures install wrk: "
    "`sudo apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk` (macOS)."
)


@dataclass(frozen=True)
class Target:
    """Where and what to send: the server, the shop's key and its cards."""

    host: str
    port: int
    api_key: str
    serials: list[str]
    serials_file: Path


@dataclass(frozen=True)
class RunResult:
    """One timed run of one endpoint."""

    rps: float
    p50_ms: float
    p99_ms: float
    responses: int
    non_2xx: int
    socket_errors: int
    issued: int

    @property
    def ok_responses(self) -> int:
        """Responses with a 2xx status."""
        return self.responses - self.non_2xx


def wrk_path() -> str | None:
    """The wrk binary, or None."""
    return shutil.which("wrk")


def request_path(mode: str, serial: str) -> str:
    """The URL path of one request: the stamp endpoint or the bare ceiling route."""
    return f"/api/v1/cards/{serial}/stamps" if mode == "stamps" else "/bench/ceiling"


# --- wrk --------------------------------------------------------------------------------------


def run_wrk(target: Target, mode: str, clients: int, threads: int, seconds: float) -> RunResult:
    """One wrk run; its Lua script makes the bodies, headers and unique Idempotency-Keys."""
    command = [
        wrk_path() or "wrk",
        f"-t{min(threads, clients)}",
        f"-c{clients}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA),
        f"http://{target.host}:{target.port}",
        "--",
        mode,
        str(target.serials_file),
        target.api_key,
        uuid.uuid4().hex[:12],
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def parse_wrk(text: str) -> RunResult:
    """Requests/s, p50, p99, counts and errors from `wrk --latency` output."""
    return RunResult(
        rps=float(_match(r"Requests/sec:\s+([\d.]+)", text)),
        p50_ms=_latency(_match(r"^\s+50%\s+(\S+)", text)),
        p99_ms=_latency(_match(r"^\s+99%\s+(\S+)", text)),
        responses=int(_match(r"(\d+) requests in", text)),
        non_2xx=int(_match(r"Non-2xx or 3xx responses:\s+(\d+)", text, "0")),
        socket_errors=sum(
            int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text)
        ),
        issued=int(_match(r"^ISSUED (\d+)", text)),
    )


def _match(pattern: str, text: str, default: str | None = None) -> str:
    found = re.search(pattern, text, re.MULTILINE)
    if found:
        return found.group(1)
    if default is None:
        raise RuntimeError(f"cannot find {pattern!r} in wrk output:\n{text}")
    return default


def _latency(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", value).groups()  # type: ignore[union-attr]
    return float(number) * TIME_UNITS[unit]


# --- asyncio fallback -------------------------------------------------------------------------


@dataclass
class _Tally:
    latencies: list[float]
    non_2xx: int = 0
    errors: int = 0
    issued: int = 0


def run_fallback(target: Target, mode: str, clients: int, seconds: float) -> RunResult:
    """HTTP/1.1 keep-alive over raw asyncio streams: much lighter than an HTTP library."""
    tally = _Tally([])
    started = time.perf_counter()
    asyncio.run(_fallback(target, mode, clients, started + seconds, tally))
    elapsed = time.perf_counter() - started
    latencies = sorted(tally.latencies)
    if not latencies:
        raise RuntimeError("the fallback client got no response at all")
    return RunResult(
        rps=len(latencies) / elapsed,
        p50_ms=statistics.median(latencies),
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        responses=len(latencies),
        non_2xx=tally.non_2xx,
        socket_errors=tally.errors,
        issued=tally.issued,
    )


async def _fallback(
    target: Target, mode: str, clients: int, deadline: float, tally: _Tally
) -> None:
    nonce = uuid.uuid4().hex[:12]
    await asyncio.gather(
        *(_client(target, mode, f"{nonce}-{n}", n, deadline, tally) for n in range(clients))
    )


async def _client(
    target: Target, mode: str, prefix: str, offset: int, deadline: float, tally: _Tally
) -> None:
    reader, writer = await asyncio.open_connection(target.host, target.port)
    serials = itertools.islice(itertools.cycle(target.serials), offset * 7, None)
    try:
        for number in itertools.count(1):
            if time.perf_counter() >= deadline:
                return
            tally.issued += 1
            raw = _request(target, request_path(mode, next(serials)), f"{prefix}-{number}")
            began = time.perf_counter()
            writer.write(raw)
            status = await _response(reader)
            tally.latencies.append((time.perf_counter() - began) * 1000)
            tally.non_2xx += not 200 <= status < 300
    except (OSError, asyncio.IncompleteReadError):
        tally.errors += 1
    finally:
        writer.close()


def _request(target: Target, path: str, key: str) -> bytes:
    body = b'{"count": 1}'
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
        f"Authorization: Bearer {target.api_key}\r\nContent-Type: application/json\r\n"
        f"Idempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(lines[0].split()[1])
