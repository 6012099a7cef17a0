"""Real `passes` processes for tests: the server and workers, started as users start them."""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from tests.fake_apns import FakeApns

PASSES = [sys.executable, "-m", "passes"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def passes_env(database_url: str, certs_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `passes` process, without settings leaking from ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSES_")}
    env.pop("SSL_CERT_FILE", None)
    return {
        **env,
        "PASSES_DATABASE_URL": database_url,
        "PASSES_CERTS_DIR": str(certs_dir),
        # Never Apple: a closed local port stands in for APNs unless a test sets its fake.
        "PASSES_APNS_URL": "https://127.0.0.1:9",
        **extra,
    }


def live_env(database_url: str, certs_dir: Path, fake: FakeApns, **extra: str) -> dict[str, str]:
    """The environment of a `passes` process that pushes to the local APNs `fake`."""
    return passes_env(
        database_url,
        certs_dir,
        PASSES_APNS_URL=fake.url,
        SSL_CERT_FILE=str(fake.server_ca),
        **extra,
    )


def run(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one `passes` command to the end."""
    result = subprocess.run(
        [*PASSES, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def create_shop(
    env: dict[str, str], stamps: int = 10, name: str = "Café Sonne", slug: str | None = None
) -> str:
    """A new shop through the CLI; returns its API key."""
    slug = slug or f"shop-{time.monotonic_ns()}"
    out = run(
        env,
        "shop",
        "create",
        "--name",
        name,
        "--slug",
        slug,
        "--stamps",
        str(stamps),
        "--reward",
        "1 Vita Mix gratis",
    ).stdout
    found = re.search(r"api key: (\S+)", out)
    assert found, out
    return found.group(1)


@dataclass
class Said:
    """What a stopped process wrote: its stdout, then its stderr."""

    text: str = ""


@contextmanager
def process(
    env: dict[str, str], *args: str, said: Said | None = None
) -> Iterator[subprocess.Popen[str]]:
    """A long-running `passes` command, stopped (SIGTERM) afterwards; its output then in
    `said`, when given."""
    proc = subprocess.Popen(
        [*PASSES, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _roomy_pipes(proc)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        if said is not None:
            said.text = out + err


def _roomy_pipes(proc: subprocess.Popen[str]) -> None:
    """Room for a whole test's log: nothing reads the pipes until the process ends, and a
    server whose access log outgrows Linux's default 64 KiB pipe blocks mid-request."""
    grow = getattr(fcntl, "F_SETPIPE_SZ", None)
    if grow is None:  # not Linux
        return
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            try:
                fcntl.fcntl(pipe.fileno(), grow, 1 << 20)
            except OSError:  # above the system's pipe-max-size: keep the default
                pass


@contextmanager
def server(
    env: dict[str, str], *flags: str, said: Said | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`passes serve` on a free port; yields its base URL once it answers; its log then in
    `said`, when given."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**env, "PASSES_BASE_URL": base}
    with process(env, "serve", "--port", str(port), *flags, said=said) as proc:
        wait_for(f"{base}/healthz", proc)
        yield base, proc


def wait_for(url: str, proc: subprocess.Popen[str], seconds: float = 30) -> None:
    """Until `url` answers 200, or fail with the process's own words."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


async def until(condition: Callable[[], bool], seconds: float = 20) -> None:
    """Until `condition` holds (a process elsewhere makes it so), or fail."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
