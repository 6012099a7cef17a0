"""Google Wallet save/delete callbacks: verify the ECv2SigningOnly signatures, then read the event.

Google signs an intermediate key with one of its root keys (published at KEYS_URL) and the
message with the intermediate key, exactly as Tink's PaymentMethodTokenRecipient expects.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from passes.errors import InvalidInput
from passes.inputs import parse_json

KEYS_URL = "https://pay.google.com/gp/m/issuer/keys"
SENDER_ID = "GooglePayPasses"
PROTOCOL = "ECv2SigningOnly"
EVENT_TYPES = frozenset({"save", "del"})
# Google signs an intermediate key once per root key; each signature checked costs ~70 us per
# root key, and 64 KiB held 4,317 of them (0.31 s of CPU for one unauthenticated request).
MAX_SIGNATURES = 8

_T = TypeVar("_T")


@dataclass(frozen=True)
class CallbackEvent:
    """A verified save or delete of one loyalty object; de-duplicate on `nonce`."""

    object_id: str
    class_id: str
    event_type: str
    nonce: str


def length_value(*parts: str) -> bytes:
    """Tink's signed-bytes format: each part as a 4-byte little-endian length, then its UTF-8."""
    chunks = (part.encode() for part in parts)
    return b"".join(len(chunk).to_bytes(4, "little") + chunk for chunk in chunks)


class CallbackVerifier:
    """Verifies callbacks addressed to one issuer against Google's root signing keys."""

    def __init__(
        self,
        issuer_id: str,
        root_keys: Sequence[Mapping[str, Any]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer_id = issuer_id
        self._root_keys = [_root_key(key) for key in root_keys if _is_ours(key)]
        self._clock = clock

    def verify(self, body: bytes | str) -> CallbackEvent:
        """The event in a callback body; InvalidInput saying why when it cannot be trusted."""
        envelope = _json_object(body, "callback body")
        if envelope.get("protocolVersion") != PROTOCOL:
            raise InvalidInput(f"callback protocolVersion is not {PROTOCOL}")
        intermediate = self._intermediate_key(_field(envelope, "intermediateSigningKey", dict))
        signed_message = _field(envelope, "signedMessage", str)
        signed = length_value(SENDER_ID, self._issuer_id, PROTOCOL, signed_message)
        if not _verifies(intermediate, _b64(_field(envelope, "signature", str)), signed):
            raise InvalidInput("callback message signature does not verify for this issuer")
        return self._event(_json_object(signed_message, "signedMessage"))

    def _intermediate_key(self, intermediate: dict[str, Any]) -> ec.EllipticCurvePublicKey:
        signed_key = _field(intermediate, "signedKey", str)
        listed = _field(intermediate, "signatures", list)
        if len(listed) > MAX_SIGNATURES:
            raise InvalidInput(
                f"callback carries {len(listed)} signatures; at most {MAX_SIGNATURES} are checked"
            )
        signatures = [_b64(sig) for sig in listed]
        signed = length_value(SENDER_ID, PROTOCOL, signed_key)
        now_ms = self._clock() * 1000
        roots = [key for key, expires in self._root_keys if expires > now_ms]
        if not roots:
            raise InvalidInput("no unexpired Google root signing key to verify callbacks with")
        if not any(_verifies(root, sig, signed) for root in roots for sig in signatures):
            raise InvalidInput("callback intermediate key is not signed by a Google root key")
        key = _json_object(signed_key, "signedKey")
        if _millis(key, "keyExpiration") <= now_ms:
            raise InvalidInput("callback intermediate signing key has expired")
        return _ec_key(_field(key, "keyValue", str))

    def _event(self, message: dict[str, Any]) -> CallbackEvent:
        if _millis(message, "expTimeMillis") <= self._clock() * 1000:
            raise InvalidInput("callback message has expired")
        event_type = _field(message, "eventType", str)
        if event_type not in EVENT_TYPES:
            raise InvalidInput(f"callback eventType {event_type!r} is neither save nor del")
        return CallbackEvent(
            object_id=_field(message, "objectId", str),
            class_id=_field(message, "classId", str),
            event_type=event_type,
            nonce=_field(message, "nonce", str),
        )


async def fetch_root_keys(http: httpx.AsyncClient, url: str = KEYS_URL) -> list[dict[str, Any]]:
    """Google's current root signing keys ({"keys": [...]}) for CallbackVerifier."""
    response = await http.get(url)
    response.raise_for_status()
    keys = response.json().get("keys", [])
    return [key for key in keys if isinstance(key, dict)]


def _is_ours(key: Mapping[str, Any]) -> bool:
    # Tink ignores keys of other protocols and, beyond ECv1, keys without an expiration.
    return key.get("protocolVersion") == PROTOCOL and "keyExpiration" in key


def _root_key(key: Mapping[str, Any]) -> tuple[ec.EllipticCurvePublicKey, int]:
    return _ec_key(str(key["keyValue"])), int(key["keyExpiration"])


def _ec_key(value: str) -> ec.EllipticCurvePublicKey:
    try:
        key = load_der_public_key(_b64(value))
    except ValueError:
        raise InvalidInput("callback key is not a DER public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise InvalidInput("callback key is not an ECDSA P-256 key")
    return key


def _verifies(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise InvalidInput("callback signature or key is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("callback signature or key is not valid base64") from None


def _json_object(text: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = parse_json(text)
    except ValueError:  # also nesting too deep to parse
        raise InvalidInput(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} is not a JSON object")
    return value


def _field(data: Mapping[str, Any], name: str, kind: type[_T]) -> _T:
    value = data.get(name)
    if not isinstance(value, kind):
        raise InvalidInput(f"callback lacks {name} ({kind.__name__})")
    return value


def _millis(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    try:
        return int(str(value))
    except ValueError:
        raise InvalidInput(f"callback {name} is not a time in milliseconds") from None
