"""Fixtures: a dev identity, real databases (SQLite file and local PostgreSQL), the app over HTTP,
the pages' fresh app, and the local stand-ins for APNs and Google (tests/fake_apns.py,
tests/fake_google.py). Helpers that are not fixtures live in modules named for what they are:
api_calls, phones, pages_client, live, browser, pkpass_check, google_schema."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette

from passes.app import create_app
from passes.apple.devcerts import create_dev_identity
from passes.apple.identity import SigningIdentity, load_identity
from passes.config import Settings
from passes.service import Service
from passes.store import Store
from tests.fake_apns import FakeApns, make_tls_ca
from tests.fake_google import (
    ISSUER,
    SERVICE_ACCOUNT_EMAIL,
    CallbackSigner,
    FakeGoogle,
    RunningFake,
    write_account,
)
from tests.google_schema import Validate, walletobjects_validator
from tests.live import free_port, passes_env
from tests.webhook_receiver import Receiver

if TYPE_CHECKING:
    from tests.pages_client import Pages

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
def identity(certs_dir: Path) -> SigningIdentity:
    """The dev identity, loaded and checked once. Apps made per test take it: create_app would
    check the RSA key again (~40 ms of CPU each); the session's env app loads its own."""
    return load_identity(certs_dir, None)


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
    # The session's signing identity, for apps a test makes of its own (create_app(..., identity)).
    identity: SigningIdentity
    # Tests move it with monkeypatch.setattr(env.clock, "ahead", timedelta(days=...)).
    clock: MovableClock = field(default_factory=MovableClock)

    async def new_shop(self, stamps: int = 10, reward: str = "1 Vita Mix gratis") -> str:
        """Create a shop through the service the CLI uses; returns its API key."""
        _, key = await self.service.shops.create_shop(
            name=f"Café {secrets.token_hex(3)}", stamps=stamps, reward=reward
        )
        return key

    def google_settings(self, account: Path, api_url: str, **extra: str) -> Settings:
        """Settings with Google Wallet on (issuer ISSUER, service `account`, its API at
        `api_url`) over this env's migrated database and signing identity."""
        return Settings(
            database_url=self.settings.database_url,
            base_url=BASE_URL,
            certs_dir=self.settings.certs_dir,
            google_issuer_id=ISSUER,
            google_service_account=account,
            google_api_url=api_url,
            **extra,
        )


@pytest.fixture(scope="session")
async def env(database_url: str, certs_dir: Path, identity: SigningIdentity) -> AsyncIterator[Env]:
    """The real ASGI app over HTTP (httpx ASGITransport) on a migrated database."""
    settings = Settings(database_url=database_url, base_url=BASE_URL, certs_dir=certs_dir)
    store = Store(database_url)
    await store.migrate()
    await store.close()
    clock = MovableClock()
    app = create_app(settings, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield Env(settings, client, app.state.service, app, identity, clock)
    await app.state.service.store.close()


def auth(key: str) -> dict[str, str]:
    """The Bearer header for a shop key."""
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def pages(env: Env) -> AsyncIterator[Pages]:
    """A fresh app (its own rate limits) on the session's database, for browsing its pages."""
    from tests.pages_client import Pages  # it imports this module

    app = create_app(env.settings, env.identity)
    pages = Pages(app, app.state.service, [])
    yield pages
    for client in pages.clients:
        await client.aclose()
    await app.state.service.store.close()


@pytest.fixture
async def apns(
    tmp_path: Path, certs_dir: Path, identity: SigningIdentity
) -> AsyncIterator[FakeApns]:
    """A local APNs: trusts our dev CA for client certificates, is trusted via SSL_CERT_FILE."""
    ca, cert, key = make_tls_ca(tmp_path)
    topic = identity.pass_type_id
    async with FakeApns(cert, key, certs_dir / "wwdr.pem", topic=topic, server_ca=ca) as fake:
        yield fake


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """The key of the service account the local Google knows."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def signer() -> CallbackSigner:
    """Google's callback signing keys, as the local Google publishes them."""
    return CallbackSigner()


@pytest.fixture(scope="session")
def running(rsa_key: rsa.RSAPrivateKey, signer: CallbackSigner) -> Iterator[FakeGoogle]:
    """The local Google (token endpoint, Wallet REST API, callback keys) for the whole session."""
    google = FakeGoogle(root_keys=signer.root_keys())
    google.add_account(SERVICE_ACCOUNT_EMAIL, rsa_key.public_key())
    with RunningFake(google) as fake:
        yield fake


@pytest.fixture
def fake(running: FakeGoogle, signer: CallbackSigner) -> FakeGoogle:
    """The local Google with nothing recorded or planned from earlier tests."""
    running.reset()
    running.root_keys = signer.root_keys()
    return running


@pytest.fixture(scope="session")
def schema() -> Validate:
    """validate(schema_name, value) against Google's walletobjects v1 discovery document."""
    return walletobjects_validator()


@pytest.fixture
def google_env(
    tmp_path: Path, certs_dir: Path, fake: FakeGoogle, rsa_key: rsa.RSAPrivateKey
) -> dict[str, str]:
    """The environment of a `passes` process on a fresh SQLite file that uses the local Google."""
    account = write_account(tmp_path / "service-account.json", rsa_key, fake.token_url)
    return passes_env(
        f"sqlite:///{tmp_path / 'passes.db'}",
        certs_dir,
        PASSES_GOOGLE_ISSUER_ID=ISSUER,
        PASSES_GOOGLE_SERVICE_ACCOUNT=str(account),
        PASSES_GOOGLE_API_URL=fake.api_url,
        PASSES_GOOGLE_CALLBACK_KEYS_URL=f"{fake.url}/keys",
    )


@pytest.fixture
async def browsers(env: Env) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Clients with their own cookie jars (one phone's browser each), closed afterwards;
    tests.pages_client.browser opens them."""
    opened: list[httpx.AsyncClient] = []
    yield opened
    for client in opened:
        await client.aclose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (tests/webhook_receiver.py), stopped afterwards."""
    made = Receiver(free_port())
    made.start()
    yield made
    made.stop()
