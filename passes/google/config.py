"""Google Wallet settings and the service-account key, checked and loaded once at start-up."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from passes.errors import ConfigError
from passes.inputs import whole_number

DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
KEY_HINT = (
    "download a JSON key for the service account (Google Cloud console → IAM → "
    "Service accounts → Keys → Add key → JSON) and set PASSES_GOOGLE_SERVICE_ACCOUNT to its path"
)
_REQUIRED_FIELDS = ("client_email", "private_key", "private_key_id")


@dataclass(frozen=True)
class GoogleConfig:
    """Where Google Wallet is reached and as whom."""

    issuer_id: str
    service_account_file: Path
    api_url: str
    base_url: str


@dataclass(frozen=True)
class GoogleAccount:
    """The service account behind the issuer: its identity and its key, parsed once."""

    config: GoogleConfig
    email: str
    key_id: str
    token_uri: str
    private_key: rsa.RSAPrivateKey = field(repr=False)


def load_google(
    issuer_id: str | None, service_account: Path | None, api_url: str, base_url: str
) -> GoogleAccount | None:
    """The account, or None when Google Wallet is not configured; ConfigError when unusable."""
    if not issuer_id or service_account is None:
        return None
    if whole_number(issuer_id, 30) is None:
        raise ConfigError(
            f"PASSES_GOOGLE_ISSUER_ID={issuer_id!r}: expected the numeric issuer id shown "
            "in the Google Pay & Wallet Console"
        )
    config = GoogleConfig(issuer_id, service_account, api_url.rstrip("/"), base_url.rstrip("/"))
    info = _read_key_file(service_account)
    return GoogleAccount(
        config=config,
        email=info["client_email"],
        key_id=info["private_key_id"],
        token_uri=_token_uri(service_account, info.get("token_uri") or DEFAULT_TOKEN_URI),
        private_key=_private_key(service_account, info["private_key"]),
    )


def _read_key_file(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: service-account key file not found — {KEY_HINT}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable JSON key file ({exc}) — {KEY_HINT}") from None
    if not isinstance(info, dict):
        raise ConfigError(f"{path}: not a service-account JSON key — {KEY_HINT}")
    if info.get("type") != "service_account":
        raise ConfigError(
            f"{path}: key type is {info.get('type')!r}, not 'service_account' — {KEY_HINT}"
        )
    missing = [name for name in _REQUIRED_FIELDS if not isinstance(info.get(name), str)]
    if missing:
        raise ConfigError(f"{path}: key file lacks {', '.join(missing)} — {KEY_HINT}")
    return info


def _private_key(path: Path, pem: str) -> rsa.RSAPrivateKey:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{path}: private_key is not a PEM private key — {KEY_HINT}") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{path}: private_key is not an RSA key — {KEY_HINT}")
    return key


def _token_uri(path: Path, uri: str) -> str:
    parts = urlsplit(uri)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
        return uri
    raise ConfigError(f"{path}: token_uri {uri!r} must be https — {KEY_HINT}")


def public_base_warning(base_url: str) -> str | None:
    """A warning when Google cannot fetch our images: the base URL must be public https."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme != "https":
        reason = "is not https"
    elif not _is_public(host):
        reason = "is not reachable from the internet"
    else:
        return None
    return (
        f"PASSES_BASE_URL={base_url!r} {reason}: Google Wallet fetches logo and stamp images "
        "itself, so Google passes will show no images — use the server's public https URL"
    )


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _is_public(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal", ".lan")):
        return False
    if "." not in host and ":" not in host:
        return False  # a bare intranet name
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return True  # a DNS name; resolving it here would be I/O at start-up
