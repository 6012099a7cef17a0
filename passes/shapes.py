"""What the shop API takes: request bodies and queries as typed shapes (msgspec Structs).

The same types check each request (passes/http.py `read_shape`) and make the OpenAPI document
(passes/openapi.py), so the two cannot drift. Every limit comes from the rules (loyalty,
campaign_rules, bonus_rules, service, stats). Every text type refuses a NUL character, which
no database keeps (a lone surrogate is refused while decoding), so no route can forget that.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from passes import bonus_rules, campaign_rules, loyalty, purchase_rules
from passes.errors import InvalidInput
from passes.http import refusal_text
from passes.privacy import Customer
from passes.serials import MAX_IDEMPOTENCY_KEY, MAX_SERIAL_INPUT
from passes.stats import MAX_AMOUNT
from passes.webhook_events import EVENT_TYPES
from passes.webhooks import MAX_URL_LENGTH as MAX_WEBHOOK_URL

# Characters no text may hold, as part of a regex class (JSON Schema's ECMA and Python's alike).
_NUL = "\\u0000"
# Names: any text but control characters.
_CONTROL = "\\u0000-\\u001f\\u007f"


def _text(
    description: str, *, min_length: int = 0, max_length: int | None = None, refused: str = _NUL
) -> Meta:
    """The constraints of a text field: its length, and no NUL (nor other `refused` characters)."""
    return Meta(
        min_length=min_length,
        max_length=max_length,
        pattern=f"^[^{refused}]*$",
        description=description,
    )


def _patterned(pattern: str, description: str, example: str) -> Meta:
    return Meta(pattern=pattern, description=description, examples=[example])


def _whole(low: int, high: int, description: str) -> Meta:
    return Meta(ge=low, le=high, description=description)


# A time with its zone, e.g. "2026-12-05T09:00:00+01:00".
Moment = Annotated[datetime, Meta(tz=True, examples=["2026-12-05T09:00:00+01:00"])]
Serial = Annotated[
    str,
    _text("Serial of a card, as printed or typed", min_length=1, max_length=MAX_SERIAL_INPUT),
]
IdempotencyKey = Annotated[
    str,
    _text(
        "Retrying with the same key applies the change once and answers the same card. "
        f"1 to {MAX_IDEMPOTENCY_KEY} printable characters.",
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY,
    ),
]
Referrer = Annotated[
    str, _text("Serial of the card that recommended this one", max_length=MAX_SERIAL_INPUT)
]
Name = Annotated[
    str, _text("Any text but control characters", min_length=1, max_length=200, refused=_CONTROL)
]
Email = Annotated[
    str,
    Meta(
        pattern=f"^[^@\\s{_NUL}]{{1,64}}@[^@\\s{_NUL}]{{1,189}}\\.[^@\\s{_NUL}]{{2,}}$",
        description="An e-mail address",
        examples=["ada@example.org"],
    ),
]
MessageText = Annotated[
    str,
    _text(
        "Printable text; required unless previewing",
        min_length=1,
        max_length=campaign_rules.MAX_MESSAGE_LENGTH,
    ),
]
Count = Annotated[int, _whole(1, loyalty.MAX_STAMPS_PER_VISIT, "Stamps to give at once")]
Tier = Annotated[
    int,
    _whole(
        1,
        loyalty.MAX_STAMPS_REQUIRED,
        "The reward's stamp count (see the card's rewards); 409 when that reward is not due",
    ),
]
Bonus = Annotated[
    int,
    _whole(
        0, campaign_rules.MAX_CAMPAIGN_BONUS, "Surprise stamps for every recipient, given at once"
    ),
]
Multiplier = Annotated[
    int,
    _whole(
        2,
        bonus_rules.MAX_MULTIPLIER,
        "A promotion: from starts_at to ends_at every stamp on a recipient's card counts this "
        "many times (the extra as a `bonus` event). Needs ends_at; not with send_at (the "
        "message announces it at once).",
    ),
]
Preview = Annotated[bool, Meta(description="Only count who would receive it; nothing is sent.")]
SendAt = Annotated[
    Moment,
    Meta(
        description="Send later (at most 30 days ahead); the segment (hold-out, weekly limit) "
        "is taken then. The counts answered are what it would be now."
    ),
]
StartsAt = Annotated[
    Moment, Meta(description="When the promotion starts (default now; within 30 days)")
]
EndsAt = Annotated[
    Moment, Meta(description="When the promotion ends (at most 14 days after its start)")
]
Branch = Annotated[
    Annotated[int, Meta(ge=1)]
    | Annotated[str, _text("A name or address", min_length=1, max_length=200, refused=_CONTROL)],
    Meta(
        description="Where it happened: the shop's branch by its id (a number, as "
        "`passes shop location` lists it) or by its name or address; 422 unknown_branch when "
        "the shop has none such",
        examples=[3, "Altstadt"],
    ),
]
WEBHOOK_EVENT_TYPES = Literal[EVENT_TYPES]  # type: ignore[valid-type]
Amount = Annotated[float, Meta(ge=0, le=MAX_AMOUNT)]
RewardCost = Annotated[Amount, Meta(description="What one reward costs the shop")]
Basket = Annotated[Amount, Meta(description="The average spend of a visit")]


class Shape(msgspec.Struct, forbid_unknown_fields=True):
    """A request shape: unknown fields are refused, so typos do not pass silently."""

    # Constraints JSON Schema can say and msgspec cannot (checked in __post_init__).
    schema_extra: ClassVar[dict[str, Any]] = {}


class CustomerData(Shape):
    """Kept only with consent; needs a name or an e-mail address"""

    consent: Literal[True]
    name: Name | None = None
    email: Email | None = None

    schema_extra: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"required": ["name"], "properties": {"name": {"type": "string"}}},
            {"required": ["email"], "properties": {"email": {"type": "string"}}},
        ]
    }

    def __post_init__(self) -> None:
        if self.name is None and self.email is None:
            raise ValueError("customer needs a name or an e-mail address")

    def customer(self) -> Customer:
        """The service's value."""
        return Customer(name=self.name, email=self.email)


