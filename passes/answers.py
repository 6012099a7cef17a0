"""What the shop API answers: response shapes (msgspec Structs) and how they are made.

The API sends these (passes/http.py `JsonResponse` writes them) and the OpenAPI document
describes them (passes/openapi.py), from the same types. Times are ISO 8601 strings with
their zone, as `datetime.isoformat()` writes them. The webhook endpoints' answers are in
passes/answers_webhooks.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from passes import campaign_rules, loyalty
from passes.card_facts import CardFacts
from passes.cards import CardView
from passes.purchase_rules import Earned
from passes.store.apple import Deliveries as Found
from passes.store.purchases import Purchase

Time = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
Uri = Annotated[str, Meta(extra_json_schema={"format": "uri"})]
Count = Annotated[int, Meta(ge=0)]
Rows = list[dict[str, Any]]


class ErrorDetail(msgspec.Struct, frozen=True):
    """A stable code to act on, and a message for people"""

    code: str
    message: str


class Error(msgspec.Struct, frozen=True):
    """Every error answer: {"error": {"code", "message"}}"""

    error: ErrorDetail


class NextReward(msgspec.Struct, frozen=True):
    """The next reward on the card and the stamps still missing to it"""

    missing: Annotated[int, Meta(ge=1)]
    reward: str


class CardUrls(msgspec.Struct, frozen=True):
    """Where the customer finds the card (its page URL carries a secret)"""

    card: Uri
    apple: Uri
    google: Uri | None


class Card(msgspec.Struct, frozen=True):
    """A card as the API shows it"""

    serial: str
    shop: str
    stamps: Count
    stamps_required: Annotated[int, Meta(ge=1)]
    rewards_available: Count
    rewards_redeemed: Count
    total_stamps: Count
    reward: str
    voided: bool
    version: Annotated[int, Meta(ge=1)]
    last_change_id: Annotated[
        int | None,
        Meta(description="Ledger id of the card's latest change; undo a stamp with it."),
    ]
    created_at: Time
    updated_at: Time
    urls: CardUrls
    rewards: Annotated[
        list[loyalty.RewardLine],
        Meta(description="Every reward of the program by stamp count, with how many are due"),
    ]
    next_reward: NextReward
    stamps_expire_at: Annotated[
        Time | None,
        Meta(description="When the stamps expire without a visit (null: they do not)"),
    ]
    reward_expires_at: Annotated[
        Time | None, Meta(description="When the oldest due reward expires (null: none does)")
    ]
    stamps_expired: Count
    rewards_expired: Count


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def card_answer(view: CardView) -> Card:
    """The card of `view` as the API answers it."""
    card, facts = view.card, CardFacts.of(view.shop.program, view.card)
    missing, upcoming = facts.next_reward
    return Card(
        serial=card.serial,
        shop=view.shop.slug,
        stamps=facts.stamps,
        stamps_required=facts.stamps_required,
        rewards_available=facts.rewards_available,
        rewards_redeemed=facts.rewards_redeemed,
        total_stamps=facts.total_stamps,
        reward=facts.reward,
        voided=facts.voided,
        version=card.version,
        last_change_id=card.last_event_id,
        created_at=card.created_at.isoformat(),
        updated_at=card.updated_at.isoformat(),
        urls=CardUrls(view.urls["card"] or "", view.urls["apple"] or "", view.urls["google"]),
        rewards=list(facts.lines),
        next_reward=NextReward(missing, upcoming),
        stamps_expire_at=_iso(facts.stamps_expire_on),
        reward_expires_at=_iso(facts.reward_expires_on),
        stamps_expired=facts.stamps_expired,
        rewards_expired=facts.rewards_expired,
    )


def card_json(view: CardView) -> dict[str, Any]:
    """The card as plain JSON values (the CLI prints these)."""
    shown: dict[str, Any] = msgspec.to_builtins(card_answer(view))
    return shown


class PurchaseFacts(msgspec.Struct, frozen=True):
    """A purchase the till reported: what it earned, and its refund"""

    reference: str
    amount: Annotated[str, Meta(description='As a decimal string, e.g. "12.50"')]
    currency: str
    stamps: Annotated[Count, Meta(description="Stamps the rule gave (a promotion's extra apart)")]
    reason: Annotated[
        str | None,
        Meta(description="Why fewer or none: below_threshold or capped (null: all it was worth)"),
    ]
    message: str | None
    created_at: Time
    refunded_at: Time | None
    stamps_taken_back: Annotated[
        Count | None, Meta(description="Stamps the refund took back, a promotion's extra included")
    ]
    stamps_kept: Annotated[
        Count | None,
        Meta(description="Stamps the refund could not take back: spent on a redeemed reward"),
    ]


class PurchaseAnswer(msgspec.Struct, frozen=True):
    """A purchase or refund, and the card after it"""

    purchase: PurchaseFacts
    card: Card


def purchase_answer(
    view: CardView, bought: Purchase, earned: Earned | None = None
) -> PurchaseAnswer:
    """The purchase (with what it earned, when just applied) and the card as the API answers them."""
    return PurchaseAnswer(
        PurchaseFacts(
            reference=bought.reference,
            amount=str(bought.amount),
            currency=bought.currency,
            stamps=bought.stamps,
            reason=None if earned is None else earned.reason,
            message=None if earned is None else earned.message,
            created_at=bought.created_at.isoformat(),
            refunded_at=_iso(bought.refunded_at),
            stamps_taken_back=bought.stamps_taken_back,
            stamps_kept=bought.stamps_kept,
        ),
        card_answer(view),
    )


class Deliveries(msgspec.Struct, frozen=True):
    """Why a phone did or did not update: devices, push answers, fetches, device logs"""

    serial: str
    version: int
    last_fetched_at: Time | None
    pending_pushes: Count
    devices: Rows
    attempts: Rows
    device_logs: Annotated[
        Rows, Meta(description="Lines from a device that proved the card (its pass token) lately")
    ]
    unverified_device_logs: Annotated[
        Rows, Meta(description="Lines naming the card from any other sender: anyone may post them")
    ]


def deliveries_answer(view: CardView, found: Found) -> Deliveries:
    """What we know of getting the card's updates onto phones (device logs from senders that
    never proved the card kept apart: anyone may post them)."""
    return Deliveries(
        serial=view.card.serial,
        version=view.card.version,
        last_fetched_at=_iso(view.card.last_fetched_at),
        pending_pushes=found.pending,
        devices=found.devices,
        attempts=found.attempts,
        device_logs=found.logs,
        unverified_device_logs=found.unverified_logs,
    )


def deliveries_json(view: CardView, found: Found) -> dict[str, Any]:
    """The deliveries as plain JSON values (the CLI prints these)."""
    shown: dict[str, Any] = msgspec.to_builtins(
        deliveries_answer(view, found), builtin_types=(datetime,)
    )
    return shown


class GoogleReach(msgspec.Struct, frozen=True):
    """Preview only: recipients in Google Wallet that Google will notify, and those updated
    silently (their pass had Google's 3 notifications in the last 24 hours)"""

    notified: Count
    silent: Count


class Audience(msgspec.Struct, frozen=True, omit_defaults=True):
    """Counts only: who gets the message, who is held out, who is at the weekly limit"""

    recipients: Count
    held_out: Count
    over_limit: Count
    campaign: int | None = None
    google: GoogleReach | None = None


def audience_answer(
    chosen: campaign_rules.Audience, campaign: int | None = None, google: GoogleReach | None = None
) -> Audience:
    """The audience of a campaign (sent) or of a preview (with its Google reach)."""
    return Audience(
        len(chosen.recipients), len(chosen.held_out), len(chosen.over_limit), campaign, google
    )


class Campaigns(msgspec.Struct, frozen=True):
    """Campaigns, newest first, with their delivery figures"""

    campaigns: Rows


class PersonalData(msgspec.Struct, frozen=True):
    """The holder's personal data, or null (cards are anonymous unless they consented)"""

    serial: str
    personal_data: dict[str, Any] | None


class Erased(msgspec.Struct, frozen=True):
    """Whether anything was erased; the anonymous ledger stays"""

    serial: str
    erased: bool


class Wallets(msgspec.Struct, frozen=True):
    """Passes added to each wallet"""

    apple: Count
    google: Count


class Day(msgspec.Struct, frozen=True):
    """One UTC day's stamps"""

    date: Annotated[str, Meta(extra_json_schema={"format": "date"})]
    stamps: Annotated[int, Meta(ge=0, description="Stamps given at the counter (undos netted out)")]
    bonus: Annotated[int, Meta(ge=0, description="Bonus stamps given that day, counted apart")]


Rate = float | None


class Success(msgspec.Struct, frozen=True, omit_defaults=True):
    """Redemption rate, visits per active card, returning rate, campaign response against the
    hold-out, and (with reward_cost and basket) a cost estimate"""

    redemption_rate: Rate
    visits_per_active_card: Annotated[
        Rate,
        Meta(
            description="Stamping occasions in the window (one stamp request, whatever its "
            "count; bonus stamps are no visit) per active card"
        ),
    ]
    returning_customer_rate: Rate
    repeat_visits: int
    campaigns: Rows
    estimate: dict[str, Any] | None = None


class BranchFigures(msgspec.Struct, frozen=True):
    """One branch's part of the window: every branch of the shop, then removed branches the
    ledger still names, then the changes made without a branch (branch null)"""

    branch: Annotated[int | None, Meta(description="The branch's id; null: no branch")]
    name: Annotated[
        str | None,
        Meta(description="Its name (its address when unnamed); null: no branch or removed"),
    ]
    removed: Annotated[bool, Meta(description="The branch was removed; its changes stay")]
    stamps: Annotated[int, Meta(description="Stamps given at the counter, undos netted out")]
    rewards_redeemed: Count


class Stats(msgspec.Struct, frozen=True):
    """The shop's figures (UTC days), as the owner dashboard shows them"""

    branch: Annotated[
        int | None,
        Meta(
            description="The branch asked for (?branch=): the ledger's figures (stamps, "
            "rewards, active and returning cards, stamps_per_day) are its own, cards_issued "
            "and wallets the whole shop's; null: the whole shop"
        ),
    ]
    branches: Annotated[
        list[BranchFigures],
        Meta(description="Stamps and rewards redeemed in the window, branch by branch"),
    ]
    window_days: Annotated[int, Meta(description="Days the recent figures cover")]
    cards_issued: Annotated[int, Meta(ge=0, description="Cards issued (the whole shop)")]
    active_cards: Annotated[
        int, Meta(ge=0, description="Cards stamped or redeemed within the window")
    ]
    returning_customers: Annotated[
        int, Meta(ge=0, description="Cards stamped on two or more days within the window")
    ]
    stamps_total: Annotated[
        int, Meta(ge=0, description="All stamps cards gained, bonus stamps included")
    ]
    bonus_stamps_total: Annotated[
        int,
        Meta(
            ge=0,
            description="Of stamps_total: bonus stamps (welcome, referral, promotion, "
            "long-standing, campaign), less those taken back",
        ),
    ]
    rewards_redeemed: Count
    rewards_redeemed_recently: Count
    wallets: Annotated[Wallets, Meta(description="Passes in each wallet (the whole shop)")]
    stamps_per_day: list[Day]
    success: Success


def stats_answer(figures: dict[str, Any], success: dict[str, Any]) -> Stats:
    """The figures (passes/stats.py) checked against their shape, so the two cannot drift."""
    return msgspec.convert({**figures, "success": success}, Stats)


RESPONSES: tuple[type[msgspec.Struct], ...] = (
    Error,
    Card,
    PurchaseAnswer,
    Deliveries,
    Audience,
    Campaigns,
    PersonalData,
    Erased,
    Stats,
)
