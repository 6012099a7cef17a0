"""Seconds until a campaign to every card is on every iPhone, vs a sequential sender's push time.

Run: .venv/bin/python benchmarks/campaign_reach.py [--backend sqlite|postgres] [--devices 2000]
                                                   [--delay 0.05] [--worker inline|process]
                                                   [--profile]

Everything runs as users run it: `passes serve` (with its push worker inside, or with
`--worker process` a `passes serve --no-worker` beside a `passes worker`), a local APNs
(tests/fake_apns.py, HTTP/2 + TLS, answering each push after 50 ms) in a process of its own,
and N iPhones simulated by phone processes (benchmarks/phones.py) that use only the public
Apple web service: each registers its device and push token, and on each push asks for the
serials changed since its tag and fetches its pass with If-Modified-Since. The fake APNs prints
each token it answered; this script forwards it to the phone process holding that token.

Setup (not timed): a shop with no hold-out group, N cards issued through POST /api/v1/cards;
the phones read their serial and authentication token from the database (a real phone finds
them in the pass it adds), register and fetch their pass once. Timed: from
POST /api/v1/messages (segment all) until every recipient's pass.json holds the message.
Baseline in the same run: a sequential sender, one push at a time waiting for each answer
(measured over 40 pushes to the same fake and extrapolated to the recipients).
Target: >= 15x the sequential sender for 2,000 devices.

`--profile` samples the server (and worker) with py-spy during the timed part and prints where
their CPU went, by activity. CPU seconds of every process in the timed part are printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apns_peer import DELAY, ROOT, Peer, Tls, fake_apns, make_tls, sequential_seconds
from sqlalchemy import select

from passes.config import Settings
from passes.service import Service
from passes.store import Store
from passes.store.shops import shop_by_id
from passes.store.tables import cards

HERE = Path(__file__).resolve().parent
TARGET = 15.0
HOST = "127.0.0.1"
PHONE_PROCESSES = 2
# What the profile summary calls each part of the server's and worker's time: the first
# activity, innermost first, whose function is found in a sample's stack ("Class." takes any
# of its methods).
ACTIVITIES = [
    ("WalletWebService.latest_pass", "pass fetch (GET /wallet/v1/passes)"),
    ("WalletWebService.updated", "changed serials (GET .../registrations)"),
    ("WalletWebService.register", "registrations (POST)"),
    ("ShopApi.messages", "POST /api/v1/messages (segment, members)"),
    ("deliver_pending", "campaign messages -> card changes"),
    ("claim", "outbox claim"),
    ("PushWorker._settle", "outbox settle"),
    ("PushWorker._take", "worker round (prepare, expiry sweep)"),
    ("PushWorker.run_once", "worker round (prepare, expiry sweep)"),
    ("ApnsClient.", "APNs pushes (our HTTP/2 client)"),
    ("_Http2.", "APNs pushes (our HTTP/2 client)"),
    ("AppleDelivery.", "APNs pushes (our HTTP/2 client)"),
]


def passes_env(database_url: str, tls: Tls, peer: Peer, base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASSES_")}
    return {
        **env,
        "PASSES_DATABASE_URL": database_url,
        "PASSES_CERTS_DIR": str(tls.certs_dir),
        "PASSES_APNS_URL": peer.url,
        "PASSES_BASE_URL": base_url,
        "SSL_CERT_FILE": str(peer.server_ca),
        # Every simulated phone registers from 127.0.0.1.
        "PASSES_CLIENT_REGISTRATIONS_PER_MINUTE": "1000000",
    }


async def prepare(database_url: str, tls: Tls) -> tuple[str, int]:
    """Migrate; a shop without hold-out group. Returns its API key and id."""
    store = Store(database_url)
    try:
        await store.migrate()
        settings = Settings(
            database_url=database_url, base_url=f"http://{HOST}", certs_dir=tls.certs_dir
        )
        service = Service(settings, store)
        shop, key = await service.shops.create_shop(name="Reach Café", stamps=10, reward="1 Kaffee")
        await service.shops.update_program(shop, holdout_percent=0)
        async with store.reading() as conn:
            assert (await shop_by_id(conn, shop.id)).program.holdout_percent == 0
        return key, shop.id
    finally:
        await store.close()


async def issue(base: str, key: str, count: int) -> None:
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        limit = asyncio.Semaphore(16)

        async def one() -> None:
            async with limit:
                (await client.post("/api/v1/cards")).raise_for_status()

        await asyncio.gather(*(one() for _ in range(count)))


async def phone_rows(database_url: str, shop_id: int, pass_type: str) -> list[dict[str, str]]:
    store = Store(database_url)
    try:
        async with store.reading() as conn:
            found = await conn.execute(
                select(cards.c.serial, cards.c.auth_token).where(cards.c.shop_id == shop_id)
            )
            return [
                {
                    "serial": row.serial,
                    "auth": row.auth_token,
                    "library_id": secrets.token_hex(16),
                    "push_token": secrets.token_hex(32),
                    "pass_type": pass_type,
                }
                for row in found
            ]
    finally:
        await store.close()


@contextmanager
def running(
    command: list[str], env: dict[str, str], log: Path, **popen: object
) -> Iterator[subprocess.Popen[bytes]]:
    """A process for the benchmark's length; SIGTERM then SIGKILL afterwards, whatever happens."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stderr=out, **popen)  # type: ignore[call-overload]
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("server did not answer")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (and its reaped children) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Pushes:
    """What the fake APNs answered to the phones' tokens: how many, and when the last."""

    count: int = 0
    last: float = 0.0


