"""Loading the Apple signing identity, and the one-line errors for each way it can be wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from passes.apple.devcerts import create_dev_identity
from passes.apple.identity import PASS_TYPE_ID_OID, describe, load_identity
from passes.errors import ConfigError


@pytest.fixture(scope="module")
def dev_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dev")
    create_dev_identity(path, pass_type_id="pass.com.example.stamps", team_id="TEAM123456")
    return path


@pytest.fixture
def certs(dev_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the dev identity that a test may break."""
    for name in ("wwdr.pem", "pass.pem", "pass.key"):
        (tmp_path / name).write_bytes((dev_dir / name).read_bytes())
    return tmp_path


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((path / "pass.pem").read_bytes())


def _key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key((path / "pass.key").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _resign(certs: Path, edit: str) -> None:
    """Reissue pass.pem from the same key with a wrong detail, signed by a throwaway CA."""
    cert, key = _cert(certs), _key(certs)
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
    )
    now = datetime.now(UTC)
    before, after = now - timedelta(days=1), now + timedelta(days=30)
    if edit == "expired":
        before, after = now - timedelta(days=400), now - timedelta(days=35)
    builder = builder.not_valid_before(before).not_valid_after(after)
    for extension in cert.extensions:
        if not (edit == "no-oid" and extension.oid == PASS_TYPE_ID_OID):
            builder = builder.add_extension(extension.value, extension.critical)
    # The dev CA key is not kept, so the edited cert is signed by its own key: the checks
    # exercised here all run before the issuer check.
    (certs / "pass.pem").write_bytes(
        builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    )


def test_dev_identity_loads_and_reads_ids_from_the_certificate(dev_dir: Path) -> None:
    identity = load_identity(dev_dir, None)
    assert identity.pass_type_id == "pass.com.example.stamps"
    assert identity.team_id == "TEAM123456"
    assert identity.is_dev
    assert 360 <= (identity.not_after - datetime.now(UTC)).days <= 366
    assert (dev_dir / "pass.key").stat().st_mode & 0o777 == 0o600
    assert "passes dev CA (not Apple)" in identity.wwdr.subject.rfc4514_string()
    lines = describe(identity)
    assert any("pass.com.example.stamps" in line for line in lines)
    assert any("TEAM123456" in line for line in lines)
    assert any("days left" in line for line in lines)
    assert any("not install on a real iPhone" in line.replace("NOT", "not") for line in lines)


def test_dev_identity_refuses_to_overwrite(dev_dir: Path) -> None:
    with pytest.raises(ConfigError, match="already exists"):
        create_dev_identity(dev_dir)


def test_force_replaces_the_identity(certs: Path) -> None:
    before = _cert(certs).serial_number
    create_dev_identity(certs, force=True)
    assert _cert(certs).serial_number != before
    assert load_identity(certs, None).pass_type_id == "pass.dev.passes.local"


def _write_p12(certs: Path, password: bytes) -> None:
    encryption = serialization.BestAvailableEncryption(password)
    blob = pkcs12.serialize_key_and_certificates(
        b"pass", _key(certs), _cert(certs), None, encryption
    )
    (certs / "pass.p12").write_bytes(blob)
    (certs / "pass.pem").unlink()
    (certs / "pass.key").unlink()


def test_p12_with_the_right_password_loads(certs: Path) -> None:
    _write_p12(certs, b"s3cret")
    assert load_identity(certs, "s3cret").team_id == "TEAM123456"


def test_p12_with_a_wrong_password(certs: Path) -> None:
    _write_p12(certs, b"s3cret")
    with pytest.raises(ConfigError, match=r"pass\.p12: wrong password — set PASSES_CERT_PASSWORD"):
        load_identity(certs, "nope")


def test_p12_without_a_password(certs: Path) -> None:
    _write_p12(certs, b"s3cret")
    with pytest.raises(ConfigError, match=r"pass\.p12: .*PASSES_CERT_PASSWORD"):
        load_identity(certs, None)


def test_expired_certificate(certs: Path) -> None:
    _resign(certs, "expired")
    with pytest.raises(ConfigError, match=r"pass\.pem: certificate expired"):
        load_identity(certs, None)


def test_not_yet_valid_certificate(certs: Path) -> None:
    with pytest.raises(ConfigError, match=r"pass\.pem: certificate not valid before"):
        load_identity(certs, None, now=datetime.now(UTC) - timedelta(days=2))


def test_key_not_matching_the_certificate(certs: Path) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (certs / "pass.key").write_bytes(pem)
    with pytest.raises(ConfigError, match=r"pass\.pem: private key does not match"):
        load_identity(certs, None)


def test_missing_wwdr(certs: Path) -> None:
    (certs / "wwdr.pem").unlink()
    with pytest.raises(ConfigError, match=r"wwdr\.pem: missing — download the Apple WWDR"):
        load_identity(certs, None)


def test_unreadable_wwdr(certs: Path) -> None:
    (certs / "wwdr.pem").write_text("-----BEGIN CERTIFICATE-----\ngarbage\n")
    with pytest.raises(ConfigError, match=r"wwdr\.pem: not a certificate"):
        load_identity(certs, None)


def test_certificate_not_issued_by_wwdr(
    certs: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = tmp_path_factory.mktemp("other")
    create_dev_identity(other)
    (certs / "wwdr.pem").write_bytes((other / "wwdr.pem").read_bytes())
    with pytest.raises(ConfigError, match=r"pass\.pem: not issued by wwdr\.pem"):
        load_identity(certs, None)


def test_certificate_without_the_pass_type_oid(certs: Path) -> None:
    _resign(certs, "no-oid")
    with pytest.raises(ConfigError, match=r"pass\.pem: not a Pass Type ID certificate"):
        load_identity(certs, None)


def test_missing_directory_and_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no such directory .*passes certs dev"):
        load_identity(tmp_path / "absent", None)
    with pytest.raises(ConfigError, match=r"no pass\.p12 and no pass\.pem \+ pass\.key"):
        load_identity(tmp_path, None)
