"""A local stand-in for Google: OAuth token endpoint, Wallet REST API and callback signing.

It speaks the real protocols: the token endpoint verifies the RS256 assertion with the
service account's public key, and the API wants the Bearer token it issued.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
API = "/walletobjects/v1"
KINDS = ("loyaltyClass", "loyaltyObject")
SENDER_ID = "GooglePayPasses"
PROTOCOL = "ECv2SigningOnly"
SERVICE_ACCOUNT_EMAIL = "wallet@stempel-test.iam.gserviceaccount.com"
# The issuer id the tests configure (Google's are 19 digits).
ISSUER = "3388000000022222222"
# Google notifies a holder at most this often per pass in 24 hours (messages and field
# updates together), and answers one more with 403 quotaExceeded.
NOTIFY_LIMIT = 3
NOTIFY_WINDOW = 24 * 3600.0
# Fields whose change notifies when the PATCH asks (Google names loyaltyPoints.balance,
# rewardsTier "and others"; these are the ones a stamp card changes).
WATCHED = ("loyaltyPoints", "secondaryLoyaltyPoints", "rewardsTier")


@dataclass(frozen=True)
class Notification:
    """A notification Google sent to the holders of a pass."""

    object_id: str
    via: str  # "update" | "message"
    at: float


@dataclass
class Recorded:
    """One request as the fake saw it, secrets removed."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGoogle:
    """State and behaviour; `app` serves it, `url` is set once it runs."""

    accounts: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    resources: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    tokens: set[str] = field(default_factory=set)
    failures: list[int] = field(default_factory=list)
    token_requests: int = 0
    root_keys: list[dict[str, str]] = field(default_factory=list)
    # Requests carried out, then answered with this status (the answer lost on the way):
    # (status, part of the path it applies to).
    lost: list[tuple[int, str]] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    # Notifying calls refused for quota however few were sent (another sender used it).
    refusals: int = 0
    refused: list[str] = field(default_factory=list)
    clock: Any = time.time

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def api_url(self) -> str:
        return f"{self.url}{API}"

    def add_account(self, email: str, public_key: rsa.RSAPublicKey) -> None:
        self.accounts[email] = public_key

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next `count` requests with `status` (500, 503, 429, …)."""
        self.failures.extend([status] * count)

    def lose_next(self, count: int, status: int = 503, path: str = "") -> None:
        """Carry out the next `count` requests (whose path contains `path`) but answer them
        with `status`, as if the answer were lost on the way back."""
        self.lost.extend([(status, path)] * count)

    def refuse_notifications(self, count: int) -> None:
        """Refuse the next `count` notifying calls for quota, as Google does over its limit."""
        self.refusals += count

    def notified(self, object_id: str, via: str | None = None) -> list[Notification]:
        """The notifications sent for one object (`via` "update" or "message")."""
        return [n for n in self.notifications if n.object_id == object_id and via in (None, n.via)]

    def forget(self, kind: str, rid: str) -> None:
        """Lose a class or object, as if it had been deleted at Google."""
        self.resources[kind].pop(rid, None)

    def reset(self) -> None:
        self.requests.clear()
        self.failures.clear()
        self.lost.clear()
        self.notifications.clear()
        self.refused.clear()
        self.refusals = 0
        for store in self.resources.values():
            store.clear()

    def bodies(self, method: str, kind: str) -> list[Any]:
        """Bodies sent with `method` to the collection or items of `kind`."""
        prefix = f"{API}/{kind}"
        return [
            r.body
            for r in self.requests
            if r.method == method and r.path.startswith(prefix) and "addMessage" not in r.path
        ]

    @property
    def app(self) -> Starlette:
        routes = [
            Route("/token", self._token, methods=["POST"]),
            Route("/keys", self._keys, methods=["GET"]),
            Route(f"{API}/{{kind}}", self._insert, methods=["POST"]),
            Route(f"{API}/{{kind}}/{{rid}}", self._item, methods=["GET", "PATCH"]),
            Route(f"{API}/{{kind}}/{{rid}}/addMessage", self._add_message, methods=["POST"]),
        ]
        return Starlette(routes=routes)

    async def _record(self, request: Request) -> Response | None:
        raw = await request.body()
        body: Any
        if request.url.path == "/token":
            form = await request.form()
            body = {"grant_type": form.get("grant_type")}
        else:
            body = json.loads(raw) if raw else None
        headers = {k: v for k, v in request.headers.items() if k != "authorization"}
        self.requests.append(Recorded(request.method, request.url.path, headers, body))
        if self.failures:
            status = self.failures.pop(0)
            return _error(status, "injected failure", {"Retry-After": "1"} if status == 429 else {})
        return None

    async def _keys(self, request: Request) -> Response:
        return JSONResponse({"keys": self.root_keys})

    async def _token(self, request: Request) -> Response:
        if (failed := await self._record(request)) is not None:
            return failed
        self.token_requests += 1
        form = await request.form()
        if form.get("grant_type") != GRANT_TYPE:
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        problem = self._check_assertion(str(form.get("assertion", "")))
        if problem:
            return JSONResponse({"error": "invalid_grant", "error_description": problem}, 400)
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    def _check_assertion(self, assertion: str) -> str | None:
        try:
            header, claims = verify_rs256(assertion, self.accounts)
        except ValueError as exc:
            return str(exc)
        if header.get("alg") != "RS256":
            return "alg must be RS256"
        now = time.time()
        if claims.get("aud") != self.token_url or claims.get("scope") != SCOPE:
            return "wrong aud or scope"
        if not claims["iat"] - 60 <= now < claims["exp"] <= claims["iat"] + 3600:
            return "assertion not valid now"
        return None

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme == "Bearer" and token in self.tokens

    async def _guard(self, request: Request) -> Response | None:
        if (failed := await self._record(request)) is not None:
            return failed
        if not self._authorized(request):
            return _error(401, "Request had invalid authentication credentials.")
        if request.path_params["kind"] not in KINDS:
            return _error(404, "unknown resource type")
        return None

    async def _insert(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        store = self.resources[request.path_params["kind"]]
        body = self.requests[-1].body or {}
        rid = body.get("id")
        if not isinstance(rid, str):
            return _error(400, "id is required")
        if rid in store:
            return _error(409, f"Resource with id {rid} already exists.")
        if "classId" in body and body["classId"] not in self.resources["loyaltyClass"]:
            return _error(400, f"Class {body['classId']} does not exist.")
        store[rid] = {k: v for k, v in body.items() if k != "notifyPreference"}
        return self._answer(store[rid])

    async def _item(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        store = self.resources[request.path_params["kind"]]
        rid = request.path_params["rid"]
        if rid not in store:
            return _error(404, f"Resource {rid} not found.")
        if request.method == "PATCH":
            # notifyPreference is ephemeral: it asks for this update's notification only.
            body = dict(self.requests[-1].body or {})
            notify = body.pop("notifyPreference", None) == "NOTIFY_ON_UPDATE"
            watched = any(k in body and body[k] != store[rid].get(k) for k in WATCHED)
            if notify and watched and (quota := self._notify(rid, "update")) is not None:
                return quota
            store[rid] = {**store[rid], **body}
        return self._answer(store[rid])

    async def _add_message(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        store = self.resources[request.path_params["kind"]]
        rid = request.path_params["rid"]
        if rid not in store:
            return _error(404, f"Resource {rid} not found.")
        message = (self.requests[-1].body or {}).get("message") or {}
        listed = store[rid].setdefault("messages", [])
        if any(m.get("id") == message.get("id") for m in listed):
            return _error(409, f"Message with id {message.get('id')} already exists.")
        if message.get("messageType") == "TEXT_AND_NOTIFY":
            if (quota := self._notify(rid, "message")) is not None:
                return quota
        listed.append(message)
        return self._answer({"resource": store[rid]})

    def _notify(self, rid: str, via: str) -> Response | None:
        """Notify the pass's holders, or Google's refusal when its budget is used up."""
        now = self.clock()
        recent = [n for n in self.notified(rid) if n.at > now - NOTIFY_WINDOW]
        if self.refusals or len(recent) >= NOTIFY_LIMIT:
            self.refusals = max(0, self.refusals - 1)
            self.refused.append(rid)
            what = "TEXT_AND_NOTIFY message" if via == "message" else "notifying update"
            text = f"Quota exceeded for issuer when adding {what} to object {rid}."
            return _error(403, text, reason="quotaExceeded")
        self.notifications.append(Notification(rid, via, now))
        return None

    def _answer(self, body: Any) -> Response:
        path = self.requests[-1].path
        for index, (status, part) in enumerate(self.lost):
            if part in path:
                del self.lost[index]
                return _error(status, "the answer was lost")
        return JSONResponse(body)


def _error(
    status: int, message: str, headers: dict[str, str] | None = None, reason: str | None = None
) -> JSONResponse:
    """Google's error body; with `reason`, also its `errors` list (domain walletobjects)."""
    error: dict[str, Any] = {"code": status, "message": message}
    if reason is not None:
        error["errors"] = [{"message": message, "domain": "walletobjects", "reason": reason}]
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def write_account(path: Path, key: Any, token_uri: str, **overrides: Any) -> Path:
    """A service-account JSON key file as Google Cloud console downloads it."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "stempel-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": SERVICE_ACCOUNT_EMAIL,
        "client_id": "1234567890",
        "token_uri": token_uri,
        **overrides,
    }
    path.write_text(json.dumps(info))
    return path


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_rs256(token: str, keys: dict[str, rsa.RSAPublicKey]) -> tuple[dict[str, Any], Any]:
    """Header and claims of a JWT whose `iss` names one of `keys`; ValueError otherwise."""
    try:
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(claims_b64))
    except ValueError as exc:
        raise ValueError(f"malformed JWT: {exc}") from None
    key = keys.get(claims.get("iss"))
    if key is None:
        raise ValueError("unknown issuer")
    try:
        key.verify(
            b64url_decode(signature_b64),
            f"{header_b64}.{claims_b64}".encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        raise ValueError("bad signature") from None
    return header, claims


class RunningFake:
    """FakeGoogle served by uvicorn on a free 127.0.0.1 port in a background thread."""

    def __init__(self, fake: FakeGoogle) -> None:
        self.fake = fake
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        fake.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(fake.app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def __enter__(self) -> FakeGoogle:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Google did not start")
            time.sleep(0.01)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


# --- callbacks: Google's root key signs an intermediate key, which signs each message ---


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_b64(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def length_value(*parts: str) -> bytes:
    """Tink's PaymentMethodTokenUtil.toLengthValue, written out independently of ours."""
    out = b""
    for part in parts:
        data = part.encode("utf-8")
        out += struct.pack("<I", len(data)) + data
    return out


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


