"""A shop's program as the owner changes it: what may be set, checked as a whole, and which
changes every pass in a wallet must show (the service then refreshes them, store/refresh.py).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from passes import birthday_rules, bonus_rules, fraud_rules, loyalty
from passes.contrast import shortfall
from passes.errors import InvalidInput
from passes.render import parse_hex_colour
from passes.stamp_symbols import SYMBOLS
from passes.store.shops import ShopRow, encode_tiers

# Long-standing customers: what the owner may set, and the allowed range of each.
LONG_STANDING_LIMITS = {
    "loyal_after_cards": (0, bonus_rules.MAX_LOYAL_CARDS),
    "loyal_after_months": (0, bonus_rules.MAX_LOYAL_MONTHS),
    "loyal_bonus_stamps": (0, bonus_rules.MAX_LOYAL_BONUS),
}
# The birthday bonus: its stamps (0: none) and how many days before the birthday it comes.
BIRTHDAY_LIMITS = {
    "birthday_bonus_stamps": (0, birthday_rules.MAX_BONUS),
    "birthday_days_before": (0, birthday_rules.MAX_DAYS_BEFORE),
}
# What the owner may set, and the allowed range of each (daily_cap may also be None: no cap).
PROGRAM_LIMITS = {
    "daily_cap": (1, 50),
    "messages_per_week": (0, 14),
    "holdout_percent": (0, 50),
    "welcome_stamps": (0, 3),
    "stamp_expiry_days": (1, loyalty.MAX_EXPIRY_DAYS),
    "reward_expiry_days": (1, loyalty.MAX_EXPIRY_DAYS),
}
# Settings that may be None: no cap, no expiry.
OPTIONAL_LIMITS = frozenset({"daily_cap", "stamp_expiry_days", "reward_expiry_days"})
# Fraud controls (fraud_rules), set with the limits (ProgramChange.limits); the cooldown and
# the per-person limit may be None (none), the review threshold may not.
FRAUD_LIMITS = {
    "stamp_cooldown_minutes": fraud_rules.COOLDOWN_MINUTES,
    "staff_daily_stamps": fraud_rules.STAFF_DAILY_STAMPS,
    "review_card_stamps": fraud_rules.REVIEW_CARD_STAMPS,
}
OPTIONAL_FRAUD_LIMITS = frozenset({"stamp_cooldown_minutes", "staff_daily_stamps"})
# The pass's colours: background, text, labels, and the stamps drawn on the strip.
DEFAULT_COLOURS = {
    "background_color": "#3B2A20",
    "foreground_color": "#FFFFFF",
    "label_color": "#F2C879",
    "stamp_color": "#F2C879",
}
MAX_NAME = 200


class BadSetting(InvalidInput):
    """A setting the program cannot take; `name` says which (the dashboard marks that field)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class LowContrast(BadSetting):
    """A colour too close to the background to read (WCAG): `ratio` and `needed`, as x:1."""

    def __init__(self, name: str, ratio: float, needed: float) -> None:
        shown = name.removesuffix("_color").replace("foreground", "text")
        super().__init__(
            name,
            f"the {shown} colour on the background has a contrast of {ratio}:1, it needs at "
            f"least {needed}:1 to be readable: choose a lighter or darker one",
        )
        self.ratio = ratio
        self.needed = needed


class Refresh(Enum):
    """Which passes in wallets a program change must update."""

    NONE = "none"
    LOYAL = "loyal"  # only the perk changed: it shows on long-standing customers' passes
    ALL = "all"


@dataclass(frozen=True)
class ProgramChange:
    """What the owner changes at once; absent (empty, None) parts stay as they are."""

    # PROGRAM_LIMITS and FRAUD_LIMITS by name (None clears an optional one).
    limits: Mapping[str, int | None] = field(default_factory=dict)
    standing: Mapping[str, int] = field(default_factory=dict)
    birthday: Mapping[str, int] = field(default_factory=dict)
    # The birthday gift (birthday_rules.GIFTS): bonus stamps, or the card's next reward.
    birthday_gift: str | None = None
    # A long-standing customer's perk; "" removes it.
    perk: str | None = None
    # Intermediate rewards (stamp count, reward); [] removes them.
    tiers: Sequence[tuple[int, str]] | None = None
    name: str | None = None
    colours: Mapping[str, str] = field(default_factory=dict)
    # The main reward: the stamps it takes (cards in progress: loyalty.move_goal) and what it is.
    stamps_required: int | None = None
    reward: str | None = None
    # The card designer: the stamps' symbol (stamp_symbols.SYMBOLS) and the logo in use, by the
    # digest of a stored logo (passes/design.py); "" goes back to the default logo.
    symbol: str | None = None
    logo: str | None = None


def check_name(name: str) -> str:
    """The shop's name as shown on passes and pages: 1 to 200 printable characters."""
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME or not name.isprintable():
        raise BadSetting("name", f"the shop name must be 1 to {MAX_NAME} printable characters")
    return name


def check_colour(key: str, value: str) -> str:
    """A colour of the pass as stored: "#RRGGBB"."""
    if key not in DEFAULT_COLOURS:
        raise BadSetting(key, f"{key}: not a colour of the pass ({', '.join(DEFAULT_COLOURS)})")
    try:
        red, green, blue = parse_hex_colour(value.strip())
    except ValueError as exc:
        raise BadSetting(key, f"{key}: {exc}") from exc
    return f"#{red:02X}{green:02X}{blue:02X}"


