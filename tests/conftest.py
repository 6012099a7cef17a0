"""Fixtures: a dev identity, real databases (SQLite file and local PostgreSQL), the app over HTTP."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from passes.app import create_app
from passes.apple.devcerts import create_dev_identity
from passes.config import Settings
from passes.service import Service
from passes.store import Store

PG_ADMIN_URL = os.environ.get("PASSES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BASE_URL = "http://127.0.0.1:8000"


def _postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason."""
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable ({exc})"
    return None


@pytest.fixture(scope="session")
def certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dev signing identity: wwdr.pem is the local CA that verifies our signatures."""
    path = tmp_path_factory.mktemp("certs")
    create_dev_identity(path)
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    reason = _postgres_available()
    if reason:
        pytest.skip(reason)
    import asyncpg

    name = f"passes_test_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"CREATE DATABASE {name}"))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Each API test runs on the embedded SQLite file and on the local PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'passes.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


class MovableClock:
    """The app's one clock, moved forward by tests instead of waiting for days."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@dataclass
class Env:
    """A running app with its settings and an HTTP client to it."""

    settings: Settings
    client: httpx.AsyncClient
    service: Service
    app: Starlette
    # Tests move it with monkeypatch.setattr(env.clock, "ahead", timedelta(days=...)).
    clock: MovableClock = field(default_factory=MovableClock)

    async def new_shop(self, stamps: int = 10, reward: str = "1 Vita Mix gratis") -> str:
        """Create a shop through the service the CLI uses; returns its API key."""
        _, key = await self.service.create_shop(
            name=f"Café {secrets.token_hex(3)}", stamps=stamps, reward=reward
        )
        return key


@pytest.fixture(scope="session")
async def env(database_url: str, certs_dir: Path) -> AsyncIterator[Env]:
    """The real ASGI app over HTTP (httpx ASGITransport) on a migrated database."""
    settings = Settings(database_url=database_url, base_url=BASE_URL, certs_dir=certs_dir)
    store = Store(database_url)
    await store.migrate()
    await store.close()
    clock = MovableClock()
    app = create_app(settings, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield Env(settings, client, app.state.service, app, clock)
    await app.state.service.store.close()


def auth(key: str) -> dict[str, str]:
    """The Bearer header for a shop key."""
    return {"Authorization": f"Bearer {key}"}
