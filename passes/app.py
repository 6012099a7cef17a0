"""Builds the whole ASGI app from one Settings object."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from passes import loyalty
from passes.api import ShopApi
from passes.apple.identity import SigningIdentity, load_identity
from passes.apple.registrations import RegistrationLimits
from passes.apple.wallet import AppleWallet
from passes.apple.webservice import LATEST_PKPASS_ROUTE, WalletWebService
from passes.campaigns import Campaigns
from passes.clock import Clock, system_clock
from passes.config import Settings
from passes.design import ShopLogos
from passes.errors import FAILURES, PassesError
from passes.fast_routes import FastRoutes, Handler, full_path
from passes.google.client import trust
from passes.google.config import public_base_warning
from passes.google.images import PublicImages
from passes.google.wallet import GoogleWallet
from passes.google.webhook import GoogleCallbacks, RootKeys
from passes.http import PathGuard, error_response, response_for
from passes.jobs import Job, worker_jobs
from passes.proxies import TrustedProxies, parse_networks
from passes.push import Wakeup, push_worker
from passes.redact import redact_path
from passes.render import Artwork
from passes.service import Service
from passes.store import Store
from passes.store.styles import StylesInUse
from passes.web.pages import PKPASS_FILE_ROUTE
from passes.web.routes import web_routes

STATIC = Path(__file__).resolve().parent / "web" / "static"
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        b"frame-ancestors 'none'; form-action 'self'",
    ),
]
HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}
# Objects allocated (net) before a young collection; Python's default is 700 (see below).
YOUNG_OBJECTS = 20_000

log = logging.getLogger("passes.http")


class AccessLog:
    """Logs method, route template (never the raw path: it may carry secrets), status, time.

    Routes named `quiet` (by template) are logged at DEBUG when they succeed: a pass fetch is
    machine traffic, thousands of them after a campaign, and writing each line cost a sixth
    of what serving the pass costs besides its signature. Their failures stay at INFO.
    """

    def __init__(self, app: ASGIApp, quiet: Collection[str] = ()) -> None:
        self.app = app
        self.quiet = frozenset(quiet)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            template = _route_template(scope)
            quiet = status < 400 and template in self.quiet
            level = logging.DEBUG if quiet else logging.INFO
            if log.isEnabledFor(level):
                elapsed = (time.perf_counter() - started) * 1000
                log.log(level, "%s %s %d %.1fms", scope["method"], template, status, elapsed)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    if isinstance(route, Route):
        # Under a Mount, root_path is the mount's prefix and the route's path follows it.
        return str(scope.get("root_path", "")) + route.path
    # Starlette's path already carries the root path (it was logged twice under mounts).
    path: str = scope["path"]
    for name, value in scope.get("path_params", {}).items():
        path = path.replace(str(value), "{" + name + "}")
    # Unmatched: the path as sent, which may carry a card page's secret.
    return redact_path(path)


async def _passes_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FAILURES)
    return response_for(exc)


async def _database_error(request: Request, exc: Exception) -> Response:
    """A lost database connection is a moment to retry (503), not a server fault (500)."""
    assert isinstance(exc, DBAPIError)
    if not exc.connection_invalidated:
        raise exc
    log.warning("database connection lost; answered 503 (%s)", type(exc.orig).__name__)
    return error_response(
        503, "unavailable", "the database is briefly unavailable; retry", **{"Retry-After": "1"}
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    # Keep Starlette's headers, e.g. the Allow list of a 405.
    return error_response(exc.status_code, code, str(exc.detail), **(exc.headers or {}))


def create_app(
    settings: Settings, identity: SigningIdentity | None = None, *, clock: Clock = system_clock
) -> Starlette:
    """The server: shop API, customer pages and wallet web services, over one Service whose
    `clock` decides every business time (tests move it)."""
    identity = identity or load_identity(settings.certs_dir, settings.cert_password)
    wakeup = Wakeup()
    service = Service.open(settings, on_commit=wakeup.notify, clock=clock)
    store = service.store
    artwork = Artwork(settings.assets_dir)
    logos = ShopLogos(store)
    wallet = AppleWallet(identity, artwork, settings.wallet_service_url, logos)
    campaigns = Campaigns(
        store, wakeup.notify, on_promotion=service.bonuses.forget_promotions, clock=clock
    )
    callbacks, keys_http = _google_callbacks(settings, service.google, store)
    wallet_routes = _wallet_web_service(service, wallet).routes()
    pages = web_routes(service, wallet, campaigns, logos)
    routes = [
        Mount("/api/v1", routes=ShopApi(service, campaigns).routes()),
        *callbacks,
        Mount("/wallet", routes=wallet_routes),
        *PublicImages(artwork, StylesInUse(store), logos).routes(),
        *pages,
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        Route("/healthz", _health, methods=["GET"]),
    ]
    # Serving passes: past Starlette's router and exception layers, and quiet when it works.
    passes = [
        full_path(_route(wallet_routes, LATEST_PKPASS_ROUTE), "/wallet"),
        full_path(_route(pages, PKPASS_FILE_ROUTE), ""),
    ]
    handlers: dict[type[Exception], Handler] = {
        PassesError: _passes_error,
        loyalty.Refused: _passes_error,
        HTTPException: _http_error,
        DBAPIError: _database_error,
    }
    jobs = worker_jobs(
        store, campaigns, clock, webhooks_allow_private=settings.webhooks_allow_private
    )
    app = Starlette(
        routes=routes,
        middleware=[
            *_trusted_proxies(settings),
            Middleware(AccessLog, quiet=[route.path for route in passes]),
            Middleware(PathGuard),
            Middleware(FastRoutes, routes=passes, handlers=handlers),
        ],
        exception_handlers=handlers,
        lifespan=_lifespan(service, identity, wakeup, jobs, keys_http),
    )
    app.state.service = service
    app.state.wallet = wallet
    return app


def _wallet_web_service(service: Service, wallet: AppleWallet) -> WalletWebService:
    """Apple's web service for passes; a pass names only its card page (no Google link)."""
    settings = service.settings
    return WalletWebService(
        service.store,
        wallet,
        lambda card: settings.card_page_url(card.page_secret),
        settings.max_body_bytes,
        service.cards.fresh_card,
        devices_per_card=settings.devices_per_card,
        limits=RegistrationLimits(
            settings.card_registrations_per_hour, settings.client_registrations_per_minute
        ),
    )