def program_values(shop: ShopRow, change: ProgramChange) -> dict[str, object]:
    """The program's columns to write, every value checked; BadSetting names the first
    one refused, and then nothing is written."""
    values: dict[str, object] = {}
    for name, value in change.limits.items():
        low, high = {**PROGRAM_LIMITS, **FRAUD_LIMITS}[name]
        if value is None and name in OPTIONAL_LIMITS | OPTIONAL_FRAUD_LIMITS:
            values[name] = None
        elif isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            values[name] = value
        else:
            raise BadSetting(name, f"{name} must be {low} to {high}")
    numbers = {**LONG_STANDING_LIMITS, **BIRTHDAY_LIMITS}
    for name, number in (*change.standing.items(), *change.birthday.items()):
        low, high = numbers[name]
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            raise BadSetting(name, f"{name} must be {low} to {high}")
        values[name] = number
    if change.birthday_gift is not None:
        if change.birthday_gift not in birthday_rules.GIFTS:
            raise BadSetting("birthday_gift", "birthday_gift must be stamps or reward")
        values["birthday_gift"] = change.birthday_gift
    if change.perk is not None:
        try:
            values["loyal_perk"] = bonus_rules.check_perk(change.perk)
        except loyalty.Refused as exc:
            raise BadSetting("loyal_perk", str(exc)) from exc
    values.update(_main_reward(shop, change))
    if change.tiers is not None:
        values["tiers"] = encode_tiers(_checked_tiers(_goal(shop, change), change.tiers))
    for key, colour in change.colours.items():
        values[key] = check_colour(key, colour)
    _check_contrast(shop, values)
    return values | _design_values(change)


def _check_contrast(shop: ShopRow, values: Mapping[str, object]) -> None:
    """New colours must be readable together (an unchanged pass is left as it is)."""
    current = {key: check_colour(key, getattr(shop.program, key)) for key in DEFAULT_COLOURS}
    after = {key: str(values.get(key, colour)) for key, colour in current.items()}
    if after != current and (low := shortfall(after)) is not None:
        raise LowContrast(low.key, low.ratio, low.needed)


def _design_values(change: ProgramChange) -> dict[str, object]:
    values: dict[str, object] = {}
    if change.symbol is not None:
        if change.symbol not in SYMBOLS:
            raise BadSetting(
                "stamp_symbol", f"the stamp symbol must be one of {', '.join(SYMBOLS)}"
            )
        values["stamp_symbol"] = change.symbol
    if change.logo is not None:
        if change.logo and not (len(change.logo) == 64 and change.logo.isalnum()):
            raise BadSetting("logo", "the logo must be a stored logo's digest")
        values["logo_digest"] = change.logo or None
    return values


def _goal(shop: ShopRow, change: ProgramChange) -> int:
    """The stamps required after the change."""
    return (
        shop.program.stamps_required if change.stamps_required is None else change.stamps_required
    )


def _main_reward(shop: ShopRow, change: ProgramChange) -> dict[str, object]:
    """The main reward's columns to write: its stamps (below which every tier that stays
    must lie) and its text."""
    values: dict[str, object] = {}
    goal = change.stamps_required
    if goal is not None:
        high = loyalty.MAX_STAMPS_REQUIRED
        if isinstance(goal, bool) or not isinstance(goal, int) or not 1 <= goal <= high:
            raise BadSetting("stamps_required", f"stamps required must be 1 to {high}")
        if change.tiers is None and any(at >= goal for at in shop.program.tier_stamps):
            raise BadSetting(
                "stamps_required",
                f"the reward tiers ({', '.join(map(str, shop.program.tier_stamps))} stamps) "
                f"must lie below the {goal} stamps required: change or remove them too",
            )
        values["stamps_required"] = goal
    if change.reward is not None:
        reward = change.reward.strip()
        try:
            loyalty.Program(_goal(shop, change), reward)
        except ValueError as exc:
            raise BadSetting("reward", str(exc)) from exc
        values["reward"] = reward
    return values


def _checked_tiers(goal: int, tiers: Sequence[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    ordered = tuple(sorted((at, reward.strip()) for at, reward in tiers))
    try:
        loyalty.check_tiers(goal, [loyalty.Tier(at, r) for at, r in ordered])
    except ValueError as exc:
        raise BadSetting("tiers", str(exc)) from exc
    return ordered


def shown(shop: ShopRow) -> tuple[object, ...]:
    """What every pass of the shop shows of its program (places apart, which are rows of
    their own): its name and colours, the rewards and when things expire."""
    program = shop.program
    colours = tuple(getattr(program, key) for key in DEFAULT_COLOURS)
    rewards = (program.stamps_required, program.reward, program.tiers)
    expiry = (program.stamp_expiry_days, program.reward_expiry_days)
    return (shop.name, *colours, *rewards, *expiry, program.stamp_symbol, program.logo_digest)


def refresh_for(before: ShopRow, after: ShopRow) -> Refresh:
    """Which passes must show the change from `before` to `after`."""
    if shown(before) != shown(after):
        return Refresh.ALL
    if before.program.loyal_perk != after.program.loyal_perk:
        return Refresh.LOYAL
    return Refresh.NONE
