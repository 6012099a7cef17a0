"""The reproductions of the security issue's input items, replayed against the real app: each
answers a precise 4xx (never a 500, never a dropped connection) and writes nothing. Also: a
capped Google callback, secrets kept out of the logs, a private SQLite file, and device log
lines that cannot pose as a card's own."""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import sqlite3
import stat
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select
from starlette.applications import Starlette

from passes.app import create_app
from passes.service import Service
from passes.staff import StaffPins
from passes.store import Store
from passes.store.shops import ShopRow
from passes.store.tables import metadata
from tests.conftest import BASE_URL, Env, auth
from tests.fake_google import (
    SERVICE_ACCOUNT_EMAIL,
    CallbackSigner,
    FakeGoogle,
    RunningFake,
    write_account,
)
from tests.live import PASSES, Said, create_shop, free_port, passes_env, run, server, wait_for
from tests.pages_client import csrf_of

PIN = "4711"
NUL_PATHS = [
    "/c/AB%00CD",
    "/c/AB%00CD/pass.pkpass",
    "/c/AB%00CD/strip.png",
    "/c/AB%00CD/feedback",
    "/join/{slug}%00a",
    "/join/{slug}%00a/poster",
    "/staff/{slug}%00a",
    "/staff/{slug}/cards/AB%00CD",
    "/dashboard/{slug}%00a",
    "/dashboard/{slug}%00a/ledger.csv",
]
UNICODE_DIGITS = ["%C2%B2", "%D9%A3", "1%C2%B2", "%EF%BC%91"]  # ², ٣ (Arabic 3), 1², １


# --- helpers: a fresh app per test (its own rate limits), browsers with their own cookies ---


