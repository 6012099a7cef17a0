"""Bad input and isolation: precise 4xx with nothing written, one shop never reaches another's
cards, wallets only their own pass, no path escapes, no secret in the logs, page headers."""

from __future__ import annotations

import re
import secrets
import socket
from pathlib import Path

import httpx
import pytest

from passes.openapi import openapi_document
from tests.conftest import BASE_URL, Env, auth
from tests.live import Said, create_shop, passes_env, run, server
from tests.pkpass_check import verify_pkpass

LIMIT = 64 * 1024
DEEP = b"[" * 30_000 + b"]" * 30_000


async def new_card(env: Env, key: str) -> dict:
    response = await env.client.post("/api/v1/cards", headers=auth(key))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def cards_issued(env: Env, key: str) -> int:
    stats = await env.client.get("/api/v1/stats", headers=auth(key))
    return int(stats.json()["cards_issued"])


BAD_BODIES = [
    ({"Content-Type": "application/json"}, b"{" + b" " * LIMIT + b"}", 413, "too_large"),
    ({"Content-Type": "application/json"}, DEEP, 400, "bad_json"),
    ({"Content-Type": "application/json"}, b'{"a": 1, ', 400, "bad_json"),
    ({"Content-Type": "application/json"}, b"\xff\xfe{}", 400, "bad_json"),
    ({"Content-Type": "text/plain"}, b"{}", 415, "unsupported_media_type"),
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"count=1", 415, None),
    ({"Content-Type": "application/json"}, b'"a string"', 422, "invalid"),
    ({"Content-Type": "application/json", "Content-Length": "99999999"}, b"{}", 413, None),
]


@pytest.mark.parametrize(("headers", "body", "status", "code"), BAD_BODIES)
@pytest.mark.parametrize(
    "path", ["/cards", "/cards/{serial}/stamps", "/cards/{serial}/redeem", "/messages"]
)
async def test_bad_bodies_get_a_precise_4xx_and_write_nothing(
    env: Env, path: str, headers: dict[str, str], body: bytes, status: int, code: str | None
) -> None:
    key = await env.new_shop(stamps=1)
    card = await new_card(env, key)
    await env.client.post(
        f"/api/v1/cards/{card['serial']}/stamps", json={"count": 1}, headers=auth(key)
    )
    before = (await env.client.get(f"/api/v1/cards/{card['serial']}", headers=auth(key))).json()
    response = await env.client.post(
        "/api/v1" + path.format(serial=card["serial"]),
        content=body,
        headers={**auth(key), **headers},
    )
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["error"]["code"] == code
    after = (await env.client.get(f"/api/v1/cards/{card['serial']}", headers=auth(key))).json()
    assert after == before
    assert await cards_issued(env, key) == 1
    history = await env.client.get("/api/v1/messages", headers=auth(key))
    assert history.json()["campaigns"] == []


@pytest.mark.parametrize(
    "count", [-1, 0, 51, 2**31, 2**63, 10**30, -(10**30), 1e308, "1", None, [1], {"n": 1}]
)
async def test_negative_and_huge_counts_are_refused(env: Env, count: object) -> None:
    key = await env.new_shop()
    card = await new_card(env, key)
    response = await env.client.post(
        f"/api/v1/cards/{card['serial']}/stamps", json={"count": count}, headers=auth(key)
    )
    assert response.status_code == 422, response.text
    after = (await env.client.get(f"/api/v1/cards/{card['serial']}", headers=auth(key))).json()
    assert (after["total_stamps"], after["version"]) == (0, 1)


def _shop_scoped_operations() -> list[tuple[str, str]]:
    """Every operation of the document that names a card."""
    document = openapi_document(BASE_URL)
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        if "{serial}" in path
        for method in item
    ]


@pytest.mark.parametrize(("method", "path"), _shop_scoped_operations())
async def test_every_card_endpoint_refuses_another_shops_key(
    env: Env, method: str, path: str
) -> None:
    owner, stranger = await env.new_shop(stamps=1), await env.new_shop(stamps=1)
    card = await new_card(env, owner)
    stamped = await env.client.post(
        f"/api/v1/cards/{card['serial']}/stamps", json={"count": 1}, headers=auth(owner)
    )
    url = "/api/v1" + path.format(
        serial=card["serial"], change_id=stamped.json()["last_change_id"], reference="R-1"
    )
    body: dict[str, object] | None = {"count": 1} if path.endswith("/stamps") else None
    if path.endswith("/purchases"):
        body = {"amount": "5.00", "currency": "EUR", "reference": "R-1"}
    response = await env.client.request(method, url, json=body, headers=auth(stranger))
    assert response.status_code == 404, (method, path, response.text)
    assert response.json()["error"]["code"] == "not_found"
    unknown = await env.client.request(
        method, url.replace(card["serial"], "NXSUCHCARD00"), json=body, headers=auth(owner)
    )
    assert response.json()["error"]["message"] == unknown.json()["error"]["message"].replace(
        "NXSUCHCARD00", card["serial"]
    ), "another shop's card looks exactly like no card"
    after = (await env.client.get(f"/api/v1/cards/{card['serial']}", headers=auth(owner))).json()
    assert (after["total_stamps"], after["rewards_available"], after["voided"]) == (1, 1, False)


