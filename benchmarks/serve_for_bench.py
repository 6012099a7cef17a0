"""What the HTTP benchmarks share to run a server beside them: a free port, a server process
started and always stopped, and a `main` that stops them on SIGTERM or Ctrl-C too."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

HOST = "127.0.0.1"


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def server_process(
    command: list[str],
    log: Path,
    port: int,
    ready_path: str = "/healthz",
    *,
    ready_seconds: float = 30,
    stop_seconds: float = 10,
    **popen: Any,
) -> Iterator[int]:
    """Start a server (its output to `log`); yields its pid once `ready_path` answers on
    `port`; always stops it."""
    with log.open("wb") as out:
        started = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, **popen)
    try:
        _wait_ready(started, f"http://{HOST}:{port}{ready_path}", log, ready_seconds)
        yield started.pid
    finally:
        stop(started, stop_seconds)


def stop(process: subprocess.Popen[Any], seconds: float) -> None:
    """Ask `process` to end (SIGTERM); killed when it has not within `seconds`."""
    process.terminate()
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_ready(started: subprocess.Popen[bytes], url: str, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if started.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    said = log.read_text(errors="replace")
    raise RuntimeError(f"the server did not answer within {seconds:.0f} s:\n{said}")


def run_main(run: Callable[[], int]) -> NoReturn:
    """Exit with what `run` answers. SIGTERM becomes an exception, so the servers stop and
    temporary databases are dropped on the way out, as they are on Ctrl-C."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(run())
    except KeyboardInterrupt:
        print("interrupted; servers stopped and temporary databases dropped", file=sys.stderr)
        sys.exit(130)
