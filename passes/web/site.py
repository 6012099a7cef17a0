"""What every page shares: templates, language, CSRF tokens, form bodies, error pages."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from passes.errors import NotFound
from passes.http import HttpError, read_body
from passes.inputs import check_text
from passes.loyalty import MAX_STAMPS_REQUIRED
from passes.service import Service
from passes.sessions import SESSION_TIME, SessionBook
from passes.store.sessions import SessionRow
from passes.store.shops import ShopRow
from passes.texts import LANGUAGES, counted, pick_language, text
from passes.web.badges import Badges
from passes.web.session import Sessions, load_secret

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSRF_COOKIE = "passes_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
LANG_COOKIE = "passes_lang"
# The feedback form carries up to 500 characters, each up to 12 bytes percent-encoded.
FORM_LIMIT = 8192
# The rules form is the largest: 28 fields with all five reward tiers shown.
FORM_FIELDS = 40
YEAR = 365 * 24 * 3600
# Every signed-in area's cookie lasts as long as its session in the store.
SESSION_SECONDS = int(SESSION_TIME.total_seconds())


class FormRefused(HttpError):
    """A form without a valid CSRF token, or from another origin."""

    def __init__(self) -> None:
        super().__init__(403, "csrf", "missing or wrong CSRF token; reload the page")


class Site:
    """Shared page machinery over one Service."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.settings = service.settings
        self.templates = Jinja2Templates(directory=str(TEMPLATES))
        self.templates.env.globals["max_stamps_required"] = MAX_STAMPS_REQUIRED
        self.secure = self.settings.base_url.startswith("https://")
        self.sessions = Sessions(load_secret(self.settings.certs_dir), secure=self.secure)
        self.badges = Badges.from_settings(self.settings)
        self.book = SessionBook(service.store)

    def language(self, request: Request) -> str:
        """?lang= first, then the remembered choice, then Accept-Language."""
        chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
        return pick_language(request.headers.get("accept-language", ""), chosen)

    def translator(self, request: Request) -> Callable[[str], str]:
        """`t(key)` in the request's language."""
        lang = self.language(request)
        return lambda key: text(key, lang)

    def render(self, request: Request, name: str, status: int = 200, **context: object) -> Response:
        """A page in the visitor's language, with a CSRF token for its forms."""
        lang = self.language(request)
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        context |= {
            "lang": lang,
            "other_langs": [code for code in LANGUAGES if code != lang],
            "language_name": lambda code: text("language_name", code),
            "t": lambda key: text(key, lang),
            "tn": lambda key, count: counted(key, count, lang),
            "csrf": token,
            "base_url": self.settings.base_url,
            "badge": lambda wallet: self.badges.badge(wallet, lang),
        }
        response = self.templates.TemplateResponse(request, name, context, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        if request.cookies.get(CSRF_COOKIE) != token:
            response.set_cookie(
                CSRF_COOKIE, token, path="/", secure=self.secure, httponly=True, samesite="strict"
            )
        chosen = request.query_params.get("lang")
        if chosen in LANGUAGES and request.cookies.get(LANG_COOKIE) != chosen:
            response.set_cookie(LANG_COOKIE, str(chosen), max_age=YEAR, path="/", samesite="lax")
        return response

    def message(self, request: Request, status: int, key: str, **values: object) -> Response:
        """A short page saying one thing (errors, refusals)."""
        said = text(key, self.language(request)).format(**values)
        return self.render(request, "message.html", status, message=said, shop=None)

    def signed_in_to(self, home: str, cookie: str, token: str) -> Response:
        """Into a signed-in area at `home`, with a cookie (scoped to `home`) that names the
        session, never a key, its hash or a PIN."""
        response = RedirectResponse(home, status_code=303)
        self.sessions.write(response, cookie, {"sid": token}, path=home, max_age=SESSION_SECONDS)
        return response

    async def sign_out(self, request: Request, cookie: str, home: str) -> Response:
        """Logout from a signed-in area: its session ends in the store, its cookie (scoped to
        `home`) is cleared, and the browser goes back to `home`."""
        if await self.form(request) is None:
            return self.message(request, 403, "form_expired")
        session = self.sessions.read(request, cookie, SESSION_SECONDS)
        if session is not None:
            await self.book.end(session.get("sid"))
        response = RedirectResponse(home, status_code=303)
        self.sessions.clear(response, cookie, path=home)
        return response

    async def session(
        self, request: Request, cookie: str, kind: str, shop: ShopRow
    ) -> SessionRow | None:
        """The live session of `kind` that this browser's `cookie` names, when it is `shop`'s
        (a removed person's is gone at once: its row is)."""
        signed = self.sessions.read(request, cookie, SESSION_SECONDS)
        if signed is None:
            return None
        found = await self.book.signed_in(signed.get("sid"), kind)
        return found if found is not None and found.shop_id == shop.id else None

    async def form(self, request: Request) -> dict[str, str] | None:
        """A small urlencoded form body; None when its origin or CSRF token is wrong."""
        try:
            return await self._form(request)
        except FormRefused:
            return None

    async def _form(self, request: Request) -> dict[str, str]:
        self._check_origin(request)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/x-www-form-urlencoded":
            raise HttpError(415, "unsupported_media_type", "send the form urlencoded")
        body = await read_body(request, FORM_LIMIT)
        try:
            fields = dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=FORM_FIELDS))
        except ValueError:
            raise HttpError(
                413, "too_many_fields", f"a form has at most {FORM_FIELDS} fields"
            ) from None
        self._check_token(request, fields.get(CSRF_FIELD, ""))
        for name, value in fields.items():
            check_text(f"field name {name[:40]!r}", name)
            check_text(name, value)
        return fields

    async def upload(
        self, request: Request, limit: int
    ) -> tuple[dict[str, str], dict[str, bytes]] | None:
        """A multipart form of at most `limit` bytes: its fields and its files' contents by
        field name (an input left empty sends none); None when its origin or CSRF token is
        wrong. HttpError 413 for a larger body, 400 for a broken one."""
        try:
            self._check_origin(request)
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type != "multipart/form-data":
                raise HttpError(415, "unsupported_media_type", "send the form as multipart")
            body = await read_body(request, limit)
            fields, files = await _multipart(request, body)
            self._check_token(request, fields.get(CSRF_FIELD, ""))
        except FormRefused:
            return None
        return fields, files

    def check_header(self, request: Request) -> None:
        """Script requests carry the CSRF token in a header."""
        self._check_origin(request)
        self._check_token(request, request.headers.get(CSRF_HEADER, ""))

    def _check_token(self, request: Request, sent: str) -> None:
        expected = request.cookies.get(CSRF_COOKIE, "")
        if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
            raise FormRefused()

    def _check_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        # Referrer-Policy: no-referrer makes browsers send "null" for forms; the token decides.
        if origin is None or origin == "null":
            return
        ours = {_origin(self.settings.base_url), f"{request.url.scheme}://{request.url.netloc}"}
        if origin not in ours:
            raise FormRefused()

    async def shop(self, request: Request) -> ShopRow | None:
        """The shop named in the path, or None."""
        try:
            return await self.service.shops.shop(request.path_params["shop"])
        except NotFound:
            return None

    def no_shop(self, request: Request) -> Response:
        """The 404 page for an unknown shop."""
        return self.message(request, 404, "shop_not_found")


async def _multipart(request: Request, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    async def once() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(request.headers, once(), max_files=2, max_fields=20)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise HttpError(400, "bad_form", f"the form cannot be read: {exc.message}") from exc
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields[name] = value
        elif value.filename:
            files[name] = await value.read()
    await form.close()
    return fields, files


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
