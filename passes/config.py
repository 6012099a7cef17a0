"""One Settings object, built once from the environment (and an optional .env file)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

from passes.errors import ConfigError
from passes.proxies import parse_networks

N = TypeVar("N", int, float)

DEFAULT_DATABASE_URL = "sqlite:///./data/passes.db"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_APNS_URL = "https://api.push.apple.com"
DEFAULT_GOOGLE_API_URL = "https://walletobjects.googleapis.com/walletobjects/v1"
DEFAULT_GOOGLE_CALLBACK_KEYS_URL = "https://pay.google.com/gp/m/issuer/keys"


@dataclass(frozen=True)
class Settings:
    """Everything configurable, validated once at start-up and passed down."""

    database_url: str = DEFAULT_DATABASE_URL
    base_url: str = DEFAULT_BASE_URL
    certs_dir: Path = Path("./certs")
    cert_password: str | None = field(default=None, repr=False)
    apns_url: str = DEFAULT_APNS_URL
    google_issuer_id: str | None = None
    google_service_account: Path | None = None
    google_api_url: str = DEFAULT_GOOGLE_API_URL
    # Google's root keys for verifying save/delete callbacks; fetched on the first callback.
    google_callback_keys_url: str = DEFAULT_GOOGLE_CALLBACK_KEYS_URL
    ssl_cert_file: str | None = None
    max_body_bytes: int = 64 * 1024
    # Failed API-key sign-ins a client may make at once before it is slowed to one a second.
    auth_failure_burst: int = 30
    # False when PASSES_BASE_URL was not given (then `passes serve` uses its own address).
    base_url_set: bool = True
    # `passes serve` delivers pushes in-process; tests and `passes worker` set this themselves.
    run_worker: bool = True
    push_batch: int = 200
    # A claimed push whose worker died is taken again after this long.
    push_lease_seconds: float = 60.0
    # Cards moved per transaction when a program change refreshes every pass in a wallet.
    refresh_batch: int = 2000
    # Reverse proxies whose X-Forwarded-For names the client (PASSES_TRUSTED_PROXIES: IPs or
    # networks, comma-separated); none by default, so the header is ignored.
    trusted_proxies: str = ""
    # Devices a card's updates go to: the newest registrations, a phone and maybe a watch.
    devices_per_card: int = 5
    # New device registrations one card may make in an hour, and one client address in a
    # minute (mobile carriers put many phones behind one address). Renewals are not counted.
    card_registrations_per_hour: int = 10
    client_registrations_per_minute: int = 120
    # The root page lists every shop with its join page (off: shop names stay unlisted).
    list_shops: bool = False
    # Webhook endpoints may point at private, loopback and link-local addresses (off: only
    # public ones, so a shop's URL cannot reach the operator's own network).
    webhooks_allow_private: bool = False
    assets_dir: Path = Path(__file__).resolve().parent.parent / "assets"
    # Apple's and Google's badge artwork as the npm package ships it (`npm ci` in passes/web);
    # an operator's own copies in {certs_dir}/badges/ come first.
    packaged_badges_dir: Path = (
        Path(__file__).resolve().parent / "web" / "node_modules" / "@neostore" / "cinto" / "dist"
    )

    def __post_init__(self) -> None:
        _check_url("PASSES_BASE_URL", self.base_url)
        _check_url("PASSES_APNS_URL", self.apns_url)
        _check_url("PASSES_GOOGLE_API_URL", self.google_api_url)
        _check_url("PASSES_GOOGLE_CALLBACK_KEYS_URL", self.google_callback_keys_url)
        if not self.base_url.startswith("https://") and not (
            self.is_loopback or self.on_local_network
        ):
            raise ConfigError(
                f"PASSES_BASE_URL={self.base_url!r}: wallets only talk to https; "
                "use an https URL (http is allowed on 127.0.0.1/localhost, and on a private "
                "address such as 192.168.1.20 to try the pages on a phone)"
            )
        parse_networks(self.trusted_proxies)
        if not self.database_url.startswith(("sqlite", "postgresql", "postgres://")):
            raise ConfigError(
                f"PASSES_DATABASE_URL={self.database_url!r}: use sqlite:///path or postgresql://…"
            )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
    ) -> Settings:
        """Read PASSES_* from `environ` (default os.environ), over values from `env_file`."""
        values: dict[str, str] = {}
        if env_file is not None and env_file.is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            return values.get(f"PASSES_{name}") or None

        account = get("GOOGLE_SERVICE_ACCOUNT")
        return cls(
            database_url=get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            base_url=(get("BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            base_url_set=get("BASE_URL") is not None,
            certs_dir=Path(get("CERTS_DIR") or "./certs"),
            cert_password=get("CERT_PASSWORD"),
            apns_url=(get("APNS_URL") or DEFAULT_APNS_URL).rstrip("/"),
            google_issuer_id=get("GOOGLE_ISSUER_ID"),
            google_service_account=Path(account) if account else None,
            google_api_url=(get("GOOGLE_API_URL") or DEFAULT_GOOGLE_API_URL).rstrip("/"),
            google_callback_keys_url=get("GOOGLE_CALLBACK_KEYS_URL")
            or DEFAULT_GOOGLE_CALLBACK_KEYS_URL,
            ssl_cert_file=values.get("SSL_CERT_FILE") or None,
            push_batch=_number("PASSES_PUSH_BATCH", get("PUSH_BATCH"), 200, int),
            push_lease_seconds=_number(
                "PASSES_PUSH_LEASE_SECONDS", get("PUSH_LEASE_SECONDS"), 60.0, float
            ),
            refresh_batch=_number("PASSES_REFRESH_BATCH", get("REFRESH_BATCH"), 2000, int),
            trusted_proxies=get("TRUSTED_PROXIES") or "",
            devices_per_card=_number("PASSES_DEVICES_PER_CARD", get("DEVICES_PER_CARD"), 5, int),
            card_registrations_per_hour=_number(
                "PASSES_CARD_REGISTRATIONS_PER_HOUR", get("CARD_REGISTRATIONS_PER_HOUR"), 10, int
            ),
            client_registrations_per_minute=_number(
                "PASSES_CLIENT_REGISTRATIONS_PER_MINUTE",
                get("CLIENT_REGISTRATIONS_PER_MINUTE"),
                120,
                int,
            ),
            list_shops=_flag("PASSES_LIST_SHOPS", get("LIST_SHOPS")),
            webhooks_allow_private=_flag(
                "PASSES_WEBHOOKS_ALLOW_PRIVATE", get("WEBHOOKS_ALLOW_PRIVATE")
            ),
        )

    @property
    def web_service_url(self) -> str:
        """Where wallets reach us: https, except on loopback during development."""
        return f"{self.base_url}/wallet"

    def card_page_url(self, page_secret: str) -> str:
        """The customer's card page (`urls.card`); Apple and Google passes link to it."""
        return f"{self.base_url}/c/{page_secret}"

    @property
    def wallet_service_url(self) -> str | None:
        """The webServiceURL passes carry: None on a plain-http local network address, where
        wallets would refuse the pass (they take https, or http on loopback for development)."""
        if self.base_url.startswith("https://") or self.is_loopback:
            return self.web_service_url
        return None

    @property
    def on_local_network(self) -> bool:
        """True when the base URL is a private address (192.168.x.y, 10.x.y.z, ...): phones on
        the same network reach its pages, nobody else does."""
        return is_private_address(urlsplit(self.base_url).hostname or "")

    @property
    def is_loopback(self) -> bool:
        """True when the base URL points at this machine only."""
        return is_loopback_host(urlsplit(self.base_url).hostname or "")


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_private_address(host: str) -> bool:
    """An IP address of a private network (not loopback, not a name)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private and not (address.is_loopback or address.is_unspecified)


def _flag(name: str, raw: str | None) -> bool:
    if raw is None or raw.lower() in ("0", "false", "no", "off"):
        return False
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={raw!r}: expected true or false")


def _number(name: str, raw: str | None, default: N, kind: Callable[[str], N]) -> N:
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a positive number") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r}: expected a positive number")
    return value


def _check_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}={value!r}: expected an http(s) URL like https://example.com")
