"""Signed .pkpass archives, checked with openssl and zipfile (tests/pkpass_check.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from passes.apple.devcerts import create_dev_identity
from passes.apple.identity import SigningIdentity, load_identity
from passes.apple.pkpass import PassBuilder, PassContent
from passes.errors import ConfigError
from passes.notices import ANNOUNCING, Notice
from tests.pkpass_check import verify_pkpass

TOKEN = "s3cr3t-token-0123456789abcdef"


@pytest.fixture(scope="module")
def certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("certs")
    create_dev_identity(path)
    return path


@pytest.fixture(scope="module")
def identity(certs_dir: Path) -> SigningIdentity:
    return load_identity(certs_dir, None)


@pytest.fixture(scope="module")
def builder(identity: SigningIdentity) -> PassBuilder:
    return PassBuilder(identity)


def _png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    return {
        "icon.png": _png(29, 29, (200, 40, 40)),
        "icon@2x.png": _png(58, 58, (200, 40, 40)),
        "logo.png": _png(160, 50, (30, 30, 30)),
        "logo@2x.png": _png(320, 100, (30, 30, 30)),
        "strip.png": _png(375, 123, (240, 220, 200)),
        "strip@2x.png": _png(750, 246, (240, 220, 200)),
    }


@pytest.fixture
def content(images: dict[str, bytes]) -> PassContent:
    return PassContent(
        serial="SER-0001",
        authentication_token=TOKEN,
        organization_name="Saftladen",
        stamps=4,
        stamps_required=10,
        rewards_available=0,
        total_stamps=14,
        reward="1 Vita Mix gratis",
        background_color="rgb(255, 250, 240)",
        foreground_color="rgb(20, 20, 20)",
        label_color="rgb(120, 60, 20)",
        web_service_url="https://stempel.example/wallet",
        card_url="https://stempel.example/c/abc",
        images=images,
    )


def _fields(pass_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    card = pass_json["storeCard"]
    groups = ("headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields")
    return {f["key"]: f for group in groups for f in card.get(group, [])}


def test_pass_verifies_and_carries_the_card(
    builder: PassBuilder, content: PassContent, identity: SigningIdentity, certs_dir: Path
) -> None:
    pass_json = verify_pkpass(builder.build(content), certs_dir / "wwdr.pem")
    assert pass_json["passTypeIdentifier"] == identity.pass_type_id
    assert pass_json["teamIdentifier"] == identity.team_id
    assert pass_json["serialNumber"] == "SER-0001"
    assert pass_json["webServiceURL"] == "https://stempel.example/wallet"
    assert pass_json["authenticationToken"] == TOKEN
    assert pass_json["barcodes"] == [
        {
            "format": "PKBarcodeFormatQR",
            "message": "SER-0001",
            "messageEncoding": "iso-8859-1",
            "altText": "SER-0001",
        }
    ]
    assert "voided" not in pass_json
    fields = _fields(pass_json)
    assert fields["stamps"]["value"] == "4 / 10"
    assert fields["stamps"]["label"] == "stamps_label"
    assert fields["reward"]["label"] == "next_reward_label"
    announcing = [key for key, field in fields.items() if "changeMessage" in field]
    assert announcing == [], "a card with nothing to announce carries no change message"
    assert fields["notice"]["value"] == "notice_none", "the notice is there before the first one"
    assert pass_json["sharingProhibited"] is True
    assert fields["card"]["value"] == "https://stempel.example/c/abc"


def test_only_the_notice_carries_a_change_message(
    builder: PassBuilder, content: PassContent
) -> None:
    stamped = dataclasses.replace(
        content, notice=Notice("stamp", "4 / 10", 7), announce=True, perk="10 % auf Kuchen"
    )
    fields = _fields(verify_pass_json(builder, dataclasses.replace(stamped, rewards_available=1)))
    announcing = {
        key: field["changeMessage"] for key, field in fields.items() if "changeMessage" in field
    }
    assert announcing == {"notice": "notice_stamp_changed"}
    assert fields["notice"]["value"] == "4 / 10"
    assert fields["notice"]["label"] == "notice_stamp_label"
    silent = _fields(verify_pass_json(builder, dataclasses.replace(stamped, announce=False)))
    assert "changeMessage" not in silent["notice"], "a silent update keeps the value, unannounced"
    assert silent["notice"]["value"] == "4 / 10"


def test_a_campaign_notice_is_not_repeated_as_news(
    builder: PassBuilder, content: PassContent
) -> None:
    news = dataclasses.replace(
        content, news="Heute doppelt!", notice=Notice("news", "Heute doppelt!", 3), announce=True
    )
    fields = _fields(verify_pass_json(builder, news))
    assert fields["notice"]["changeMessage"] == "notice_news_changed"
    assert "news" not in fields
    later = dataclasses.replace(news, notice=Notice("stamp", "5 / 10", 4))
    assert _fields(verify_pass_json(builder, later))["news"]["value"] == "Heute doppelt!"


def test_archive_holds_images_and_translations(builder: PassBuilder, content: PassContent) -> None:
    with zipfile.ZipFile(io.BytesIO(builder.build(content))) as archive:
        assert archive.testzip() is None
        assert archive.read("strip@2x.png") == content.images["strip@2x.png"]
        de = archive.read("de.lproj/pass.strings").decode()
        en = archive.read("en.lproj/pass.strings").decode()
    assert '"notice_stamp_changed" = "Neuer Stempel: %@";' in de
    assert '"notice_stamp_changed" = "New stamp: %@";' in en
    for strings in (de, en):
        for key in ("stamps_label", "notice_reward_changed", "how_text", "privacy_text"):
            assert f'"{key}" = ' in strings


def test_change_messages_resolve_to_format_strings(
    builder: PassBuilder, content: PassContent
) -> None:
    with zipfile.ZipFile(io.BytesIO(builder.build(content))) as archive:
        strings = {
            lang: archive.read(f"{lang}.lproj/pass.strings").decode() for lang in ("de", "en")
        }
    for kind in ANNOUNCING:
        noticed = dataclasses.replace(content, notice=Notice(kind, "x", 1), announce=True)
        message_key = _fields(verify_pass_json(builder, noticed))["notice"]["changeMessage"]
        for lines in strings.values():
            line = next(line for line in lines.splitlines() if line.startswith(f'"{message_key}"'))
            assert "%@" in line


def verify_pass_json(builder: PassBuilder, content: PassContent) -> dict[str, Any]:
    """pass.json of a freshly built pass, without the (slower) openssl checks."""
    with zipfile.ZipFile(io.BytesIO(builder.build(content))) as archive:
        result: dict[str, Any] = json.loads(archive.read("pass.json"))
    return result


def test_reward_label_switches_when_due(builder: PassBuilder, content: PassContent) -> None:
    one = _fields(verify_pass_json(builder, dataclasses.replace(content, rewards_available=1)))
    assert one["reward"] == {
        "key": "reward",
        "value": "🎁 1 Vita Mix gratis",
        "label": "reward_due_label",
        "textAlignment": "PKTextAlignmentLeft",
    }
    two = _fields(verify_pass_json(builder, dataclasses.replace(content, rewards_available=2)))
    assert two["reward"]["value"] == "🎁 2 × 1 Vita Mix gratis"
    assert two["reward"]["label"] == "rewards_due_label"


def test_voided_pass(builder: PassBuilder, content: PassContent, certs_dir: Path) -> None:
    data = builder.build(dataclasses.replace(content, voided=True))
    pass_json = verify_pkpass(data, certs_dir / "wwdr.pem")
    assert pass_json["voided"] is True
    assert _fields(pass_json)["status"]["value"] == "voided_label"


def test_pass_json_is_deterministic(builder: PassBuilder, content: PassContent) -> None:
    assert verify_pass_json(builder, content) == verify_pass_json(builder, content)
    first, second = builder.build(content), builder.build(content)
    with zipfile.ZipFile(io.BytesIO(first)) as a, zipfile.ZipFile(io.BytesIO(second)) as b:
        assert a.read("pass.json") == b.read("pass.json")
        assert a.read("manifest.json") == b.read("manifest.json")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/wallet", "http://localhost/wallet", "http://[::1]:8000/wallet"]
)
def test_loopback_http_is_accepted(
    builder: PassBuilder, content: PassContent, certs_dir: Path, url: str
) -> None:
    data = builder.build(dataclasses.replace(content, web_service_url=url))
    assert verify_pkpass(data, certs_dir / "wwdr.pem")["webServiceURL"] == url


@pytest.mark.parametrize("url", ["http://stempel.example/wallet", "ftp://127.0.0.1/wallet"])
def test_plain_http_elsewhere_is_refused(
    builder: PassBuilder, content: PassContent, url: str
) -> None:
    with pytest.raises(ConfigError, match="https"):
        builder.build(dataclasses.replace(content, web_service_url=url))


def test_without_web_service_no_token_is_emitted(
    builder: PassBuilder, content: PassContent, certs_dir: Path
) -> None:
    data = builder.build(dataclasses.replace(content, web_service_url=None))
    pass_json = verify_pkpass(data, certs_dir / "wwdr.pem")
    assert "webServiceURL" not in pass_json
    assert "authenticationToken" not in pass_json


def test_short_token_is_refused(builder: PassBuilder, content: PassContent) -> None:
    with pytest.raises(ValueError, match="16"):
        builder.build(dataclasses.replace(content, authentication_token="short"))


def _rezip(data: bytes, name: str, replacement: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.namelist():
            target.writestr(item, replacement if item == name else source.read(item))
    return out.getvalue()


def test_checker_catches_tampering(
    builder: PassBuilder, content: PassContent, certs_dir: Path
) -> None:
    data = builder.build(content)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        pass_json, manifest = archive.read("pass.json"), json.loads(archive.read("manifest.json"))
    forged = pass_json.replace(b"SER-0001", b"SER-9999")
    with pytest.raises(AssertionError, match="SHA-1"):
        verify_pkpass(_rezip(data, "pass.json", forged), certs_dir / "wwdr.pem")
    manifest["pass.json"] = hashlib.sha1(forged).hexdigest()
    tampered = _rezip(
        _rezip(data, "pass.json", forged), "manifest.json", json.dumps(manifest).encode()
    )
    with pytest.raises(AssertionError, match="openssl cms failed"):
        verify_pkpass(tampered, certs_dir / "wwdr.pem")
