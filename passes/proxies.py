"""Client addresses behind a reverse proxy: X-Forwarded-For is believed only when the request
comes from a proxy named in PASSES_TRUSTED_PROXIES (none by default).

Every per-client limit (new cards, wrong keys, device logs, staff PINs) keys on the address,
so a header anyone can send must not choose it; and behind a proxy the proxy's own address
would put every customer in one bucket.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from passes.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(raw: str | None) -> tuple[Network, ...]:
    """`10.0.0.5, 10.1.0.0/16, ::1` -> networks; a clear error for a malformed entry."""
    networks = []
    for part in (raw or "").split(","):
        entry = part.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigError(
                f"PASSES_TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                "(give the proxies' addresses, comma-separated, e.g. 10.0.0.5,10.1.0.0/16)"
            ) from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _within(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: Iterable[Network]
) -> bool:
    return any(address.version == net.version and address in net for net in nets)


def forwarded_client(chain: Sequence[str], networks: Sequence[Network]) -> str | None:
    """The client in an X-Forwarded-For chain: the last address not one of our proxies
    (each proxy appends who it saw, so entries left of the last untrusted one are claims)."""
    for entry in reversed(chain):
        address = _address(entry)
        if address is None:
            return None
        if not _within(address, networks):
            return str(address)
    first = _address(chain[0]) if chain else None
    return None if first is None else str(first)


class TrustedProxies:
    """ASGI middleware: the client address from X-Forwarded-For, from trusted proxies only."""

    def __init__(self, app: ASGIApp, networks: Sequence[Network]) -> None:
        self.app = app
        self.networks = tuple(networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client:
            peer = _address(str(client[0]))
            if peer is not None and _within(peer, self.networks):
                chain = [
                    entry
                    for name, value in scope["headers"]
                    if name == b"x-forwarded-for"
                    for entry in value.decode("latin-1").split(",")
                ]
                found = forwarded_client(chain, self.networks) if chain else None
                if found is not None:
                    scope = {**scope, "client": (found, 0)}
        await self.app(scope, receive, send)
