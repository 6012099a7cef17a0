"""A few hot GET routes answered without Starlette's router and exception middleware.

A pass fetch went through the router (a mount, then each route of it), a Request wrapper and
two exception-handling layers, each wrapping `send` again: together about as much as reading
the card. This middleware sits inside the access log and the server-error layer, matches the
routes it is given by their own path pattern, and maps the exceptions it is told of with the
app's own handlers; anything else goes on to Starlette as before (other methods too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request, Exception], Awaitable[Response]]


class FastRoutes:
    """Serves `routes` (full paths, GET only) directly; everything else goes to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[Route],
        handlers: Mapping[type[Exception], Handler],
    ) -> None:
        self.app = app
        self.routes = tuple(routes)
        self.handlers = dict(handlers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            for route in self.routes:
                match = route.path_regex.match(scope["path"])
                if match is not None:
                    scope["route"], scope["path_params"] = route, match.groupdict()
                    await self._serve(route, Request(scope, receive, send), send)
                    return
        await self.app(scope, receive, send)

    async def _serve(self, route: Route, request: Request, send: Send) -> None:
        try:
            response: Response = await route.endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(request.scope, request.receive, send)

    def _handler(self, exc: Exception) -> Handler | None:
        for kind in type(exc).__mro__:
            if kind in self.handlers:
                return self.handlers[kind]
        return None


def full_path(route: Route, prefix: str) -> Route:
    """The route as served under a mount at `prefix`, for FastRoutes."""
    return Route(prefix + route.path, route.endpoint, methods=["GET"])
