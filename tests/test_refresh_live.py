"""Program changes end to end, on SQLite and PostgreSQL: `passes shop settings` changes tiers,
expiry, name and colours while a real `passes serve` runs; the iPhone gets its push (local
APNs), finds the card changed, fetches the new pass; Google gets the class patched once and
the object patched (local Google)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.api_calls import stamp
from tests.fake_apns import FakeApns
from tests.fake_google import ISSUER, FakeGoogle, write_account
from tests.google_schema import Validate, check_everything_sent
from tests.live import create_shop, passes_env, run, server, until
from tests.phones import new_phone, pushes_to
from tests.pkpass_check import verify_pkpass

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`

Resource = dict[str, Any]


def back(pass_json: Resource, key: str) -> Any:
    fields = {field["key"]: field for field in pass_json["storeCard"]["backFields"]}
    return fields.get(key, {}).get("value")


def modules(stored: Resource) -> set[str]:
    return {module["id"] for module in stored.get("textModulesData", [])}


# The CLI options of each change, what the pass then shows, what the class and the object.
STEPS: list[
    tuple[list[str], Callable[[Resource], bool], Callable[[Resource], bool] | None, str | None]
] = [
    (
        ["--tier", "5=1 Cookie"],
        lambda p: "5: 1 Cookie" in (back(p, "rewards") or ""),
        None,
        "rewards",
    ),
    (
        ["--stamp-expiry", "30"],
        lambda p: back(p, "stamps_expire") is not None,
        None,
        "stamps_expire",
    ),
    (
        ["--name", "Café Mond"],
        lambda p: p["organizationName"] == "Café Mond",
        lambda c: c["issuerName"] == "Café Mond",
        None,
    ),
    (
        # Labels readable on the new background (the contrast check refuses #F2C879 there).
        ["--background", "#1F6F50", "--label", "#FFFFFF"],
        lambda p: p["backgroundColor"] == "rgb(31, 111, 80)",
        lambda c: c["hexBackgroundColor"] == "#1f6f50",
        None,
    ),
]


@pytest.fixture(params=["sqlite", "postgres"])
def live_env(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    certs_dir: Path,
    apns: FakeApns,
    fake: FakeGoogle,
    rsa_key: rsa.RSAPrivateKey,
) -> dict[str, str]:
    if request.param == "sqlite":
        database = f"sqlite:///{tmp_path / 'passes.db'}"
    else:
        database = request.getfixturevalue("postgres_url")
    account = write_account(tmp_path / "service-account.json", rsa_key, fake.token_url)
    return passes_env(
        database,
        certs_dir,
        PASSES_APNS_URL=apns.url,
        SSL_CERT_FILE=str(apns.server_ca),
        PASSES_GOOGLE_ISSUER_ID=ISSUER,
        PASSES_GOOGLE_SERVICE_ACCOUNT=str(account),
        PASSES_GOOGLE_API_URL=fake.api_url,
    )


async def test_program_changes_reach_iphone_and_google(
    live_env: dict[str, str], apns: FakeApns, fake: FakeGoogle, schema: Validate
) -> None:
    slug = f"refresh-{secrets.token_hex(4)}"
    key = create_shop(live_env, stamps=10, slug=slug)
    ca = Path(live_env["PASSES_CERTS_DIR"]) / "wwdr.pem"
    with server(live_env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            phone = await new_phone(client, key, ca)
            for _ in range(3):  # Google holders: their objects are patched at the same time
                issued = await client.post(
                    "/api/v1/cards", headers={"Authorization": f"Bearer {key}"}
                )
                assert issued.status_code == 201
            await stamp(client, key, phone.serial)  # stamps to expire, once expiry is set
            object_id = f"{ISSUER}.{phone.serial}"
            await until(lambda: bool(pushes_to(apns, phone.push_token)))
            await until(lambda: _balance(fake, object_id) == "1 / 10")
            assert phone.serial in await phone.changed_serials()
            assert (await phone.refresh()).status_code == 200
            class_id = fake.resources["loyaltyObject"][object_id]["classId"]
            for options, on_pass, on_class, module in STEPS:
                pushed = len(pushes_to(apns, phone.push_token))
                patched = len(_patches(fake, "loyaltyObject", object_id))
                settings = run(live_env, "shop", "settings", "--shop", slug, *options)
                assert "passes refreshed:  4" in settings.stdout, settings.stdout
                await until(lambda n=pushed: len(pushes_to(apns, phone.push_token)) > n)
                assert phone.serial in await phone.changed_serials()
                fetched = await phone.refresh()
                assert fetched.status_code == 200, f"{options}: the phone takes the new pass"
                assert on_pass(verify_pkpass(fetched.content, ca)), options
                await until(lambda n=patched: len(_patches(fake, "loyaltyObject", object_id)) > n)
                if module is not None:
                    assert module in modules(fake.resources["loyaltyObject"][object_id])
                if on_class is not None:
                    sent = _patches(fake, "loyaltyClass", class_id)
                    assert len([body for body in sent if on_class(body)]) == 1, (
                        "once, not per object"
                    )
                    assert on_class(fake.resources["loyaltyClass"][class_id])
    check_everything_sent(fake, schema)


def _patches(fake: FakeGoogle, kind: str, resource_id: str) -> list[Resource]:
    return [
        r.body
        for r in fake.requests
        if r.method == "PATCH" and r.path.endswith(f"/{kind}/{resource_id}")
    ]


def _balance(fake: FakeGoogle, object_id: str) -> str | None:
    stored = fake.resources["loyaltyObject"].get(object_id)
    return None if stored is None else str(stored["loyaltyPoints"]["balance"]["string"])
