"""Counter codes (pure): taken in their window and a short grace after, never before or
later; any change to a code makes it forged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from passes.counter_codes import (
    EXPIRED,
    FORGED,
    GRACE_SECONDS,
    WINDOW_SECONDS,
    CodeRefused,
    CounterCode,
    CounterCodes,
)

CODES = CounterCodes(b"s" * 64)
START = datetime.fromtimestamp(WINDOW_SECONDS * 60_000_000, UTC)  # a window's first second
CODE = CounterCode(shop_id=7, branch_id=0, staff_id=123_456, window=60_000_000)


def refusal(text: str, now: datetime) -> str:
    with pytest.raises(CodeRefused) as refused:
        CODES.read(text, now)
    return refused.value.reason


def test_a_code_is_short_and_reads_back() -> None:
    text = CODES.make(CODE)
    assert len(text) <= 40 and text.isascii() and "=" not in text
    assert CODES.read(text, START) == CODE
    assert CODE.idempotency_key == "counter:60000000:0:123456"


@pytest.mark.parametrize(
    ("after", "taken"),
    [
        (0, True),
        (WINDOW_SECONDS - 0.001, True),
        (WINDOW_SECONDS + GRACE_SECONDS - 0.001, True),
        (WINDOW_SECONDS + GRACE_SECONDS, False),
        (3 * WINDOW_SECONDS, False),
        (-0.001, False),  # a window not begun yet: not made here
    ],
)
def test_a_code_is_taken_in_its_window_and_the_grace_after(after: float, taken: bool) -> None:
    text = CODES.make(CODE)
    now = START + timedelta(seconds=after)
    if taken:
        assert CODES.read(text, now) == CODE
    else:
        assert refusal(text, now) == EXPIRED


def test_every_changed_character_and_every_other_key_is_forged() -> None:
    text = CODES.make(CODE)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index, char in enumerate(text):
        other = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
        assert refusal(text[:index] + other + text[index + 1 :], START) == FORGED
    for bad in ("", "!", text + "=", text + "A", " " + text, text[:-4], "A" * 80, "é" * 8):
        assert refusal(bad, START) == FORGED, bad
    assert refusal(CounterCodes(b"t" * 64).make(CODE), START) == FORGED


def test_a_claim_names_one_code_and_one_card() -> None:
    text = CODES.make(CODE)
    claim = CODES.claim(text, "SERIALA")
    assert CODES.claim_matches(text, "SERIALA", claim)
    assert not CODES.claim_matches(text, "SERIALB", claim)
    other = CODES.make(CounterCode(7, 0, 123_456, CODE.window + 1))
    assert not CODES.claim_matches(other, "SERIALA", claim)