async def test_shop_wide_figures_are_the_keys_own(env: Env) -> None:
    owner, stranger = await env.new_shop(), await env.new_shop()
    await new_card(env, owner)
    await env.client.post(
        "/api/v1/messages", json={"text": "Hallo", "segment": "all"}, headers=auth(owner)
    )
    assert await cards_issued(env, stranger) == 0
    history = await env.client.get("/api/v1/messages", headers=auth(stranger))
    assert history.json()["campaigns"] == []


async def _pass_of(env: Env, card: dict) -> dict:
    pkpass = (await env.client.get(card["urls"]["apple"])).content
    return verify_pkpass(pkpass, env.settings.certs_dir / "wwdr.pem")


async def test_the_wallet_web_service_refuses_other_cards_tokens(env: Env) -> None:
    key = await env.new_shop()
    mine = await _pass_of(env, await new_card(env, key))
    theirs = await _pass_of(env, await new_card(env, await env.new_shop()))
    pass_type, serial = mine["passTypeIdentifier"], mine["serialNumber"]
    registration = f"/wallet/v1/devices/{secrets.token_hex(8)}/registrations/{pass_type}/{serial}"
    for token in (
        theirs["authenticationToken"],
        mine["authenticationToken"][:-1],
        "",
        mine["authenticationToken"] + "x",
    ):
        headers = {"Authorization": f"ApplePass {token}"}
        fetched = await env.client.get(f"/wallet/v1/passes/{pass_type}/{serial}", headers=headers)
        registered = await env.client.post(
            registration, json={"pushToken": secrets.token_hex(32)}, headers=headers
        )
        removed = await env.client.delete(registration, headers=headers)
        assert (fetched.status_code, registered.status_code, removed.status_code) == (401,) * 3
    wrong_scheme = {"Authorization": f"Bearer {mine['authenticationToken']}"}
    fetched = await env.client.get(f"/wallet/v1/passes/{pass_type}/{serial}", headers=wrong_scheme)
    assert fetched.status_code == 401
    deliveries = await env.client.get(f"/api/v1/cards/{serial}/deliveries", headers=auth(key))
    assert deliveries.json()["devices"] == [], "no registration was written"


@pytest.mark.parametrize(
    "name",
    [
        "Café\x07Sonne",  # (argv cannot carry NUL)
        "Café\nSonne",
        "\x1b[31mRot\x1b[0m",
        "Sonne\u202etxt.exe",
        "Zero\u200bwidth",
        "x" * 201,
        "   ",
    ],
)
@pytest.mark.slow
def test_shop_names_with_control_characters_are_refused(tmp_path: Path, name: str) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", tmp_path / "certs")
    slug = "refused-shop"
    refused = run(env, "shop", "create", "--name", name, "--slug", slug, "--reward", "1", ok=False)
    assert refused.returncode != 0
    assert refused.stderr.strip(), "one line that says what is wrong"
    assert "Traceback" not in refused.stderr
    create_shop(env, slug=slug)  # the slug is still free: nothing was written


@pytest.mark.slow
def test_unicode_shop_names_are_kept(tmp_path: Path) -> None:
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", tmp_path / "certs")
    name = "Café Sōnne 日本茶 ☕ Ærø"
    out = run(env, "shop", "create", "--name", name, "--reward", "1 Tee").stdout
    assert name in out
    slug = re.search(r"shop:\s+(\S+)", out)
    assert slug and re.fullmatch(r"[a-z0-9-]+", slug.group(1))


