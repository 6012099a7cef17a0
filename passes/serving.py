"""Starting `passes serve` so that what it says is true: the port is bound before "serving on"
is printed, passes carry an address phones can reach, and no dev identity appears by accident
behind a public https URL."""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from passes.config import Settings, is_private_address
from passes.errors import ConfigError, PassesError

if TYPE_CHECKING:
    from starlette.types import ASGIApp

# Listening on every interface: passes must name one address a phone can reach.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names, not a binding
# Asking the routing table which address a packet would leave from sends nothing (UDP connect).
_ROUTE_PROBE = ("10.254.254.254", 9)
BACKLOG = 2048


class PortUnavailable(PassesError):
    """The server cannot listen where it was asked to."""


def bind(host: str, port: int) -> socket.socket:
    """A socket listening on host:port; PortUnavailable says in one line why not."""
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise PortUnavailable(f"--host {host}: not an address of this machine ({exc})") from None
    family, kind, proto, _, address = found[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise PortUnavailable(_why(host, port, exc)) from None
    return sock


def _why(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{where} is already in use (another `passes serve`, or another program): "
            "stop it, or choose another --port"
        )
    if exc.errno == errno.EACCES:
        return f"{where}: not allowed to listen there (ports below 1024 need root): use --port 8000"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: not an address of this machine (0.0.0.0 listens on all)"
    return f"{where}: cannot listen ({exc.strerror})"


def lan_address() -> str | None:
    """This machine's address on its local network, or None when it has no private one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(_ROUTE_PROBE)
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return address if is_private_address(address) else None


def local_base_url(host: str, port: int, find_lan: Callable[[], str | None] = lan_address) -> str:
    """The base URL passes carry when PASSES_BASE_URL is not set: where this server listens,
    and for every interface (0.0.0.0) the machine's local network address, so phones on the
    same network reach what the QR codes point at. 127.0.0.1 when there is none."""
    chosen = (find_lan() or "127.0.0.1") if host in WILDCARD_HOSTS else host
    return f"http://{_url_host(chosen)}:{port}"


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def base_url_notes(settings: Settings, host: str) -> list[str]:
    """What the operator should know about the URL passes carry, one line each."""
    base = settings.base_url
    if host in WILDCARD_HOSTS and not settings.base_url_set and settings.is_loopback:
        return [
            f"warning: listening on all interfaces but no local network address was found: "
            f"passes and QR codes point at {base}, which no phone reaches; "
            "set PASSES_BASE_URL to the address phones use"
        ]
    if settings.on_local_network:
        return [
            f"note: phones on this network open the pages at {base} (e.g. {base}/join/SHOP). "
            "Wallets need https: Apple Wallet takes no updates of these passes, and Google "
            "Wallet shows no images, until PASSES_BASE_URL is the server's public https URL"
        ]
    return []


def refuse_accidental_dev_identity(settings: Settings) -> None:
    """Behind a public https URL a missing identity is a mistake (a mistyped PASSES_CERTS_DIR,
    a forgotten volume), not a wish for a dev one: its passes would not install on customers'
    iPhones. Say so, and how to make one on purpose."""
    if not settings.base_url.startswith("https://") or settings.is_loopback:
        return
    certs = settings.certs_dir.resolve()
    state = "no signing identity there" if certs.is_dir() else "no such directory"
    raise ConfigError(
        f"{certs}: {state} (pass.p12, or pass.pem and pass.key), and PASSES_BASE_URL is "
        f"{settings.base_url}: passes signed with a dev identity would not install on "
        "customers' iPhones, so none is made. Check PASSES_CERTS_DIR, put the real certificate "
        "there (certs.example/README.md), or make a dev identity on purpose: `passes certs dev`"
    )


def run(app: ASGIApp, sock: socket.socket, started: Callable[[], None]) -> None:
    """Serve `app` on the bound socket until stopped; `started` runs once it takes requests."""
    import uvicorn

    class Announcing(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                started()

    # X-Forwarded-For is ours to judge (PASSES_TRUSTED_PROXIES), not uvicorn's: by default
    # it trusts the header from 127.0.0.1, where anyone on the machine could send it.
    config = uvicorn.Config(
        app, access_log=False, log_level="warning", backlog=BACKLOG, proxy_headers=False
    )
    server = Announcing(config)
    server.run(sockets=[sock])
    if not server.started:
        raise ConfigError("the server did not start (see the log above)")
