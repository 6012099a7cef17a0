"""Stand-in for the lead's notices (issue #13): replaced when main's notices land."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Notice:
    """The latest thing a card announced: its kind, what it says, the card version that set it."""

    kind: str  # "stamp" | "bonus" | "reward" | "news" | "perk"
    value: str
    version: int = 0
