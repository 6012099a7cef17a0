"""Signed session cookies: the secret lives in a file beside the signing identity."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from passes.errors import ConfigError

COOKIE_KEY_FILE = "session.key"


def load_secret(certs_dir: Path) -> bytes:
    """The cookie-signing secret, made once (mode 0600) and kept across restarts."""
    path = certs_dir / COOKIE_KEY_FILE
    try:
        certs_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create the session secret ({exc})") from exc
    else:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
    secret = path.read_text().strip()
    if len(secret) < 32:
        raise ConfigError(f"{path}: the session secret is too short; delete the file to renew it")
    return secret.encode()


class Sessions:
    """Reads and writes signed, HttpOnly, SameSite=Strict cookies scoped to one path."""

    def __init__(self, secret: bytes, *, secure: bool) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="passes.session")
        self.secure = secure

    def read(self, request: Request, name: str, max_age: int) -> dict[str, Any] | None:
        """The session's content, or None when missing, tampered with or too old."""
        raw = request.cookies.get(name)
        if raw is None:
            return None
        try:
            value = self.serializer.loads(raw, max_age=max_age)
        except BadSignature:
            return None
        return value if isinstance(value, dict) and value.get("cookie") == name else None

    def write(
        self, response: Response, name: str, value: dict[str, Any], *, path: str, max_age: int
    ) -> None:
        """Start a session (the cookie's name is signed in, so cookies cannot be swapped)."""
        token = self.serializer.dumps({**value, "cookie": name})
        response.set_cookie(
            name,
            token,
            max_age=max_age,
            path=path,
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def clear(self, response: Response, name: str, *, path: str) -> None:
        """End a session."""
        response.delete_cookie(
            name, path=path, secure=self.secure, httponly=True, samesite="strict"
        )
