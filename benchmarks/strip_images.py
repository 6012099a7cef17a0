"""/healthz latency while 8 clients hammer the public strip image URLs, against an idle server.

Run: .venv/bin/python benchmarks/strip_images.py [--seconds 8] [--clients 8] [--shops 20]

One `passes serve --no-worker` on a fresh SQLite file (run as users run it). A probe thread asks
for /healthz every 20 ms and keeps each latency. Three phases, each printed as the probe's
median and p90 and its ratio to the idle median:

- idle: no other load;
- new pairs: wrk (benchmarks/strip_images.lua) asks for /img/strip/{bg}/{stamp}/10/4@2x.png
  with a colour pair nobody chose in every request: the anonymous attack of issue #18. Before
  the fix each one drew all three strip sizes on the event loop; now it is a 404, drawn never.
- known styles past the cache: `--shops` programs with their own colours and 30 stamps each,
  wrk cycling through the strip URL of every stamp count of every one of them (more strips
  than the image cache holds, so each request draws): what a legitimate but busy day costs.
  Now only the size asked for is drawn, and off the event loop.

To compare with the code before the fix, run this script with PYTHONPATH pointing at a checkout
of the older commit (the server and the preparation import `passes` from there).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from serve_for_bench import HOST, free_port, server_process

from passes.apple.devcerts import create_dev_identity
from passes.config import Settings
from passes.service import Service
from passes.store import Store

LUA = Path(__file__).resolve().with_name("strip_images.lua")
PROBE_EVERY = 0.02
WARMUP = 1.0
STAMPS = 30


@dataclass(frozen=True)
class Phase:
    """The probe's view of one phase, and what wrk saw."""

    name: str
    median_ms: float
    p90_ms: float
    probes: int
    wrk: str = ""


async def prepare(database_url: str, certs_dir: Path, shops: int) -> list[str]:
    """Migrate; a default shop and `shops` programs of their own colours. Returns the strip
    paths of every stamp count of those programs."""
    store = Store(database_url)
    try:
        await store.migrate()
        settings = Settings(
            database_url=database_url, base_url=f"http://{HOST}", certs_dir=certs_dir
        )
        service = Service(settings, store)
        await service.shops.create_shop(name="Default Café", stamps=10, reward="1 Vita Mix gratis")
        paths = []
        for number in range(shops):
            background, stamp = f"{number * 9:06x}", f"{0xFFFFFF - number * 9:06x}"
            colours = {"background_color": f"#{background}", "stamp_color": f"#{stamp}"}
            await service.shops.create_shop(
                name=f"Café {number}", stamps=STAMPS, reward="1 Vita Mix gratis", colours=colours
            )
            paths += [
                f"/img/strip/{background}/{stamp}/{STAMPS}/{count}@2x.png"
                for count in range(STAMPS + 1)
            ]
        random.Random(18).shuffle(paths)
        return paths
    finally:
        await store.close()


@contextmanager
def server(env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    command = [sys.executable, "-m", "passes", "serve", "--host", HOST, "--port", str(port)]
    with server_process([*command, "--no-worker"], log, port, env=env):
        yield


class Probe:
    """GET /healthz every PROBE_EVERY seconds on one keep-alive connection, in a thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        with httpx.Client(base_url=f"http://{HOST}:{self.port}", timeout=30) as client:
            while not self._stop.is_set():
                began = time.perf_counter()
                client.get("/healthz").raise_for_status()
                took = (time.perf_counter() - began) * 1000
                if time.monotonic() - started >= WARMUP:
                    self.latencies.append(took)
                self._stop.wait(PROBE_EVERY)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def phase(name: str, port: int, seconds: float, wrk: list[str] | None) -> Phase:
    with Probe(port) as probe:
        if wrk is None:
            time.sleep(seconds)
            report = ""
        else:
            done = subprocess.run(wrk, capture_output=True, text=True, check=True)
            report = _wrk_summary(done.stdout)
    latencies = sorted(probe.latencies)
    if not latencies:
        raise RuntimeError(f"{name}: the probe got no answer")
    p90 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.9))]
    return Phase(name, statistics.median(latencies), p90, len(latencies), report)


def _wrk_summary(text: str) -> str:
    lines = [line.strip() for line in text.splitlines()]
    keep = [line for line in lines if line.startswith(("Requests/sec", "Non-2xx"))]
    return "; ".join(keep)


def wrk_command(port: int, mode: str, paths_file: Path, options: argparse.Namespace) -> list[str]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not on PATH: `sudo apt-get install -y wrk` or `brew install wrk`")
    return [
        wrk,
        f"-t{min(2, options.clients)}",
        f"-c{options.clients}",
        f"-d{max(1, round(options.seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        f"http://{HOST}:{port}",
        "--",
        mode,
        str(paths_file),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--shops", type=int, default=20)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="strip-bench-"))
    try:
        certs = work / "certs"
        create_dev_identity(certs)
        database_url = f"sqlite:///{work / 'passes.db'}"
        paths = asyncio.run(prepare(database_url, certs, options.shops))
        paths_file = work / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PASSES_")}
        env |= {
            "PASSES_DATABASE_URL": database_url,
            "PASSES_CERTS_DIR": str(certs),
            "PASSES_BASE_URL": f"http://{HOST}:{port}",
        }
        with server(env, port, work / "server.log"):
            phases = [
                phase("idle", port, options.seconds, None),
                phase(
                    "new pairs",
                    port,
                    options.seconds,
                    wrk_command(port, "new", paths_file, options),
                ),
                phase(
                    f"known styles ({len(paths)} strips)",
                    port,
                    options.seconds,
                    wrk_command(port, "known", paths_file, options),
                ),
            ]
        idle = phases[0].median_ms
        print(
            f"/healthz with {options.clients} clients on strip URLs ({options.seconds:.0f} s each)"
        )
        for result in phases:
            print(
                f"  {result.name:<28} median {result.median_ms:8.1f} ms  p90 {result.p90_ms:8.1f} ms"
                f"  x{result.median_ms / idle:7.1f} idle  ({result.probes} probes)"
                + (f"  wrk: {result.wrk}" if result.wrk else "")
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
