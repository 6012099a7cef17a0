"""HTTP edges shared by the shop API and the pages: JSON bodies, size limits, error responses."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypeVar

import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from passes.errors import Failure, InvalidInput, http_answer
from passes.errors import HttpError as HttpError  # where the pages and wallet import it from
from passes.inputs import check_json_text, parse_json, safe_path, whole_number

S = TypeVar("S", bound=msgspec.Struct)
# One decoder per request shape, made at its first use: they hold no request's data.
_DECODERS: dict[type[Any], Any] = {}


class JsonResponse(JSONResponse):
    """Starlette's JSON response (compact UTF-8), serialised by orjson: a stamp's answer took
    longer to write out with the standard library than its card took to change."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, msgspec.Struct):  # an answer declared in passes/answers.py
            # Times in free rows stay datetimes, for orjson to write as every answer does.
            content = msgspec.to_builtins(content, builtin_types=(datetime, date))
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def error_response(status: int, code: str, message: str, **headers: str) -> JsonResponse:
    """The one JSON error shape: {"error": {"code", "message"}}."""
    body = {"error": {"code": code, "message": message}}
    return JsonResponse(body, status_code=status, headers=headers or None)


def response_for(exc: Failure) -> JsonResponse:
    """The JSON answer to one of our errors, as the table in passes/errors.py says."""
    answer = http_answer(exc)
    return error_response(answer.status, answer.code, answer.message, **answer.headers)


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
    if _media_type(request) != "application/json":
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


def _decoder(shape: type[S]) -> msgspec.json.Decoder[S]:
    decoder = _DECODERS.get(shape)
    if decoder is None:
        decoder = _DECODERS[shape] = msgspec.json.Decoder(shape)
    return decoder


async def read_shape(request: Request, limit: int, shape: type[S]) -> S:
    """The body as `shape` (an empty body counts as {}). The shape's types refuse what the
    database cannot keep; a refused body is read again the slow way, for today's precise
    answers: 400 for broken or too deep JSON, 422 naming the field."""
    body = await read_body(request, limit)
    if not body.strip():
        body = b"{}"
    elif _media_type(request) != "application/json":
        raise HttpError(415, "unsupported_media_type", "send the body as application/json")
    try:
        return _decoder(shape).decode(body)
    except msgspec.DecodeError:
        pass
    value = json_body(body)
    if not isinstance(value, dict):
        raise InvalidInput("the body must be a JSON object")
    check_json_text(value)
    # JSON Schema counts 2.0 as an integer, and so do we (the body's own fields are numbers).
    whole = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in value.items()}
    try:
        return msgspec.convert(whole, shape)
    except msgspec.ValidationError as exc:
        raise InvalidInput(refusal_text(exc)) from None


def refusal_text(exc: msgspec.ValidationError) -> str:
    """msgspec's "Expected `int` <= 50 - at `$.count`" as "count: expected `int` <= 50"."""
    said, _, where = str(exc).partition(" - at `$")
    said = said[:1].lower() + said[1:]
    return f"{where.rstrip('`').lstrip('.')}: {said}" if where else said


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


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
