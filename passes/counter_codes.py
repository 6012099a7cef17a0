"""The codes a counter page shows (pure): short, signed, and worth something only while shown.

A code names the shop, the counter's branch (0: none), the manager who signed the counter in
and a 30-second window, under an HMAC-SHA256 tag (16 bytes) keyed from the site's secret. It
is taken in its own window, and in the one before until GRACE_SECONDS after that ended (the
screen shows a new code a poll late; a phone takes a moment to open the link). A code of a
later window was not made here yet: refused like an old one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

WINDOW_SECONDS = 30
GRACE_SECONDS = 10
TAG_BYTES = 16
VERSION = 1
# Four varints of at most 9 bytes, the version byte and the tag, in base64url.
MAX_CODE_CHARS = 72
_MAX_VARINT_BYTES = 9


class CodeRefused(Exception):
    """A code that stamps nothing; `reason` is "forged" or "expired"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


FORGED = "forged"
EXPIRED = "expired"


@dataclass(frozen=True)
class CounterCode:
    """What a code binds: the shop, branch (0: none), manager and window."""

    shop_id: int
    branch_id: int
    staff_id: int
    window: int

    @property
    def idempotency_key(self) -> str:
        """One stamp per card and code: the ledger refuses this key on a card twice."""
        return f"counter:{self.window}:{self.branch_id}:{self.staff_id}"


def derive_key(secret: bytes, label: str) -> bytes:
    """A key of its own for one use of the site's secret (never the raw secret)."""
    return hmac.new(secret, f"passes.{label}".encode(), hashlib.sha256).digest()


def window_of(now: datetime) -> int:
    """The 30-second window `now` falls in."""
    return int(now.timestamp()) // WINDOW_SECONDS


def seconds_left(now: datetime) -> float:
    """Until the window of `now` ends (the screen's countdown)."""
    return (window_of(now) + 1) * WINDOW_SECONDS - now.timestamp()


def is_current(code: CounterCode, now: datetime) -> bool:
    """Whether the code is still taken at `now`: in its window, or in the grace after it."""
    current = window_of(now)
    if code.window == current:
        return True
    ended = (code.window + 1) * WINDOW_SECONDS
    return code.window == current - 1 and now.timestamp() < ended + GRACE_SECONDS


class CounterCodes:
    """Making and checking counter codes, and the claims that tie a code to one card."""

    def __init__(self, secret: bytes) -> None:
        self._code_key = derive_key(secret, "counter-codes")
        self._claim_key = derive_key(secret, "counter-claims")

    def make(self, code: CounterCode) -> str:
        """The code as text (about 32 characters), for a small QR code."""
        fields = (code.shop_id, code.branch_id, code.staff_id, code.window)
        body = bytes([VERSION]) + b"".join(_varint(value) for value in fields)
        tag = hmac.new(self._code_key, body, hashlib.sha256).digest()[:TAG_BYTES]
        return base64.urlsafe_b64encode(body + tag).rstrip(b"=").decode()

    def read(self, text: str, now: datetime) -> CounterCode:
        """The code's content if it is ours and still current; CodeRefused otherwise."""
        code = self.verify(text)
        if not is_current(code, now):
            raise CodeRefused(EXPIRED)
        return code

    def verify(self, text: str) -> CounterCode:
        """The code's content if its tag is ours, whatever its window; else CodeRefused."""
        raw = _unbase64(text)
        if raw is None or len(raw) <= TAG_BYTES + 1 or raw[0] != VERSION:
            raise CodeRefused(FORGED)
        body, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
        expected = hmac.new(self._code_key, body, hashlib.sha256).digest()[:TAG_BYTES]
        if not hmac.compare_digest(tag, expected):
            raise CodeRefused(FORGED)
        fields = _varints(body[1:])
        if fields is None or len(fields) != 4:
            raise CodeRefused(FORGED)
        return CounterCode(*fields)

    def claim(self, code: str, serial: str) -> str:
        """What the customer's form carries: this code for this card and no other."""
        message = f"{code}\n{serial}".encode()
        digest = hmac.new(self._claim_key, message, hashlib.sha256).digest()[:TAG_BYTES]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def claim_matches(self, code: str, serial: str, claim: str) -> bool:
        """Whether `claim` was made for this code and card (constant time)."""
        return hmac.compare_digest(self.claim(code, serial).encode(), claim.encode())


def _varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("a counter code holds no negative numbers")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _varints(data: bytes) -> list[int] | None:
    """Unsigned LEB128 numbers; None when one is cut off or too long."""
    found: list[int] = []
    value = shift = length = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift, length = shift + 7, length + 1
        if length > _MAX_VARINT_BYTES:
            return None
        if not byte & 0x80:
            found.append(value)
            value = shift = length = 0
    return None if length else found


def _unbase64(text: str) -> bytes | None:
    if not text or len(text) > MAX_CODE_CHARS or not text.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # One text per code: stray characters (which the decoder skips) or spare bits are forged.
    return raw if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == text else None
