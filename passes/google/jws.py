"""Compact RS256 JSON Web Tokens, the format of both the save link and the token grant."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def b64url(data: bytes) -> str:
    """Base64url without padding, as JWS requires."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_part(value: Mapping[str, Any]) -> str:
    """One JWT segment: compact UTF-8 JSON, base64url-encoded."""
    return b64url(_JSON.encode(value).encode())


class RS256Signer:
    """Signs JWTs with one RSA key; the header is encoded once."""

    def __init__(self, key: rsa.RSAPrivateKey, key_id: str) -> None:
        self._key = key
        self._header = encode_part({"alg": "RS256", "typ": "JWT", "kid": key_id})

    def encode(self, claims: Mapping[str, Any]) -> str:
        """header.claims.signature."""
        signing_input = f"{self._header}.{encode_part(claims)}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"