class NewCard(Shape):
    """A new anonymous card, optionally recommended by another and with the holder's data"""

    referrer: Referrer | None = None
    customer: CustomerData | None = None


class StampRequest(Shape):
    """Stamps for one visit"""

    count: Count = 1
    branch: Branch | None = None


class PurchaseRequest(Shape):
    """A purchase at the till: stamps by the shop's purchase rule, once per reference"""

    amount: Annotated[
        str,
        _patterned(
            purchase_rules.AMOUNT_PATTERN,
            'What was paid, as a decimal string (never a JSON number): "12.50"',
            "12.50",
        ),
    ]
    currency: Annotated[
        str,
        _patterned(
            purchase_rules.CURRENCY_PATTERN,
            "ISO 4217 code; 422 currency_mismatch unless the rule's",
            "EUR",
        ),
    ]
    reference: Annotated[
        str,
        _patterned(
            purchase_rules.REFERENCE_PATTERN,
            "The till's receipt or transaction id: the same one again stamps nothing",
            "TX-2026-000123",
        ),
    ]
    branch: Branch | None = None


class RedeemRequest(Shape):
    """Which due reward to redeem (absent: the oldest due)"""

    tier: Tier | None = None
    branch: Branch | None = None


class NewWebhook(Shape):
    """Where to send which events (Standard Webhooks, signed with the secret answered)"""

    url: Annotated[
        str,
        _text(
            "https URL (http only to 127.0.0.1, ::1 or localhost); private addresses only if "
            "the operator allows them",
            min_length=1,
            max_length=MAX_WEBHOOK_URL,
            refused=_CONTROL,
        ),
    ]
    events: Annotated[
        list[Literal[WEBHOOK_EVENT_TYPES]],
        Meta(min_length=1, max_length=len(EVENT_TYPES), description="Event types to receive"),
    ]


class EmptyRequest(Shape):
    """No fields"""


class MessageRequest(Shape):
    """A campaign message to a segment of the shop's cards, or a preview of who gets it"""

    text: MessageText | None = None
    segment: campaign_rules.Segment = "all"
    preview: Preview | None = None
    send_at: SendAt | None = None
    bonus_stamps: Bonus | None = None
    multiplier: Multiplier | None = None
    starts_at: StartsAt | None = None
    ends_at: EndsAt | None = None

    schema_extra: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"required": ["text"]},
            {"required": ["preview"], "properties": {"preview": {"const": True}}},
        ]
    }

    def __post_init__(self) -> None:
        if self.multiplier is None and (self.starts_at or self.ends_at):
            raise ValueError("starts_at and ends_at belong to a promotion: give a multiplier")
        if not self.preview and self.text is None:
            raise ValueError("text: a message needs its text (or preview it)")


StatsBranch = Annotated[
    str,
    _text(
        "Only this branch's figures (its id, name or address): the ledger's figures are its "
        "own; cards_issued and wallets stay the whole shop's. 422 unknown_branch when the "
        "shop has none such",
        min_length=1,
        max_length=200,
        refused=_CONTROL,
    ),
]


class StatsQuery(msgspec.Struct, forbid_unknown_fields=False, frozen=True):
    """GET /stats's query: with both amounts, the figures carry a cost estimate"""

    # UNSET, not None, for an absent amount: "?basket=null" is no amount.
    reward_cost: RewardCost | UnsetType = UNSET
    basket: Basket | UnsetType = UNSET
    branch: StatsBranch | UnsetType = UNSET

    def amounts(self) -> tuple[float | None, float | None]:
        """What one reward costs and the average basket (None: not given)."""
        cost, basket = self.reward_cost, self.basket
        return (None if cost is UNSET else cost), (None if basket is UNSET else basket)


def read_query(query: dict[str, str], shape: type[StatsQuery]) -> StatsQuery:
    """A query as its shape; numbers only in ASCII digits (msgspec reads no others)."""
    try:
        return msgspec.convert(query, shape, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidInput(refusal_text(exc)) from None


REQUESTS: tuple[type[Shape], ...] = (
    NewCard,
    StampRequest,
    PurchaseRequest,
    RedeemRequest,
    EmptyRequest,
    MessageRequest,
    NewWebhook,
)