def _lifespan(
    service: Service,
    identity: SigningIdentity,
    wakeup: Wakeup,
    jobs: Sequence[Job],
    keys_http: httpx.AsyncClient | None,
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Start-up and shut-down: the in-process push worker with its jobs (unless the settings
    leave it to `passes worker`), and every connection closed at the end."""
    settings, store, google = service.settings, service.store, service.google

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if google is not None and (warning := public_base_warning(settings.base_url)):
            log.warning("%s", warning)
        try:
            with _collector_for_serving():
                if settings.run_worker:
                    async with push_worker(
                        settings, identity, store, google, jobs, service.clock
                    ) as worker:
                        async with _running(worker.run, wakeup):
                            yield
                else:
                    yield
        finally:
            if keys_http is not None:
                await keys_http.aclose()
            await service.aclose()

    return lifespan


def _trusted_proxies(settings: Settings) -> list[Middleware]:
    """X-Forwarded-For from the proxies in PASSES_TRUSTED_PROXIES (none: no middleware)."""
    networks = parse_networks(settings.trusted_proxies)
    return [Middleware(TrustedProxies, networks=networks)] if networks else []


def _route(routes: Sequence[BaseRoute], path: str) -> Route:
    return next(route for route in routes if isinstance(route, Route) and route.path == path)


@contextmanager
def _collector_for_serving() -> Iterator[None]:
    """Tune Python's cycle collector for serving, and put it back when the app stops (tests
    run many apps in one process).

    What exists at start (modules, tables, compiled statements, the signing identity) lives as
    long as the process, so it is frozen out of the collector's way: under load its full passes
    walked all of it every few seconds, stalling every request in flight for ~60 ms. And requests
    waiting on the database hold their objects across turns of the event loop, so a burst of
    arrivals passed the default 700 new objects and started a young collection every dozen
    stamps, only to find those objects alive; YOUNG_OBJECTS leaves that to real garbage.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _google_callbacks(
    settings: Settings, google: GoogleWallet | None, store: Store
) -> tuple[list[Route], httpx.AsyncClient | None]:
    """The callback route (only when Google is on) and the client that fetches Google's keys."""
    if google is None:
        return [], None
    http = httpx.AsyncClient(verify=trust(settings.ssl_cert_file), timeout=10.0)
    keys = RootKeys(google.issuer_id, http, settings.google_callback_keys_url)
    return GoogleCallbacks(keys, store, settings.max_body_bytes).routes(), http


@asynccontextmanager
async def _running(
    work: Callable[[asyncio.Event, Wakeup], Coroutine[Any, Any, None]], wakeup: Wakeup
) -> AsyncIterator[None]:
    """Run `work` in the background; on exit ask it to stop and wait for it."""
    stop = asyncio.Event()
    task = asyncio.create_task(work(stop, wakeup))
    try:
        yield
    finally:
        stop.set()
        wakeup.notify()
        await task


async def _health(request: Request) -> Response:
    return Response("ok", media_type="text/plain")
