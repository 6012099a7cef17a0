"""Google Wallet: key loading, content mapping (checked against Google's own schema), save links,
the REST client against a fake Google over HTTP, and callback verification."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from passes.card_facts import RewardSummary
from passes.errors import ConfigError, InvalidInput
from passes.google import (
    CallbackVerifier,
    GoogleAccount,
    GoogleCardContent,
    GoogleProgramContent,
    GoogleRequestError,
    GoogleUnavailable,
    GoogleWalletClient,
    SaveLinkSigner,
    load_google,
    loyalty_class,
    loyalty_object,
    public_base_warning,
)
from passes.google.callbacks import fetch_root_keys
from passes.google.objects import resource_id
from tests.fake_google import (
    ISSUER,
    SERVICE_ACCOUNT_EMAIL,
    CallbackSigner,
    FakeGoogle,
    ec_key,
    verify_rs256,
    write_account,
)

EMAIL = SERVICE_ACCOUNT_EMAIL
BASE = "https://stempel.example.com"


# --- credentials and the fake ---


@pytest.fixture(scope="module")
def account(
    running: FakeGoogle, rsa_key: rsa.RSAPrivateKey, tmp_path_factory: pytest.TempPathFactory
) -> GoogleAccount:
    path = write_account(tmp_path_factory.mktemp("google") / "sa.json", rsa_key, running.token_url)
    loaded = load_google(ISSUER, path, running.api_url, BASE)
    assert loaded is not None
    return loaded


@pytest.fixture
async def client(account: GoogleAccount, fake: FakeGoogle) -> AsyncIterator[GoogleWalletClient]:
    async with GoogleWalletClient(account) as wallet:
        yield wallet


def program(**changes: Any) -> GoogleProgramContent:
    values: dict[str, Any] = {
        "shop_slug": "cafe-sonne",
        "shop_name": "Café Sonne",
        "stamps_required": 10,
        "reward": "1 Vita Mix gratis",
        "background_color": "#3B2A20",
        "logo_url": f"{BASE}/static/shops/cafe-sonne/logo.png",
        "callback_url": f"{BASE}/wallet/google/callback",
    }
    return GoogleProgramContent(**{**values, **changes})


def card(**changes: Any) -> GoogleCardContent:
    values: dict[str, Any] = {
        "serial": "7K3M9QW2XR4T",
        "shop_slug": "cafe-sonne",
        "shop_name": "Café Sonne",
        "stamps": 4,
        "stamps_required": 10,
        "rewards_available": 0,
        "reward": "1 Vita Mix gratis",
        "background_color": "#3B2A20",
        "card_url": f"{BASE}/c/s3cr3t",
        "strip_image_url": f"{BASE}/img/strip/cafe-sonne/4.png",
        "logo_url": f"{BASE}/static/shops/cafe-sonne/logo.png",
    }
    return GoogleCardContent(**{**values, **changes})


# --- configuration ---


def test_google_is_off_when_unset(tmp_path: Path) -> None:
    assert load_google(None, tmp_path / "sa.json", "https://x", BASE) is None
    assert load_google(ISSUER, None, "https://x", BASE) is None


BROKEN: dict[str, Callable[[Path, rsa.RSAPrivateKey], object]] = {
    "not found": lambda path, key: None,
    "not JSON": lambda path, key: path.write_text("-----BEGIN PRIVATE KEY-----"),
    "authorized_user": lambda path, key: path.write_text('{"type": "authorized_user"}'),
    "no private_key": lambda path, key: path.write_text(
        json.dumps({"type": "service_account", "client_email": EMAIL, "private_key_id": "k"})
    ),
    "garbage key": lambda path, key: write_account(
        path, key, "https://oauth2.googleapis.com/token", private_key="nope"
    ),
    "EC key": lambda path, key: write_account(path, ec_key(), "https://x/token"),
    "http token_uri": lambda path, key: write_account(path, key, "http://evil.example/token"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_key_file_names_the_file(
    case: str, tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "service-account.json"
    BROKEN[case](path, rsa_key)
    with pytest.raises(ConfigError) as error:
        load_google(ISSUER, path, "https://x", BASE)
    message = str(error.value)
    assert str(path) in message and "\n" not in message
    assert "PASSES_GOOGLE_SERVICE_ACCOUNT" in message


def test_issuer_id_must_be_numeric(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    path = write_account(tmp_path / "sa.json", rsa_key, "https://oauth2.googleapis.com/token")
    with pytest.raises(ConfigError, match="PASSES_GOOGLE_ISSUER_ID"):
        load_google("my-issuer", path, "https://x", BASE)


def test_bad_trust_file_is_a_config_error(account: GoogleAccount, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SSL_CERT_FILE"):
        GoogleWalletClient(account, ca_file=str(tmp_path / "missing.pem"))


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000", "https://localhost", "https://10.1.2.3", "http://stempel.example"],
)
def test_images_need_a_public_https_base(url: str) -> None:
    warning = public_base_warning(url)
    assert warning is not None and url in warning and "image" in warning


def test_public_https_base_is_fine() -> None:
    assert public_base_warning(BASE) is None


# --- content ---

ID_PATTERN = re.compile(r"\d+\.[A-Za-z0-9._-]+")


@given(st.text(min_size=1, max_size=300))
def test_resource_ids_are_safe_and_deterministic(name: str) -> None:
    made = resource_id(ISSUER, name)
    assert ID_PATTERN.fullmatch(made) and made == resource_id(ISSUER, name)


def test_resource_ids_keep_names_apart() -> None:
    names = ["cafe", "café", "caf_", "café!", "x" * 200, "x" * 201]
    assert len({resource_id(ISSUER, n) for n in names}) == len(names)
    assert resource_id(ISSUER, "7K3M9QW2XR4T") == f"{ISSUER}.7K3M9QW2XR4T"


def test_class_follows_googles_schema(schema: Callable[[str, Any], None]) -> None:
    made = loyalty_class(ISSUER, program(background_color="#abc"))
    schema("LoyaltyClass", made)
    assert made["id"] == f"{ISSUER}.cafe-sonne" and made["issuerName"] == "Café Sonne"
    assert made["hexBackgroundColor"] == "#aabbcc" and made["reviewStatus"] == "UNDER_REVIEW"
    assert made["localizedProgramName"]["translatedValues"] == [
        {"language": "en", "value": "Stamp card"},
        {"language": "fr", "value": "Carte de fidélité"},
    ]
    assert made["callbackOptions"] == {"url": f"{BASE}/wallet/google/callback"}
    assert "10 Stempel: 1 Vita Mix gratis" in [m["body"] for m in made["textModulesData"]]


def test_object_follows_googles_schema(schema: Callable[[str, Any], None]) -> None:
    made = loyalty_object(ISSUER, card())
    schema("LoyaltyObject", made)
    assert made["classId"] == f"{ISSUER}.cafe-sonne" and made["state"] == "ACTIVE"
    assert made["loyaltyPoints"]["balance"] == {"string": "4 / 10"}
    assert made["barcode"] == {
        "type": "QR_CODE",
        "value": "7K3M9QW2XR4T",
        "alternateText": "7K3M9QW2XR4T",
    }
    assert made["heroImage"]["sourceUri"]["uri"].endswith("/4.png")
    assert made["linksModuleData"]["uris"][0]["uri"] == f"{BASE}/c/s3cr3t"


def test_reward_due_and_voided_cards(schema: Callable[[str, Any], None]) -> None:
    due = loyalty_object(ISSUER, card(stamps=0, rewards_available=2))
    voided = loyalty_object(ISSUER, card(voided=True))
    for made in (due, voided):
        schema("LoyaltyObject", made)
    reward = next(m for m in due["textModulesData"] if m["id"] == "reward")
    assert reward["header"] == "Prämien bereit" and reward["body"] == "🎁 2 × 1 Vita Mix gratis"
    assert voided["state"] == "INACTIVE" and voided["textModulesData"][0]["id"] == "status"


def test_tiers_next_reward_and_expiry_dates(schema: Callable[[str, Any], None]) -> None:
    tiers = ((5, "1 Cookie"), (10, "1 Vita Mix gratis"))
    moment = datetime(2027, 2, 27, 12, 30, tzinfo=UTC)
    waiting = loyalty_object(
        ISSUER,
        card(
            stamps=3,
            rewards=RewardSummary(tiers=tiers, next=(2, "1 Cookie"), stamps_expire_on=moment),
        ),
    )
    due = loyalty_object(
        ISSUER,
        card(
            stamps=6,
            rewards_available=3,
            rewards=RewardSummary(
                tiers=tiers,
                due=(("1 Cookie", 2), ("1 Vita Mix gratis", 1)),
                next=(4, "1 Vita Mix gratis"),
                reward_expires_on=moment,
            ),
        ),
    )
    for made in (waiting, due):
        schema("LoyaltyObject", made)
    modules = {m["id"]: m for m in waiting["textModulesData"]}
    assert modules["reward"]["header"] == "Noch 2 Stempel bis"
    assert modules["reward"]["body"] == "1 Cookie"
    assert modules["rewards"]["body"] == "5: 1 Cookie\n10: 1 Vita Mix gratis"
    expiry = modules["stamps_expire"]
    assert (expiry["header"], expiry["body"]) == ("Stempel verfallen am", "27.02.2027")
    assert expiry["localizedBody"]["translatedValues"] == [
        {"language": "en", "value": "27 Feb 2027"},
        {"language": "fr", "value": "27 févr. 2027"},
    ]
    modules = {m["id"]: m for m in due["textModulesData"]}
    assert modules["reward"]["body"] == "🎁 2 × 1 Cookie + 1 Vita Mix gratis"
    assert modules["next"]["header"] == "Noch 4 Stempel bis"
    assert modules["reward_expires"]["body"] == "27.02.2027"


def test_schema_check_catches_misspelled_fields(schema: Callable[[str, Any], None]) -> None:
    made = loyalty_class(ISSUER, program())
    made["hexBackgroundColour"] = made.pop("hexBackgroundColor")
    with pytest.raises(jsonschema.ValidationError):
        schema("LoyaltyClass", made)
    with pytest.raises(jsonschema.ValidationError):
        schema("LoyaltyObject", {**loyalty_object(ISSUER, card()), "state": "VOID"})


# --- save links ---


def test_save_link_is_signed_by_the_service_account(
    account: GoogleAccount, rsa_key: rsa.RSAPrivateKey
) -> None:
    url = SaveLinkSigner(account, clock=lambda: 1_700_000_000.5).save_url([f"{ISSUER}.A", "B"])
    prefix = "https://pay.google.com/gp/v/save/"
    assert url.startswith(prefix)
    token = url.removeprefix(prefix)
    header, claims = verify_rs256(token, {EMAIL: rsa_key.public_key()})
    assert header == {"alg": "RS256", "typ": "JWT", "kid": "0123456789abcdef"}
    assert claims == {
        "iss": EMAIL,
        "aud": "google",
        "typ": "savetowallet",
        "iat": 1_700_000_000,
        "origins": [BASE],
        "payload": {"loyaltyObjects": [{"id": f"{ISSUER}.A"}, {"id": "B"}]},
    }
    assert len(token) < 1800


def test_save_link_refuses_google_length_limit(account: GoogleAccount) -> None:
    signer = SaveLinkSigner(account)
    with pytest.raises(ValueError, match="1800"):
        signer.save_url([f"{ISSUER}.{n:020d}" for n in range(40)])
    with pytest.raises(ValueError):
        signer.save_url([])


# --- REST client against the fake ---


async def test_token_is_fetched_once_and_cached(account: GoogleAccount, fake: FakeGoogle) -> None:
    fake.reset()
    offset = [-3400.0]  # the first token was fetched "long ago": nearly expired now
    async with GoogleWalletClient(account, clock=lambda: time.time() + offset[0]) as wallet:
        before = fake.token_requests
        await wallet.ensure_class(loyalty_class(ISSUER, program()))
        await wallet.get_class(f"{ISSUER}.cafe-sonne")
        assert fake.token_requests == before + 1
        offset[0] = 0.0
        await wallet.get_class(f"{ISSUER}.cafe-sonne")
        assert fake.token_requests == before + 2
    token_calls = [r for r in fake.requests if r.path == "/token"]
    assert token_calls[0].body == {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}


async def test_ensure_class_inserts_then_patches(
    client: GoogleWalletClient, fake: FakeGoogle, schema: Callable[[str, Any], None]
) -> None:
    await client.ensure_class(loyalty_class(ISSUER, program()))
    await client.ensure_class(loyalty_class(ISSUER, program(reward="2 Kekse")))
    calls = [(r.method, r.path) for r in fake.requests if r.path != "/token"]
    assert calls == [
        ("POST", "/walletobjects/v1/loyaltyClass"),
        ("POST", "/walletobjects/v1/loyaltyClass"),
        ("PATCH", f"/walletobjects/v1/loyaltyClass/{ISSUER}.cafe-sonne"),
    ]
    stored = await client.get_class(f"{ISSUER}.cafe-sonne")
    assert "10 Stempel: 2 Kekse" in [m["body"] for m in stored["textModulesData"]]
    for body in fake.bodies("POST", "loyaltyClass") + fake.bodies("PATCH", "loyaltyClass"):
        schema("LoyaltyClass", body)


async def test_upsert_object_inserts_on_404_then_patches(
    client: GoogleWalletClient, fake: FakeGoogle, schema: Callable[[str, Any], None]
) -> None:
    await client.ensure_class(loyalty_class(ISSUER, program()))
    await client.upsert_object(loyalty_object(ISSUER, card()))
    await client.upsert_object(loyalty_object(ISSUER, card(stamps=5)))
    methods = [r.method for r in fake.requests if "loyaltyObject" in r.path]
    assert methods == ["PATCH", "POST", "PATCH"]
    stored = await client.get_object(f"{ISSUER}.7K3M9QW2XR4T")
    assert stored["loyaltyPoints"]["balance"] == {"string": "5 / 10"}
    for body in fake.bodies("POST", "loyaltyObject") + fake.bodies("PATCH", "loyaltyObject"):
        schema("LoyaltyObject", body)


async def test_add_message_notifies(
    client: GoogleWalletClient, fake: FakeGoogle, schema: Callable[[str, Any], None]
) -> None:
    await client.ensure_class(loyalty_class(ISSUER, program()))
    await client.upsert_object(loyalty_object(ISSUER, card()))
    result = await client.add_message(
        f"{ISSUER}.7K3M9QW2XR4T", "Café Sonne", "Heute doppelte Stempel!", "campaign-7"
    )
    sent = fake.requests[-1]
    assert sent.path == f"/walletobjects/v1/loyaltyObject/{ISSUER}.7K3M9QW2XR4T/addMessage"
    assert sent.body == {
        "message": {
            "header": "Café Sonne",
            "body": "Heute doppelte Stempel!",
            "id": "campaign-7",
            "messageType": "TEXT_AND_NOTIFY",
        }
    }
    schema("AddMessageRequest", sent.body)
    assert result["resource"]["messages"][0]["id"] == "campaign-7"


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_server_trouble_is_retryable(
    client: GoogleWalletClient, fake: FakeGoogle, status: int
) -> None:
    await client.ensure_class(loyalty_class(ISSUER, program()))
    fake.fail_next(1, status)
    with pytest.raises(GoogleUnavailable) as error:
        await client.get_class(f"{ISSUER}.cafe-sonne")
    assert error.value.retryable and error.value.status == status
    assert error.value.retry_after == (1.0 if status == 429 else None)
    assert (await client.get_class(f"{ISSUER}.cafe-sonne"))["id"] == f"{ISSUER}.cafe-sonne"


async def test_refusals_are_not_retryable(client: GoogleWalletClient, fake: FakeGoogle) -> None:
    with pytest.raises(GoogleRequestError) as error:
        await client.get_object(f"{ISSUER}.UNKNOWN")
    assert not error.value.retryable and error.value.not_found
    with pytest.raises(GoogleRequestError) as error:
        await client.insert_object(loyalty_object(ISSUER, card(shop_slug="no-such-class")))
    assert error.value.status == 400 and "does not exist" in str(error.value)


async def test_token_endpoint_trouble(
    account: GoogleAccount, fake: FakeGoogle, tmp_path: Path
) -> None:
    async with GoogleWalletClient(account) as wallet:
        fake.fail_next(1, 503)
        with pytest.raises(GoogleUnavailable):
            await wallet.get_class(f"{ISSUER}.x")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = write_account(tmp_path / "other.json", stranger, fake.token_url)
    other = load_google(ISSUER, path, fake.api_url, BASE)
    assert other is not None
    async with GoogleWalletClient(other) as wallet:
        with pytest.raises(GoogleRequestError, match="refused the service account") as error:
            await wallet.get_class(f"{ISSUER}.x")
    assert not error.value.retryable


async def test_revoked_token_is_renewed_once(client: GoogleWalletClient, fake: FakeGoogle) -> None:
    await client.ensure_class(loyalty_class(ISSUER, program()))
    before = fake.token_requests
    fake.tokens.clear()
    assert (await client.get_class(f"{ISSUER}.cafe-sonne"))["id"] == f"{ISSUER}.cafe-sonne"
    assert fake.token_requests == before + 1


async def test_network_failure_is_retryable(account: GoogleAccount) -> None:
    config = account.config.__class__(ISSUER, Path("x"), "http://127.0.0.1:9/v1", BASE)
    down = GoogleAccount(config, account.email, account.key_id, "http://127.0.0.1:9/token",
                         account.private_key)  # fmt: skip
    async with GoogleWalletClient(down, timeout=2) as wallet:
        with pytest.raises(GoogleUnavailable) as error:
            await wallet.get_class(f"{ISSUER}.x")
    assert error.value.retryable


async def test_no_secrets_in_requests_or_errors(
    client: GoogleWalletClient, fake: FakeGoogle, rsa_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(GoogleRequestError) as error:
        await client.get_object(f"{ISSUER}.UNKNOWN")
    for token in fake.tokens:
        assert token not in str(error.value)
    assert "PRIVATE KEY" not in repr(client) + repr(error.value)


# --- callbacks ---


@pytest.fixture
def google_keys() -> CallbackSigner:
    return CallbackSigner()


def test_callback_verifies(google_keys: CallbackSigner) -> None:
    verifier = CallbackVerifier(ISSUER, google_keys.root_keys())
    body = google_keys.body(ISSUER, object_id=f"{ISSUER}.7K3M", event_type="del", nonce="n-42")
    event = verifier.verify(body)
    assert (event.object_id, event.class_id, event.event_type, event.nonce) == (
        f"{ISSUER}.7K3M",
        f"{ISSUER}.shop",
        "del",
        "n-42",
    )


def _tamper(body: bytes) -> bytes:
    envelope = json.loads(body)
    envelope["signedMessage"] = envelope["signedMessage"].replace("save", "del")
    return json.dumps(envelope).encode()


CALLBACK_FAILURES: dict[str, tuple[Callable[[CallbackSigner], bytes], str]] = {
    "wrong recipient": (lambda g: g.body("3388000000099999999"), "signature does not verify"),
    "tampered message": (lambda g: _tamper(g.body(ISSUER)), "signature does not verify"),
    "foreign root": (
        lambda g: CallbackSigner(intermediate=g.intermediate).body(ISSUER),
        "not signed by a Google root key",
    ),
    "expired intermediate": (
        lambda g: CallbackSigner(g.root, intermediate_expires_ms=1000).body(ISSUER),
        "intermediate signing key has expired",
    ),
    "expired message": (
        lambda g: g.body(ISSUER, expires_ms=int(time.time() * 1000) - 1),
        "message has expired",
    ),
    "unknown event": (lambda g: g.body(ISSUER, event_type="update"), "neither save nor del"),
    "not JSON": (lambda g: b"{", "not JSON"),
    "wrong protocol": (
        lambda g: g.body(ISSUER).replace(b'"ECv2SigningOnly"', b'"ECv2"'),
        "protocolVersion",
    ),
}


@pytest.mark.parametrize("case", sorted(CALLBACK_FAILURES))
def test_callback_refused(case: str, google_keys: CallbackSigner) -> None:
    make, reason = CALLBACK_FAILURES[case]
    verifier = CallbackVerifier(ISSUER, google_keys.root_keys())
    with pytest.raises(InvalidInput, match=reason):
        verifier.verify(make(google_keys))


def test_expired_root_keys_are_ignored(google_keys: CallbackSigner) -> None:
    old = CallbackSigner(google_keys.root, root_expires_ms=1000)
    verifier = CallbackVerifier(ISSUER, old.root_keys())
    with pytest.raises(InvalidInput, match="no unexpired Google root"):
        verifier.verify(google_keys.body(ISSUER))


def test_other_protocol_root_keys_are_ignored(google_keys: CallbackSigner) -> None:
    keys = [{**key, "protocolVersion": "ECv2"} for key in google_keys.root_keys()]
    with pytest.raises(InvalidInput, match="no unexpired Google root"):
        CallbackVerifier(ISSUER, keys).verify(google_keys.body(ISSUER))


async def test_root_keys_are_fetched(google_keys: CallbackSigner, fake: FakeGoogle) -> None:
    fake.root_keys = google_keys.root_keys()
    async with httpx.AsyncClient() as http:
        keys = await fetch_root_keys(http, f"{fake.url}/keys")
    assert CallbackVerifier(ISSUER, keys).verify(google_keys.body(ISSUER)).event_type == "save"


def test_length_value_matches_tink() -> None:
    from passes.google.callbacks import length_value

    assert length_value("ab", "") == b"\x02\x00\x00\x00ab\x00\x00\x00\x00"
    assert isinstance(ec_key(), ec.EllipticCurvePrivateKey)