@dataclass
class App:
    """A fresh app on the session's database, and the clients opened on it."""

    app: Starlette
    service: Service
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, address: str = "127.0.0.1", **headers: str) -> httpx.AsyncClient:
        """A client (browser or phone) with its own cookie jar; a 500 comes back as a 500."""
        transport = httpx.ASGITransport(
            app=self.app, raise_app_exceptions=False, client=(address, 40000)
        )
        client = httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers)
        self.clients.append(client)
        return client

    async def shop(self, stamps: int = 10) -> tuple[ShopRow, str]:
        shop, key = await self.service.shops.create_shop(
            name="Café Sicher", stamps=stamps, reward="1 Tee", slug=f"s-{secrets.token_hex(4)}"
        )
        await StaffPins(self.service.store).set_pin(shop, PIN)
        return shop, key

    async def rows(self) -> dict[str, int]:
        """Rows in every table: what a refused request must leave as it was."""
        async with self.service.store.reading() as conn:
            return {
                table.name: int(
                    (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                )
                for table in metadata.sorted_tables
            }


@pytest.fixture
async def site(env: Env) -> AsyncIterator[App]:
    app = create_app(env.settings, env.identity)
    made = App(app, app.state.service)
    yield made
    for client in made.clients:
        await client.aclose()
    await made.service.store.close()


async def staff_browser(site: App, shop: ShopRow) -> tuple[httpx.AsyncClient, str]:
    client = site.client()
    token = csrf_of(await client.get(f"/staff/{shop.slug}"))
    signed = await client.post(f"/staff/{shop.slug}/login", data={"csrf": token, "pin": PIN})
    assert signed.status_code == 303, signed.text
    return client, token


async def owner_browser(site: App, shop: ShopRow, key: str) -> tuple[httpx.AsyncClient, str]:
    client = site.client(**{"Accept-Language": "en"})
    token = csrf_of(await client.get(f"/dashboard/{shop.slug}"))
    signed = await client.post(f"/dashboard/{shop.slug}/login", data={"csrf": token, "key": key})
    assert signed.status_code == 303, signed.text
    return client, token


def refused(response: httpx.Response, status: int, naming: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    if naming is not None:
        assert naming in response.json()["error"]["message"], response.text


# --- Unicode digits: `²`.isdigit() is True but int("²") fails ---


async def test_unicode_digits_in_the_update_tag_are_400(site: App) -> None:
    pass_type = site.app.state.wallet.identity.pass_type_id
    phone = site.client()
    path = f"/wallet/v1/devices/{secrets.token_hex(8)}/registrations/{pass_type}"
    for tag in [*UNICODE_DIGITS, "9" * 5000, "-1", "1e3"]:
        refused(await phone.get(f"{path}?passesUpdatedSince={tag}"), 400, "passesUpdatedSince")
    assert (await phone.get(f"{path}?passesUpdatedSince=12")).status_code == 204
    assert (await phone.get(path)).status_code == 204


async def test_unicode_digit_change_ids_are_404_in_the_api_and_on_the_staff_page(
    site: App,
) -> None:
    shop, key = await site.shop()
    api = site.client()
    serial = (await api.post("/api/v1/cards", headers=auth(key))).json()["serial"]
    stamped = await api.post(f"/api/v1/cards/{serial}/stamps", json={"count": 3}, headers=auth(key))
    assert stamped.status_code == 200
    staff, token = await staff_browser(site, shop)
    before = await site.rows()
    for digits in UNICODE_DIGITS:
        undo = f"/api/v1/cards/{serial}/stamps/{digits}"
        refused(await api.delete(undo, headers=auth(key)), 404)
        page_undo = f"/staff/{shop.slug}/cards/{serial}/stamps/{digits}"
        refused(await staff.delete(page_undo, headers={"X-CSRF-Token": token}), 404)
    card = (await api.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
    assert card["stamps"] == 3
    assert await site.rows() == before


# --- NUL bytes, lone surrogates and control characters ---


async def test_nul_or_line_breaks_in_a_path_are_404(site: App) -> None:
    shop, _ = await site.shop()
    staff, token = await staff_browser(site, shop)
    pass_type = site.app.state.wallet.identity.pass_type_id
    before = await site.rows()
    for path in NUL_PATHS:
        refused(await staff.get(path.format(slug=shop.slug)), 404)
    refused(await staff.get(f"/wallet/v1/passes/{pass_type}/AB%00CD"), 404)
    form = {"csrf": token, "wallet": "apple"}
    refused(await staff.post(f"/join/{shop.slug}%00a", data=form), 404)
    refused(await staff.post(f"/staff/{shop.slug}%0D%0ASet-Cookie:%20a=b/logout", data=form), 404)
    refused(await staff.post(f"/dashboard/{shop.slug}%0Ax/logout", data=form), 404)
    assert await site.rows() == before


async def test_nul_in_a_card_cookie_is_no_card(site: App) -> None:
    shop, _ = await site.shop()
    phone = site.client()
    phone.cookies.set("passes_card", '"AB\\000CD"', path=f"/join/{shop.slug}")
    assert (await phone.get(f"/join/{shop.slug}")).status_code == 200


async def test_nul_in_feedback_text_is_refused_naming_the_field(site: App) -> None:
    shop, _ = await site.shop(stamps=1)
    view = await site.service.issuing.issue_card(shop, "test")
    await site.service.changes.stamp(shop, view.card.serial, 1, actor="test", idempotency_key=None)
    await site.service.changes.redeem(shop, view.card.serial, actor="test", idempotency_key=None)
    phone = site.client()
    path = f"/c/{view.card.page_secret}/feedback"
    token = csrf_of(await phone.get(path))
    before = await site.rows()
    answer = await phone.post(path, data={"csrf": token, "stars": "5", "text": "gut\x00"})
    refused(answer, 422, "text")
    assert await site.rows() == before
    given = await phone.post(path, data={"csrf": token, "stars": "5", "text": "gut"})
    assert given.status_code == 200


async def test_nul_in_a_location_address_is_refused_naming_the_field(site: App) -> None:
    shop, key = await site.shop()
    owner, token = await owner_browser(site, shop, key)
    before = await site.rows()
    place = {"csrf": token, "address": "Markt\x001", "latitude": "52.5", "longitude": "13.4"}
    refused(await owner.post(f"/dashboard/{shop.slug}/locations", data=place), 422, "address")
    assert await site.rows() == before


BAD_JSON_TEXT = [
    ("/api/v1/cards", b'{"referrer": "AB\\u0000CD"}', "referrer"),
    ("/api/v1/cards", b'{"referrer": "\\ud800"}', "referrer"),
    ("/api/v1/cards", b'{"customer": {"name": "Ann\\u0000", "consent": true}}', "customer.name"),
    ("/api/v1/cards", b'{"customer": {"name": "\\ud800", "consent": true}}', "customer.name"),
    (
        "/api/v1/cards",
        b'{"customer": {"email": "a\\u0000@b.de", "consent": true}}',
        "customer.email",
    ),
    ("/api/v1/messages", b'{"text": "Hallo \\udfff", "segment": "all"}', "text"),
    ("/api/v1/messages", b'{"text": "Hallo", "segment": "all\\u0000"}', "segment"),
    ("/api/v1/cards", b'{"\\ud800": 1}', "field name"),
]


@pytest.mark.parametrize(("path", "body", "naming"), BAD_JSON_TEXT)
async def test_nul_and_lone_surrogates_in_json_are_422_naming_the_field(
    site: App, path: str, body: bytes, naming: str
) -> None:
    _, key = await site.shop()
    api = site.client()
    before = await site.rows()
    headers = {**auth(key), "Content-Type": "application/json"}
    refused(await api.post(path, content=body, headers=headers), 422, naming)
    assert await site.rows() == before


# --- bodies: deep JSON, too many form fields, huge numbers ---


async def test_a_deep_staff_stamp_or_redeem_body_is_400(site: App) -> None:
    shop, _ = await site.shop()
    view = await site.service.issuing.issue_card(shop, "test")
    staff, token = await staff_browser(site, shop)
    before = await site.rows()
    for action in ("stamps", "redeem"):
        answer = await staff.post(
            f"/staff/{shop.slug}/cards/{view.card.serial}/{action}",
            content=b"[" * 1000,
            headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
        )
        refused(answer, 400)
        assert answer.json()["error"]["code"] == "bad_json"
    assert await site.rows() == before


async def test_a_form_with_too_many_fields_is_413(site: App) -> None:
    shop, _ = await site.shop()
    phone = site.client()
    token = csrf_of(await phone.get(f"/join/{shop.slug}"))
    before = await site.rows()
    crowded = {"csrf": token, "wallet": "apple", **{f"f{i}": "x" for i in range(60)}}
    answer = await phone.post(f"/join/{shop.slug}", data=crowded)
    refused(answer, 413)
    assert answer.json()["error"]["code"] == "too_many_fields"
    assert await site.rows() == before


async def test_the_whole_rules_form_with_every_tier_row_is_saved(site: App) -> None:
    """The dashboard's own rules form has 26 fields with five tier rows (it was a 500 over 20)."""
    shop, key = await site.shop(stamps=12)
    owner, token = await owner_browser(site, shop, key)
    page = (await owner.get(f"/dashboard/{shop.slug}")).text
    form = _rules_form(page, token)
    for i, at in enumerate((2, 4, 6, 8, 10), start=1):
        form[f"tier_at_{i}"], form[f"tier_reward_{i}"] = str(at), f"Geschenk {i}"
    assert len(form) > 20
    saved = await owner.post(f"/dashboard/{shop.slug}/program", data=form)
    assert saved.status_code == 303, saved.text[:300]
    assert len((await site.service.shops.shop(shop.slug)).program.tiers) == 5


def _rules_form(page: str, token: str) -> dict[str, str]:
    """The rules form's fields as the page fills them in."""
    section = page[page.index('action="/dashboard/') :]
    section = section[section.index("/program") :]
    section = section[: section.index("</form>")]
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', section))
    return {**fields, "csrf": token}


async def test_a_5000_digit_number_in_the_rules_form_is_refused(site: App) -> None:
    shop, key = await site.shop()
    owner, token = await owner_browser(site, shop, key)
    path = f"/dashboard/{shop.slug}/program"
    before = await site.rows()
    for name, extra in (
        ("messages_per_week", {}),
        ("loyal_after_cards", {}),
        ("tier_at_1", {"tier_reward_1": "Kaffee"}),
    ):
        answer = await owner.post(path, data={"csrf": token, name: "9" * 5000, **extra})
        assert answer.status_code == 422, (name, answer.status_code)
    assert await site.rows() == before
    assert (await site.service.shops.shop(shop.slug)).program == shop.program
    notice = await owner.get(f"/dashboard/{shop.slug}?saved=settings&refreshed={'9' * 5000}")
    assert notice.status_code == 200


async def test_a_5000_digit_content_length_is_413(site: App) -> None:
    _, key = await site.shop()
    api = site.client()
    before = await site.rows()
    answer = await api.post(
        "/api/v1/cards",
        content=b"{}",
        headers={**auth(key), "Content-Type": "application/json", "Content-Length": "9" * 5000},
    )
    refused(answer, 413)
    assert await site.rows() == before


# --- Google callbacks: deep JSON, too many signatures ---

ISSUER = "3388000000022222222"


@pytest.fixture(scope="module")
def signer() -> CallbackSigner:
    return CallbackSigner()


@pytest.fixture(scope="module")
def account_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def google(signer: CallbackSigner, account_key: rsa.RSAPrivateKey) -> Iterator[FakeGoogle]:
    fake = FakeGoogle(root_keys=signer.root_keys())
    fake.add_account(SERVICE_ACCOUNT_EMAIL, account_key.public_key())
    with RunningFake(fake) as running:
        yield running


@pytest.fixture
async def google_site(
    env: Env, google: FakeGoogle, account_key: rsa.RSAPrivateKey, tmp_path: Path
) -> AsyncIterator[App]:
    """The app with Google Wallet on, its callback keys served by the local fake."""
    account = write_account(tmp_path / "account.json", account_key, google.token_url)
    settings = env.google_settings(
        account, google.api_url, google_callback_keys_url=f"{google.url}/keys"
    )
    app = create_app(settings, env.identity)
    made = App(app, app.state.service)
    yield made
    for client in made.clients:
        await client.aclose()
    await made.service.store.close()


CALLBACK = "/wallet/google/callback"


async def test_a_deep_google_callback_is_400(google_site: App, signer: CallbackSigner) -> None:
    google = google_site.client()
    before = await google_site.rows()
    answer = await google.post(CALLBACK, content=b"[" * 60_000)
    refused(answer, 400, "not JSON")
    nested = signer.body(ISSUER).replace(b'"signedMessage": "', b'"signedMessage": "' + b"[" * 5000)
    refused(await google.post(CALLBACK, content=nested), 400)
    assert await google_site.rows() == before


async def test_a_google_callback_checks_only_a_few_signatures(
    google_site: App, signer: CallbackSigner
) -> None:
    import json

    envelope = json.loads(signer.body(ISSUER))
    real = envelope["intermediateSigningKey"]["signatures"][0]
    # 4,317 small signatures fit in 64 KiB; each cost a verification per root key.
    envelope["intermediateSigningKey"]["signatures"] = ["MAYCAQECAQE="] * 4317 + [real]
    body = json.dumps(envelope, separators=(",", ":")).encode()
    assert len(body) < 64 * 1024
    google = google_site.client()
    before = await google_site.rows()
    started = time.process_time()
    answer = await google.post(CALLBACK, content=body)
    spent = time.process_time() - started
    refused(answer, 400, "signatures")
    assert spent < 0.1, f"{spent:.3f} s of CPU for one callback"
    assert await google_site.rows() == before
    good = await google.post(CALLBACK, content=signer.body(ISSUER, nonce=secrets.token_hex(4)))
    assert good.status_code == 200, good.text


# --- device logs: nobody can speak for a card they have not proved ---


async def test_device_log_lines_from_unknown_senders_cannot_pose_as_the_cards_own(
    site: App,
) -> None:
    _, key = await site.shop()
    api = site.client()
    card = (await api.post("/api/v1/cards", headers=auth(key))).json()
    phone = site.client("198.51.100.20")
    pkpass = await phone.get(card["urls"]["apple"])
    pass_json = _pass_json(pkpass.content)
    pass_type, token = pass_json["passTypeIdentifier"], pass_json["authenticationToken"]
    registration = (
        f"/wallet/v1/devices/{secrets.token_hex(8)}/registrations/{pass_type}/{card['serial']}"
    )
    answer = await phone.post(
        registration,
        json={"pushToken": secrets.token_hex(32)},
        headers={"Authorization": f"ApplePass {token}"},
    )
    assert answer.status_code == 201
    url = f"https://x/wallet/v1/passes/{pass_type}/{card['serial']}"
    real = f"Web service error for {pass_type} ({url}): 500"
    assert (await phone.post("/wallet/v1/log", json={"logs": [real]})).status_code == 200
    stranger = site.client("203.0.113.66")
    forged = [f"Everything fine ({url}) #{i}" for i in range(20)]
    for _ in range(3):
        assert (await stranger.post("/wallet/v1/log", json={"logs": forged})).status_code == 200
    report = (await api.get(f"/api/v1/cards/{card['serial']}/deliveries", headers=auth(key))).json()
    assert [line["message"] for line in report["device_logs"]] == [real]
    unverified = report["unverified_device_logs"]
    assert len(unverified) == 20 and all("Everything fine" in x["message"] for x in unverified)


@pytest.mark.slow
async def test_card_show_labels_unverified_device_logs(site: App, env: Env) -> None:
    if not env.settings.database_url.startswith("sqlite"):
        pytest.skip("the CLI reads the same database either way")
    _, key = await site.shop()
    card = (await site.client().post("/api/v1/cards", headers=auth(key))).json()
    line = f"forged (https://x/wallet/v1/passes/p/{card['serial']})"
    stranger = site.client("203.0.113.67")
    assert (await stranger.post("/wallet/v1/log", json={"logs": [line]})).status_code == 200
    cli = passes_env(env.settings.database_url, env.settings.certs_dir)
    shown = run(cli, "card", "show", card["serial"]).stdout
    assert "unverified device log" in shown and line in shown
    assert not re.search(r"^\s*device log", shown, re.M)


def _pass_json(pkpass: bytes) -> dict:
    import io
    import json
    import zipfile

    return dict(json.loads(zipfile.ZipFile(io.BytesIO(pkpass)).read("pass.json")))


# --- a live server: raw requests, and what its log shows ---


def raw_request(port: int, request: bytes) -> bytes:
    """A request sent as written (no client normalises the path); what came back."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.slow
def test_live_server_answers_raw_paths_and_keeps_secrets_out_of_its_log(
    tmp_path: Path, certs_dir: Path
) -> None:
    database = tmp_path / "data" / "passes.db"
    env = passes_env(f"sqlite:///{database}", certs_dir)
    slug = "live-sicher"
    key = create_shop(env, slug=slug)
    said = Said()
    with server(env, said=said) as (base, _):
        port = int(base.rsplit(":", 1)[1])
        with httpx.Client(base_url=base, timeout=10) as client:
            card = client.post("/api/v1/cards", headers=auth(key)).json()
            secret = card["urls"]["card"].rsplit("/", 1)[1]
            assert client.get(f"/c/{secret}/no-such-page").status_code == 404
            assert client.get(f"/c/{secret}/pass.pkpass/more").status_code == 404
            page = client.get(f"/join/{slug}")
            token = csrf_of(page)
            cookie = f"passes_csrf={page.cookies['passes_csrf']}"
        body = f"csrf={token}".encode()
        for path in (f"/staff/{slug}%0D%0ASet-Cookie:%20a=b/logout", f"/join/{slug}%00a"):
            answer = raw_request(
                port,
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body,
            )
            assert answer.startswith(b"HTTP/1.1 404 "), (path, answer[:200])
        # A database fault while the card page is read: its traceback must not show the secret.
        with sqlite3.connect(database) as db:
            db.execute("ALTER TABLE cards RENAME COLUMN page_secret TO page_secret_moved")
        assert httpx.get(f"{base}/c/{secret}", timeout=10).status_code == 500
    logs = said.text
    assert "page_secret" in logs and "Traceback" in logs, "the database fault was logged"
    assert "/c/{secret}" in logs, "the access log names the card routes"
    assert secret not in logs


# --- the SQLite file holds personal data: only its owner may read it ---


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _init(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PASSES, "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        preexec_fn=lambda: os.umask(0o022),
    )


@pytest.mark.slow
def test_the_sqlite_folder_and_files_are_private(tmp_path: Path, certs_dir: Path) -> None:
    data = tmp_path / "data"
    database = data / "passes.db"
    env = passes_env(f"sqlite:///{database}", certs_dir)
    _init(env)
    assert _mode(data) == 0o700
    assert _mode(database) == 0o600
    for loose in (database, Path(f"{database}-wal")):
        loose.touch()
        loose.chmod(0o644)
    tightened = _init(env)
    assert _mode(database) == 0o600
    wal = Path(f"{database}-wal")
    assert not wal.exists() or _mode(wal) == 0o600, "SQLite removes an empty log on close"
    assert "0600" in tightened.stderr and f"{wal} was readable by others" in tightened.stderr


async def test_the_write_ahead_files_are_private_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = os.umask(0o022)
    try:
        database = tmp_path / "data" / "passes.db"
        store = Store(f"sqlite:///{database}")
        try:
            await store.migrate()
            async with store.reading() as conn:
                await conn.exec_driver_sql("SELECT 1")
                files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
                assert [_mode(path) for path in files] == [0o600] * 3
                for path in files:
                    path.chmod(0o644)
                with caplog.at_level(logging.WARNING):
                    again = Store(f"sqlite:///{database}")
                await again.close()
                assert [_mode(path) for path in files] == [0o600] * 3
        finally:
            await store.close()
    finally:
        os.umask(old)
    assert "0600" in caplog.text and f"{database}-shm" in caplog.text


@pytest.mark.slow
def test_a_server_on_a_fresh_data_folder_keeps_it_private(tmp_path: Path, certs_dir: Path) -> None:
    """`passes serve` takes its single-instance lock before the store opens: the lock file
    must not make the data folder with the usual mode."""
    data = tmp_path / "data"
    port = free_port()
    env = {
        **passes_env(f"sqlite:///{data / 'passes.db'}", certs_dir),
        "PASSES_BASE_URL": f"http://127.0.0.1:{port}",
    }
    proc = subprocess.Popen(
        [*PASSES, "serve", "--port", str(port), "--no-worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.umask(0o022),
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", proc)
        assert _mode(data) == 0o700
        assert _mode(data / "passes.db") == 0o600
        assert _mode(data / "passes.db.lock") == 0o600
    finally:
        proc.terminate()
        proc.wait(timeout=30)
