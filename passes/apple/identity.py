"""The Apple signing identity: Pass Type ID certificate, its key and the WWDR intermediate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID, ObjectIdentifier

from passes.errors import ConfigError

PASS_TYPE_ID_OID = ObjectIdentifier("1.2.840.113635.100.6.1.16")
APPLE_ORGANIZATION = "Apple Inc."
DEV_CA_COMMON_NAME = "passes dev CA (not Apple)"
WWDR_HINT = (
    "download the Apple WWDR G4 certificate from https://www.apple.com/certificateauthority/ "
    "and save it as PEM (openssl x509 -inform DER -in AppleWWDRCAG4.cer -out wwdr.pem)"
)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class SigningIdentity:
    """Everything needed to sign passes, checked once at start-up."""

    certificate: x509.Certificate
    private_key: PrivateKey
    wwdr: x509.Certificate
    pass_type_id: str
    team_id: str
    is_dev: bool
    not_after: datetime


def load_identity(
    certs_dir: Path, password: str | None, *, now: datetime | None = None
) -> SigningIdentity:
    """Load and check the identity in `certs_dir`; raise ConfigError with one clear line."""
    if not certs_dir.is_dir():
        raise ConfigError(f"{certs_dir}: no such directory — {_missing_hint()}")
    cert_file, certificate, key = _load_pair(certs_dir, password)
    wwdr = _load_wwdr(certs_dir / "wwdr.pem")
    _check_validity(cert_file, certificate, now or datetime.now(UTC))
    _check_key_matches(cert_file, certificate, key)
    pass_type_id, team_id = _pass_type_id(cert_file, certificate), _team_id(cert_file, certificate)
    _check_issued_by(cert_file, certificate, wwdr)
    return SigningIdentity(
        certificate=certificate,
        private_key=key,
        wwdr=wwdr,
        pass_type_id=pass_type_id,
        team_id=team_id,
        is_dev=_organization(wwdr.subject) != APPLE_ORGANIZATION,
        not_after=certificate.not_valid_after_utc,
    )


def describe(identity: SigningIdentity, *, now: datetime | None = None) -> list[str]:
    """Lines explaining the identity in use, for `passes certs check`."""
    days_left = (identity.not_after - (now or datetime.now(UTC))).days
    lines = [
        f"pass type id: {identity.pass_type_id}",
        f"team id: {identity.team_id}",
        f"expires: {identity.not_after:%Y-%m-%d} ({days_left} days left)",
        f"issuer: {identity.certificate.issuer.rfc4514_string()}",
    ]
    if identity.is_dev:
        lines.append(
            "warning: development identity (not issued by Apple) — passes signed with it "
            "are valid by structure but will NOT install on a real iPhone"
        )
    return lines


def _missing_hint() -> str:
    return (
        "put pass.p12 (or pass.pem + pass.key) and wwdr.pem there, "
        "or run `passes certs dev` for a local development identity"
    )


def _load_pair(certs_dir: Path, password: str | None) -> tuple[Path, x509.Certificate, PrivateKey]:
    p12 = certs_dir / "pass.p12"
    if p12.is_file():
        certificate, key = _load_p12(p12, password)
        return p12, certificate, key
    pem, key_file = certs_dir / "pass.pem", certs_dir / "pass.key"
    if pem.is_file() and key_file.is_file():
        return pem, _load_pem_cert(pem), _load_pem_key(key_file, password)
    raise ConfigError(f"{certs_dir}: no pass.p12 and no pass.pem + pass.key — {_missing_hint()}")


def _load_p12(path: Path, password: str | None) -> tuple[x509.Certificate, PrivateKey]:
    secret = password.encode() if password else None
    try:
        key, certificate, _ = pkcs12.load_key_and_certificates(path.read_bytes(), secret)
    except ValueError:
        what = "wrong password" if password else "needs a password"
        raise ConfigError(f"{path}: {what} — set PASSES_CERT_PASSWORD") from None
    if certificate is None or key is None:
        raise ConfigError(f"{path}: must hold the pass certificate and its private key")
    return certificate, _supported_key(path, key)


def _load_pem_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())[0]
    except ValueError:
        raise ConfigError(f"{path}: not a PEM certificate — export it again as PEM") from None


def _load_pem_key(path: Path, password: str | None) -> PrivateKey:
    secret = password.encode() if password else None
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), secret)
    except TypeError:
        raise ConfigError(f"{path}: key is encrypted — set PASSES_CERT_PASSWORD") from None
    except ValueError:
        raise ConfigError(
            f"{path}: unreadable key or wrong password — check PASSES_CERT_PASSWORD"
        ) from None
    return _supported_key(path, key)


def _supported_key(path: Path, key: object) -> PrivateKey:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key
    raise ConfigError(f"{path}: unsupported key type — use an RSA or EC key")


def _load_wwdr(path: Path) -> x509.Certificate:
    if not path.is_file():
        raise ConfigError(f"{path}: missing — {WWDR_HINT}")
    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)[0]
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise ConfigError(f"{path}: not a certificate — {WWDR_HINT}") from None


def _check_validity(path: Path, certificate: x509.Certificate, now: datetime) -> None:
    if now < certificate.not_valid_before_utc:
        since = f"{certificate.not_valid_before_utc:%Y-%m-%d}"
        raise ConfigError(f"{path}: certificate not valid before {since} — check the clock")
    if now > certificate.not_valid_after_utc:
        expired = f"{certificate.not_valid_after_utc:%Y-%m-%d}"
        raise ConfigError(
            f"{path}: certificate expired on {expired} — create a new Pass Type ID certificate"
        )


def _check_key_matches(path: Path, certificate: x509.Certificate, key: PrivateKey) -> None:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if certificate.public_key().public_bytes(der, spki) != key.public_key().public_bytes(der, spki):
        raise ConfigError(f"{path}: private key does not match the certificate — use its own key")


def _check_issued_by(path: Path, certificate: x509.Certificate, wwdr: x509.Certificate) -> None:
    try:
        certificate.verify_directly_issued_by(wwdr)
    except (ValueError, TypeError, InvalidSignature) as error:
        raise ConfigError(
            f"{path}: not issued by wwdr.pem ({type(error).__name__}) — "
            f"use the matching WWDR certificate: {WWDR_HINT}"
        ) from None


def _pass_type_id(path: Path, certificate: x509.Certificate) -> str:
    try:
        extension = certificate.extensions.get_extension_for_oid(PASS_TYPE_ID_OID)
    except x509.ExtensionNotFound:
        raise ConfigError(
            f"{path}: not a Pass Type ID certificate (no OID {PASS_TYPE_ID_OID.dotted_string}) "
            "— create one under Certificates, Identifiers & Profiles → Pass Type IDs"
        ) from None
    found = (
        _attribute(certificate.subject, NameOID.USER_ID)
        or _extension_text(extension.value)
        or _common_name_id(certificate)
    )
    if not found:
        raise ConfigError(f"{path}: the certificate names no pass type identifier")
    return found


def _extension_text(value: x509.ExtensionType) -> str | None:
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    # Apple wraps the id in a DER string (UTF8/IA5/Printable); accept bare text too.
    if len(raw) > 2 and raw[0] in (0x0C, 0x13, 0x16) and raw[1] == len(raw) - 2:
        raw = raw[2:]
    text = raw.decode("utf-8", "replace")
    return text if text.startswith("pass.") else None


def _common_name_id(certificate: x509.Certificate) -> str | None:
    name = _attribute(certificate.subject, NameOID.COMMON_NAME) or ""
    _, _, tail = name.partition("Pass Type ID: ")
    return tail.strip() if tail.startswith("pass.") else None


def _team_id(path: Path, certificate: x509.Certificate) -> str:
    team = _attribute(certificate.subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
    if not team:
        raise ConfigError(f"{path}: the certificate subject has no OU (team identifier)")
    return team


def _organization(name: x509.Name) -> str | None:
    return _attribute(name, NameOID.ORGANIZATION_NAME)


def _attribute(name: x509.Name, oid: ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value.decode() if isinstance(value, bytes) else value