@dataclass
class CallbackSigner:
    """Plays Google's callback sender with its own root and intermediate keys."""

    root: ec.EllipticCurvePrivateKey = field(default_factory=ec_key)
    intermediate: ec.EllipticCurvePrivateKey = field(default_factory=ec_key)
    root_expires_ms: int = field(default_factory=lambda: int((time.time() + 86400) * 1000))
    intermediate_expires_ms: int = field(default_factory=lambda: int((time.time() + 3600) * 1000))

    def root_keys(self) -> list[dict[str, str]]:
        """What Google publishes at its keys URL."""
        return [
            {
                "keyValue": public_b64(self.root),
                "protocolVersion": PROTOCOL,
                "keyExpiration": str(self.root_expires_ms),
            }
        ]

    def body(
        self,
        recipient_id: str,
        *,
        object_id: str = "3388000000000000001.CARD1",
        event_type: str = "save",
        nonce: str = "nonce-1",
        expires_ms: int | None = None,
    ) -> bytes:
        """A callback POST body as Google sends it."""
        expiry = expires_ms if expires_ms is not None else int((time.time() + 60) * 1000)
        message = {
            "classId": object_id.split(".")[0] + ".shop",
            "objectId": object_id,
            "expTimeMillis": expiry,
            "eventType": event_type,
            "nonce": nonce,
        }
        signed_message = json.dumps(message)
        signed_key = json.dumps(
            {
                "keyValue": public_b64(self.intermediate),
                "keyExpiration": str(self.intermediate_expires_ms),
            }
        )
        envelope = {
            "signature": _sign(
                self.intermediate, length_value(SENDER_ID, recipient_id, PROTOCOL, signed_message)
            ),
            "intermediateSigningKey": {
                "signedKey": signed_key,
                "signatures": [_sign(self.root, length_value(SENDER_ID, PROTOCOL, signed_key))],
            },
            "protocolVersion": PROTOCOL,
            "signedMessage": signed_message,
        }
        return json.dumps(envelope).encode()
