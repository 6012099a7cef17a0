"""How a refused PIN sign-in is told, the same on the staff page, the counter page and the
dashboard's manager sign-in: the status, the words in the visitor's language and, for a
lock-out, the seconds to wait (Retry-After)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from passes.errors import PassesError
from passes.lockout import PinLocked, PinsSlowed
from passes.staff import NameNeeded, NoPin, NotManager, WrongPin
from passes.text_keys import N_
from passes.texts import counted, text

SIGN_IN_REFUSALS = (WrongPin, PinLocked, PinsSlowed, NameNeeded, NoPin, NotManager)

# What a page says when no lock-out count is involved, unless it has words of its own.
_WORDS: Mapping[type[PassesError], tuple[int, str]] = {
    NameNeeded: (422, N_("name_needed")),
    NoPin: (409, N_("no_pin")),
    NotManager: (403, N_("only_managers")),
}


@dataclass(frozen=True)
class Refusal:
    """A refused sign-in as the page tells it."""

    status: int
    said: str
    retry_after: int | None = None


def sign_in_refusal(
    error: PassesError,
    lang: str,
    slug: str,
    words: Mapping[type[PassesError], tuple[int, str]] | None = None,
) -> Refusal:
    """The page's answer to `error` (one of SIGN_IN_REFUSALS); `words` replace the default
    status and text key of a missing name, a missing PIN or a sign-in that takes a manager."""
    if isinstance(error, WrongPin):
        left = error.tries_left
        return Refusal(401, counted("wrong_pin", left, lang).format(left=left))
    if isinstance(error, PinLocked):
        seconds = seconds_until(error.until)
        minutes = max(1, math.ceil(seconds / 60))
        said = counted("pin_locked", minutes, lang).format(minutes=minutes, slug=slug)
        return Refusal(429, said, seconds)
    if isinstance(error, PinsSlowed):
        seconds = seconds_until(error.until)
        said = counted("pins_slowed", seconds, lang).format(seconds=seconds, slug=slug)
        return Refusal(429, said, seconds)
    own = {**_WORDS, **(words or {})}
    status, key = next(said for kind, said in own.items() if isinstance(error, kind))
    return Refusal(status, text(key, lang).format(slug=slug))


def seconds_until(moment: datetime) -> int:
    """Whole seconds from now until `moment`, at least one."""
    return max(1, math.ceil((moment - datetime.now(UTC)).total_seconds()))