def forward(peer: Peer, shard_of: dict[str, int], phones: list[subprocess.Popen[bytes]]) -> Pushes:
    """Pass each token the fake APNs answered to the phone process that holds it."""
    pushes = Pushes()

    def loop() -> None:
        assert peer.process.stdout is not None
        for line in peer.process.stdout:
            shard = shard_of.get(line.strip().decode())
            if shard is None:
                continue
            pushes.count += 1
            pushes.last = time.monotonic()
            stdin = phones[shard].stdin
            assert stdin is not None
            try:
                stdin.write(line)
                stdin.flush()
            except (BrokenPipeError, ValueError):
                return

    threading.Thread(target=loop, daemon=True).start()
    return pushes


@contextmanager
def profiling(keep: Path | None, pids: dict[str, int]) -> Iterator[dict[str, Path]]:
    """py-spy record on each process while the campaign lands (when asked and installed)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if keep is None or not Path(spy).exists():
        if keep is not None:
            print("(py-spy is not installed: `pip install py-spy` for the profile)")
        yield {}
        return
    keep.mkdir(parents=True, exist_ok=True)
    outputs = {name: keep / f"profile-{name.replace(' ', '-')}.txt" for name in pids}
    spies = [
        subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--rate",
                "200",
                "--format",
                "raw",
                "--threads",
                "--output",
                str(outputs[name]),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]
    time.sleep(1.0)  # py-spy attaches
    try:
        yield outputs
    finally:
        for spy_process in spies:
            spy_process.send_signal(signal.SIGINT)
        for spy_process in spies:
            try:
                spy_process.wait(20)
            except subprocess.TimeoutExpired:
                spy_process.kill()
                spy_process.wait()


def _is(name: str, key: str) -> bool:
    if key.endswith("."):
        return name.startswith(key)
    return name == key or name.endswith("." + key)


def summarize(name: str, path: Path) -> None:
    """Samples of the event-loop thread by activity, the SQLite threads' share, and the
    functions that spent the most time themselves."""
    if not path.exists():
        print(f"  {name}: no profile")
        return
    activities: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [
            frame for frame in stack.split(";") if not frame.startswith(("process ", "thread "))
        ]
        inner = frames[-1] if frames else "?"
        if "_connection_worker_thread" in stack:
            label = "idle" if "core.py:59)" in inner else "SQLite executing (aiosqlite thread)"
        elif inner.startswith("Runner.run") or "select (selectors.py" in inner:
            label = "idle"  # waiting in the event loop (uvloop's own work shows here too)
        else:
            names = [frame.split(" (", 1)[0] for frame in reversed(frames)]
            label = next(
                (label for name in names for key, label in ACTIVITIES if _is(name, key)),
                "other (HTTP, event loop, connection pool, ...)",
            )
        activities[label] += count
        if label != "idle":
            own[inner] += count
    busy = sum(count for label, count in activities.items() if label != "idle")
    print(f"  {name}: {busy / 200:.1f} s busy (py-spy, 200 samples/s, all threads)")
    for label, count in activities.most_common():
        if label != "idle":
            print(f"    {count / busy:6.1%}  {label}")
    print("    own time, top 10:")
    for frame, count in own.most_common(10):
        print(f"    {count / busy:6.1%}  {frame[:110]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=DELAY)
    parser.add_argument("--worker", choices=["inline", "process"], default="inline")
    parser.add_argument("--phone-processes", type=int, default=PHONE_PROCESSES)
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy profiles kept here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="campaign-reach-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        log = Path(os.environ.get("REACH_LOG", work / "processes.log"))
        tls = make_tls(work)
        peer = stack.enter_context(fake_apns(tls, args.delay, announce=True))
        if args.backend == "sqlite":
            url = f"sqlite:///{work / 'reach.db'}"
        else:
            from stamp_api import postgres_database

            url = stack.enter_context(postgres_database())
        port = free_port()
        base = f"http://{HOST}:{port}"
        env = passes_env(url, tls, peer, base)
        key, shop_id = asyncio.run(prepare(url, tls))
        serve = [sys.executable, "-m", "passes", "serve", "--port", str(port)]
        if args.worker == "process":
            serve.append("--no-worker")
        server = stack.enter_context(running(serve, env, log, stdout=subprocess.DEVNULL))
        wait_ready(base, server, log)
        pids = {"server": server.pid, "fake APNs": peer.process.pid}
        if args.worker == "process":
            worker = stack.enter_context(
                running(
                    [sys.executable, "-m", "passes", "worker"], env, log, stdout=subprocess.DEVNULL
                )
            )
            pids["worker"] = worker.pid
        print(f"{args.backend}: issuing {args.devices} cards ...", flush=True)
        asyncio.run(issue(base, key, args.devices))
        rows = asyncio.run(phone_rows(url, shop_id, tls.identity.pass_type_id))
        shard_of: dict[str, int] = {}
        phones: list[subprocess.Popen[bytes]] = []
        for shard in range(args.phone_processes):
            part = rows[shard :: args.phone_processes]
            path = work / f"phones-{shard}.jsonl"
            path.write_text("".join(json.dumps(row) + "\n" for row in part))
            shard_of.update({row["push_token"]: shard for row in part})
            command = [sys.executable, str(HERE / "phones.py"), HOST, str(port), str(path)]
            phones.append(
                stack.enter_context(
                    running(command, env, log, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                )
            )
        for phone in phones:
            assert phone.stdout is not None
            assert phone.stdout.readline().strip() == b"ready", log.read_text(errors="replace")[
                -3000:
            ]
        print(f"{len(rows)} phones registered and holding their pass", flush=True)
        pushes = forward(peer, shard_of, phones)
        per_push = asyncio.run(sequential_seconds(tls, peer))
        text = f"Heute Kuchen zum halben Preis {secrets.token_hex(4)}"
        for phone in phones:
            assert phone.stdin is not None
            phone.stdin.write(f"watch {text}\n".encode())
            phone.stdin.flush()
        with profiling(args.profile, pids) as profiles:
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            started = time.monotonic()
            answer = httpx.post(
                f"{base}/api/v1/messages",
                json={"text": text, "segment": "all"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            )
            answered = time.monotonic() - started
            assert answer.status_code == 202, answer.text
            recipients = answer.json()["recipients"]
            held, phone_cpu = [], []
            for phone in phones:
                assert phone.stdout is not None
                held.append(float(phone.stdout.readline().split()[1]))
                phone_cpu.append(float(phone.stdout.readline().split()[1]))
            seconds = max(held) - started
            cpu_after = {name: cpu_seconds(pid) for name, pid in pids.items()}
        counted = Pushes(pushes.count, pushes.last - started)
        report(args, recipients, len(rows), per_push, seconds, answered, counted, phone_cpu)
        spent = {name: cpu_after[name] - cpu_before[name] for name in cpu_before}
        print(
            "  CPU in the timed part: "
            + ", ".join(f"{name} {value:.1f} s" for name, value in spent.items())
            + f", phones {sum(phone_cpu):.1f} s ({len(phone_cpu)} processes, "
            f"{sum(phone_cpu) / seconds / len(phone_cpu):.0%} of a core each)"
        )
        for name, path in profiles.items():
            summarize(name, path)


def report(
    args: argparse.Namespace,
    recipients: int,
    phones: int,
    per_push: float,
    seconds: float,
    answered: float,
    pushes: Pushes,
    phone_cpu: list[float],
) -> None:
    sequential = recipients * per_push
    nominal = recipients * args.delay
    ratio = sequential / seconds
    verdict = "met" if ratio >= TARGET else "NOT met"
    print()
    print(
        f"backend {args.backend}, worker {args.worker}, {recipients} recipients ({phones} phones)"
    )
    print(
        f"  sequential sender, push time only: {sequential:7.1f} s  (measured "
        f"{per_push * 1000:.1f} ms/push on 40, extrapolated; nominal {nominal:.0f} s)"
    )
    print(
        f"  campaign on every phone:           {seconds:7.1f} s  (POST /api/v1/messages answered "
        f"after {answered:.2f} s; {pushes.count} pushes, the last answered after "
        f"{pushes.last:.1f} s)"
    )
    print(
        f"  speed-up vs sequential: {ratio:.1f}x  (vs nominal {nominal / seconds:.1f}x; "
        f"target >= {TARGET:.0f}x: {verdict})"
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
