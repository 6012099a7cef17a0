"""HTTP edges shared by the shop API and the pages: JSON bodies, size limits, error responses."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from passes.errors import Conflict, InvalidInput, NotFound, PassesError, Unauthorized, Unavailable
from passes.inputs import check_json_text, parse_json, safe_path, whole_number


class HttpError(PassesError):
    """An error that only exists at the HTTP edge (bad JSON, too large, wrong type)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class JsonResponse(JSONResponse):
    """Starlette's JSON response (compact UTF-8), serialised by orjson: a stamp's answer took
    longer to write out with the standard library than its card took to change."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def error_response(status: int, code: str, message: str, **headers: str) -> JsonResponse:
    """The one JSON error shape: {"error": {"code", "message"}}."""
    body = {"error": {"code": code, "message": message}}
    return JsonResponse(body, status_code=status, headers=headers or None)


def response_for(exc: PassesError) -> JsonResponse:
    """Map the product's exceptions to statuses in one place."""
    if isinstance(exc, HttpError):
        return error_response(exc.status, exc.code, str(exc))
    if isinstance(exc, Unauthorized):
        return error_response(401, "unauthorized", str(exc), **{"WWW-Authenticate": "Bearer"})
    if isinstance(exc, NotFound):
        return error_response(404, "not_found", str(exc))
    if isinstance(exc, Conflict):
        return error_response(409, exc.code, str(exc))
    if isinstance(exc, InvalidInput):
        return error_response(422, "invalid", str(exc))
    if isinstance(exc, Unavailable):
        return error_response(503, "unavailable", str(exc), **{"Retry-After": "1"})
    return error_response(500, "internal", "internal error")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing anything over `limit` bytes before reading it all."""
    declared = request.headers.get("content-length")
    size = None if declared is None else whole_number(declared)
    if declared is not None and (size is None or size > limit):
        raise HttpError(413, "too_large", f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpError(413, "too_large", f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(
    request: Request, limit: int, *, any_text: bool = False
) -> dict[str, Any]:
    """A JSON object body; an empty body counts as {}. Text the database cannot keep (NUL, a
    lone surrogate) is refused naming its field, unless `any_text` (the caller cleans it)."""
    body = await read_body(request, limit)
    if not body.strip():
        return {}
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise HttpError(415, "unsupported_media_type", "send the body as application/json")
    value = json_body(body)
    if not isinstance(value, dict):
        raise InvalidInput("the body must be a JSON object")
    if not any_text:
        check_json_text(value)
    return value


def json_body(body: bytes) -> Any:
    """The JSON value of a request body; HttpError 400 when it is not JSON or nests too deep."""
    try:
        return parse_json(body)
    except ValueError as exc:
        raise HttpError(400, "bad_json", f"the body is not valid JSON: {exc}") from exc


def allow_fields(body: dict[str, Any], allowed: set[str]) -> None:
    """Refuse fields we do not know, so typos do not pass silently."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}")


class PathGuard:
    """Answers 404 for a path with a control character (NUL, CR, LF…) or a lone surrogate
    before any route, header or database sees it: a NUL failed in PostgreSQL (a 500) and a
    CR/LF in a shop's slug went into a cookie's path and broke the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not safe_path(scope["path"]):
            await error_response(404, "not_found", "no such page")(scope, receive, send)
            return
        await self.app(scope, receive, send)
