"""What the shop API answers for a card's history (GET /api/v1/cards/{serial}/history).

Split from passes/answers.py like passes/answers_webhooks.py; the OpenAPI document
(passes/openapi.py) describes this module's RESPONSES too.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from passes.answers import Time
from passes.card_history import HISTORY_LIMIT, HistoryEntry


class HistoryEvent(msgspec.Struct, frozen=True):
    """One change of the card, with who made it and where"""

    id: int
    kind: Annotated[str, Meta(description="issue, stamp, redeem, undo, bonus, expire, void, …")]
    count: int
    at: Time
    actor: Annotated[
        str, Meta(description='Where it came from: "api:<key prefix>", "staff", "cli", …')
    ]
    person: Annotated[
        str | None,
        Meta(description="The staff member who made it (kept after they are removed); null "
             "for the API key, the command line, the shared PIN and the shop's own rules"),
    ]  # fmt: skip
    branch: Annotated[str | None, Meta(description="The branch it was made at, if any")]


class History(msgspec.Struct, frozen=True):
    """A card's changes, newest first"""

    serial: str
    events: Annotated[list[HistoryEvent], Meta(max_length=HISTORY_LIMIT, description="At most 100")]


def history_answer(serial: str, entries: list[HistoryEntry]) -> History:
    """The card's history as the API sends it."""
    return History(
        serial,
        [
            HistoryEvent(e.id, e.kind, e.count, e.at.isoformat(), e.actor, e.person, e.branch)
            for e in entries
        ],
    )


RESPONSES: tuple[type[msgspec.Struct], ...] = (History,)
