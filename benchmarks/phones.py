"""Simulated iPhones for campaign_reach.py: one process holds a share of the phones.

Each phone talks to the public Apple web service only, as iOS does: it registers its device and
push token, and on each push asks which of its passes changed since its tag and fetches them
with If-Modified-Since. Pushes arrive as token lines on stdin (forwarded from the fake APNs).

The HTTP client is a small keep-alive HTTP/1.1 pool parsed with httptools (uvicorn's parser),
so the phones cost far less CPU than the server they load. Protocol on stdout: `ready` once
every phone is registered and holds its pass, then `held <monotonic time>` when every phone of
this process holds a pass whose pass.json contains the text given by `watch TEXT` on stdin,
then `cpu <seconds>` (this process's CPU time from `watch` to the last pass held).
"""

from __future__ import annotations

import asyncio
import io
import json
import resource
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httptools

CONNECTIONS = 24


@dataclass
class Reply:
    status: int = 0
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)
    complete: bool = False

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> Reply:
        self.writer.write(raw)
        reply = Reply()
        parser = httptools.HttpResponseParser(reply)
        while not reply.complete:
            data = await self.reader.read(1 << 16)
            if not data:
                raise ConnectionError("server closed the connection")
            parser.feed_data(data)
        reply.status = parser.get_status_code()
        return reply


class Pool:
    """A few keep-alive connections shared by all phones of this process."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: asyncio.Queue[Connection] = asyncio.Queue()

    async def open(self, count: int) -> None:
        for _ in range(count):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.idle.put_nowait(Connection(reader, writer))

    async def send(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Reply:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        connection = await self.idle.get()
        try:
            return await connection.request(raw)
        finally:
            self.idle.put_nowait(connection)


@dataclass
class Phone:
    serial: str
    auth: str
    library_id: str
    push_token: str
    pass_type: str
    tag: str | None = None
    last_modified: str | None = None
    pass_json: bytes = b""

    @property
    def authorization(self) -> dict[str, str]:
        return {"Authorization": f"ApplePass {self.auth}"}

    async def register(self, pool: Pool) -> None:
        path = f"/wallet/v1/devices/{self.library_id}/registrations/{self.pass_type}/{self.serial}"
        body = json.dumps({"pushToken": self.push_token}).encode()
        headers = {**self.authorization, "Content-Type": "application/json"}
        reply = await pool.send("POST", path, headers, body)
        assert reply.status in (200, 201), reply.status

    async def on_push(self, pool: Pool) -> None:
        """What iOS does on a push: ask for changed serials, fetch each changed pass."""
        path = f"/wallet/v1/devices/{self.library_id}/registrations/{self.pass_type}"
        if self.tag is not None:
            path += f"?passesUpdatedSince={self.tag}"
        reply = await pool.send("GET", path, {})
        if reply.status == 204:
            return
        assert reply.status == 200, reply.status
        answer = json.loads(b"".join(reply.body))
        self.tag = answer["lastUpdated"]
        if self.serial in answer["serialNumbers"]:
            await self.fetch(pool)

    async def fetch(self, pool: Pool) -> None:
        headers = dict(self.authorization)
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        reply = await pool.send("GET", f"/wallet/v1/passes/{self.pass_type}/{self.serial}", headers)
        if reply.status == 304:
            return
        assert reply.status == 200, reply.status
        self.last_modified = reply.headers[b"last-modified"].decode()
        with zipfile.ZipFile(io.BytesIO(b"".join(reply.body))) as pkpass:
            self.pass_json = pkpass.read("pass.json")


async def main(host: str, port: int, phones_file: str) -> None:
    lines = Path(phones_file).read_text(encoding="utf-8").splitlines()  # noqa: ASYNC240
    phones = [Phone(**json.loads(line)) for line in lines]
    by_token = {phone.push_token: phone for phone in phones}
    pool = Pool(host, port)
    await pool.open(CONNECTIONS)
    limit = asyncio.Semaphore(CONNECTIONS * 2)

    async def setup(phone: Phone) -> None:
        async with limit:
            await phone.register(pool)
            await phone.on_push(pool)  # the tag, and the pass as it is now

    await asyncio.gather(*(setup(phone) for phone in phones))
    stdin = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    print("ready", flush=True)
    marker = (await stdin.readline()).decode().removeprefix("watch ").strip().encode()
    cpu_start = _cpu()
    waiting = {phone.serial for phone in phones}
    done = asyncio.Event()
    tasks: set[asyncio.Task[Any]] = set()

    async def pushed(phone: Phone) -> None:
        await phone.on_push(pool)
        if marker in phone.pass_json and phone.serial in waiting:
            waiting.discard(phone.serial)
            if not waiting:
                print(f"held {time.monotonic()}", flush=True)
                done.set()

    async def listen() -> None:
        while line := await stdin.readline():
            phone = by_token.get(line.decode().strip())
            if phone is not None:
                task = asyncio.create_task(pushed(phone))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

    listener = asyncio.create_task(listen())
    await done.wait()
    print(f"cpu {_cpu() - cpu_start:.2f}", flush=True)
    listener.cancel()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