TRAVERSALS = [
    "/static/../passes/config.py",
    "/static/..%2f..%2fpasses%2fconfig.py",
    "/static/%2e%2e/%2e%2e/passes/config.py",
    "/static/....//....//etc/passwd",
    "/static//etc/passwd",
    "/c/..%2f..%2fetc%2fpasswd",
    "/c/../../etc/passwd",
    "/img/..%2f..%2fpasses%2fconfig.py",
    "/img/strip/../../../../etc/passwd",
    "/vendor/..%2f..%2fpasses%2fconfig.py",
    "/join/..%2f..%2fetc%2fpasswd",
    "/wallet/v1/passes/..%2f..%2f/etc%2fpasswd",
]


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """A request line sent as written: no client normalises the path first."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    return int(answer.split(b" ", 2)[1]), answer


@pytest.mark.slow
def test_live_server_paths_headers_and_logs(tmp_path: Path, certs_dir: Path) -> None:
    """One real server: path traversal, security headers, and a log free of secrets."""
    pin = "482916"
    env = passes_env(f"sqlite:///{tmp_path / 'passes.db'}", certs_dir)
    slug = "sicher"
    out = run(
        env, "shop", "create", "--name", "Café Sicher", "--slug", slug, "--reward", "1 Tee",
        "--pin", pin,
    ).stdout  # fmt: skip
    key = re.search(r"api key: (\S+)", out)
    assert key
    api_key = key.group(1)
    said = Said()
    with server(env, said=said) as (base, _):
        port = int(base.rsplit(":", 1)[1])
        secrets_seen = _exercise(base, api_key, slug, pin)
        for target in TRAVERSALS:
            status, answer = raw_get(port, target)
            assert status in (400, 404), (target, status)
            assert b"PASSES_" not in answer and b"root:" not in answer, target
        assert not any(p.name == "passwd" for p in tmp_path.rglob("*")), "nothing written"
    logs = said.text
    assert "/api/v1/cards" in logs, "the access log was captured"
    for name, value in secrets_seen.items():
        assert value not in logs, f"the {name} appears in the server's log"


def _exercise(base: str, api_key: str, slug: str, pin: str) -> dict[str, str]:
    """API calls, card page, pass download, device registration, bad credentials."""
    with httpx.Client(base_url=base, timeout=10) as client:
        created = client.post("/api/v1/cards", headers=auth(api_key)).json()
        serial = created["serial"]
        client.post(
            f"/api/v1/cards/{serial}/stamps",
            json={"count": 2},
            headers={**auth(api_key), "Idempotency-Key": "visit-1"},
        )
        client.get(f"/api/v1/cards/{serial}", headers=auth(api_key))
        client.get(f"/api/v1/cards/{serial}", headers=auth(api_key[:-2] + "xx"))
        page = client.get(created["urls"]["card"])
        _assert_page_headers(page)
        for path in (f"/join/{slug}", f"/staff/{slug}", f"/dashboard/{slug}"):
            _assert_page_headers(client.get(path))
        pkpass = client.get(created["urls"]["apple"]).content
        token = _auth_token(pkpass)
        pass_type = _pass_type(pkpass)
        push_token = secrets.token_hex(32)
        device = secrets.token_hex(16)
        registration = f"/wallet/v1/devices/{device}/registrations/{pass_type}/{serial}"
        answer = client.post(
            registration,
            json={"pushToken": push_token},
            headers={"Authorization": f"ApplePass {token}"},
        )
        assert answer.status_code == 201
        client.get(
            f"/wallet/v1/passes/{pass_type}/{serial}",
            headers={"Authorization": f"ApplePass {token}x"},
        )
        client.post("/wallet/v1/log", json={"logs": [f"pass {serial} failed to update"]})
        client.post(f"/staff/{slug}/login", data={"pin": pin})
        client.post(f"/api/v1/cards/{serial}/stamps", json={"count": 1}, headers=auth(api_key))
    secret = created["urls"]["card"].rsplit("/", 1)[1]
    return {
        "API key": api_key,
        "API key's secret part": api_key[8:],
        "authenticationToken": token,
        "card page secret": secret,
        "push token": push_token,
        "staff PIN": pin,
    }


def _pass_json(pkpass: bytes) -> dict:
    import io
    import json
    import zipfile

    return dict(json.loads(zipfile.ZipFile(io.BytesIO(pkpass)).read("pass.json")))


def _auth_token(pkpass: bytes) -> str:
    return str(_pass_json(pkpass)["authenticationToken"])


def _pass_type(pkpass: bytes) -> str:
    return str(_pass_json(pkpass)["passTypeIdentifier"])


def _assert_page_headers(page: httpx.Response) -> None:
    assert page.status_code == 200, (page.url, page.status_code)
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'unsafe-inline'" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
