"""A local development identity: a self-made CA standing in for Apple WWDR, and a pass cert.

Passes signed with it are valid by structure but do not install on a real iPhone.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from passes.apple.identity import DEV_CA_COMMON_NAME, PASS_TYPE_ID_OID
from passes.errors import ConfigError

FILES = ("wwdr.pem", "pass.pem", "pass.key")
CA_DAYS = 3650
PASS_DAYS = 365


def create_dev_identity(
    certs_dir: Path,
    *,
    pass_type_id: str = "pass.dev.passes.local",  # noqa: S107 - an identifier, not a password
    team_id: str = "DEVTEAM001",
    force: bool = False,
) -> None:
    """Write wwdr.pem (dev CA), pass.pem and pass.key (mode 0600) into `certs_dir`."""
    existing = [name for name in FILES if (certs_dir / name).exists()]
    if existing and not force:
        raise ConfigError(
            f"{certs_dir / existing[0]}: already exists — not overwriting it "
            "(`passes certs dev --force` replaces the identity)"
        )
    certs_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = _ca_certificate(ca_key, now)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = _pass_certificate(key, ca, ca_key, now, pass_type_id, team_id)
    pem = serialization.Encoding.PEM
    (certs_dir / "wwdr.pem").write_bytes(ca.public_bytes(pem))
    (certs_dir / "pass.pem").write_bytes(cert.public_bytes(pem))
    _write_private(certs_dir / "pass.key", _key_pem(key))


def _ca_certificate(key: rsa.RSAPrivateKey, now: datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, DEV_CA_COMMON_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "passes development (not Apple)"),
        ]
    )
    public = key.public_key()
    usage = _key_usage(signature=False, cert_sign=True)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _pass_certificate(
    key: rsa.RSAPrivateKey,
    ca: x509.Certificate,
    ca_key: rsa.RSAPrivateKey,
    now: datetime,
    pass_type_id: str,
    team_id: str,
) -> x509.Certificate:
    public = key.public_key()
    # No extended key usage: openssl's default S/MIME purpose then accepts the signer.
    return (
        x509.CertificateBuilder()
        .subject_name(_pass_subject(pass_type_id, team_id))
        .issuer_name(ca.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=PASS_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signature=True, cert_sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(_authority_key_id(ca), critical=False)
        .add_extension(_pass_type_extension(pass_type_id), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _pass_subject(pass_type_id: str, team_id: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, pass_type_id),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Pass Type ID: {pass_type_id}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "passes development"),
        ]
    )


def _pass_type_extension(pass_type_id: str) -> x509.UnrecognizedExtension:
    raw = pass_type_id.encode()
    if len(raw) > 127:
        raise ConfigError(f"pass type id too long: {pass_type_id!r}")
    return x509.UnrecognizedExtension(PASS_TYPE_ID_OID, bytes([0x0C, len(raw)]) + raw)


def _authority_key_id(ca: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _key_usage(*, signature: bool, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
