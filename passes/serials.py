"""What staff and clients type before it names a card or a request: serials (read out, typed
with O for 0), idempotency keys and reward tiers, normalised or refused in one place."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, TypeVar

from passes import loyalty
from passes.errors import InvalidInput, UnknownCard
from passes.store.shops import ShopRow

SERIAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
SERIAL_LENGTH = 12
MAX_IDEMPOTENCY_KEY = 200
# What a caller may type for a serial (dashes, spaces): longer is no card of ours.
MAX_SERIAL_INPUT = 64


def new_serial() -> str:
    """A random serial that is easy to read out and type."""
    # 32 letters: each takes 5 random bits (one call for all: an import makes thousands).
    number = secrets.randbits(5 * SERIAL_LENGTH)
    return "".join(SERIAL_ALPHABET[(number >> 5 * at) & 31] for at in range(SERIAL_LENGTH))


def normalise_serial(typed: str) -> str:
    """Accept what staff type: lower case, spaces and dashes, O for 0, I/L for 1."""
    cleaned = re.sub(r"[\s-]", "", typed).upper()
    return cleaned.translate(str.maketrans("OIL", "011"))


def unknown_serial(typed: str, serial: str) -> str:
    """Why no card matched; says how letters were read when folding changed them."""
    cleaned = re.sub(r"[\s-]", "", typed).upper()
    folded = sorted({f"{a} as {b}" for a, b in zip(cleaned, serial, strict=False) if a != b})
    if not folded:
        return f"no card {serial!r}"
    return (
        f"no card {serial!r} (typed {typed!r}; serials have no O, I or L: read {', '.join(folded)})"
    )


_P = ParamSpec("_P")
_T = TypeVar("_T")

_S = TypeVar("_S")


def naming_typed_serial(
    method: Callable[Concatenate[_S, ShopRow, str, _P], Awaitable[_T]],
) -> Callable[Concatenate[_S, ShopRow, str, _P], Awaitable[_T]]:
    """A miss on the serial staff typed says what was typed, not only how it was read."""

    async def looking_up(
        self: _S, shop: ShopRow, serial: str, /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        try:
            return await method(self, shop, serial, *args, **kwargs)
        except UnknownCard as exc:
            raise UnknownCard(exc.serial, unknown_serial(serial, exc.serial)) from exc

    return looking_up


def check_idempotency_key(key: str | None) -> str | None:
    """Idempotency keys are short printable strings."""
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters"
        )
    return key


def check_tier(value: object) -> int | None:
    """The reward to redeem, named by its stamp count (absent: the oldest due)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("tier must be the stamp count of a reward, e.g. 5")
    if not 1 <= value <= loyalty.MAX_STAMPS_REQUIRED:
        raise InvalidInput(f"tier must be 1 to {loyalty.MAX_STAMPS_REQUIRED}")
    return value
