"""`passes shop settings`: change the program (main reward, limits, regulars, birthdays,
reward tiers, expiry, name, colours) and print it as it is now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import click

from passes import loyalty
from passes.cli.running import clear_errors, refresh_progress, with_service
from passes.inputs import whole_number
from passes.program import ProgramChange
from passes.purchase_rules import PurchaseRule, parse_rule
from passes.service import Service
from passes.shops import ProgramChanged
from passes.stamp_symbols import SYMBOLS
from passes.store.shops import ShopRow


@dataclass(frozen=True)
class Requested:
    """The options `shop settings` was given: None (or False) leaves a setting as it is."""

    daily_cap: int | None
    no_daily_cap: bool
    messages_per_week: int | None
    holdout: int | None
    welcome: int | None
    loyal_after_cards: int | None
    loyal_after_months: int | None
    loyal_bonus: int | None
    loyal_perk: str | None
    tiers: tuple[str, ...]
    no_tiers: bool
    stamp_expiry: int | None
    no_stamp_expiry: bool
    reward_expiry: int | None
    no_reward_expiry: bool
    name: str | None
    stamps: int | None
    reward: str | None
    background: str | None
    foreground: str | None
    label: str | None
    stamp_colour: str | None
    stamp_symbol: str | None
    birthday_bonus: int | None
    birthday_reward: bool
    birthday_days_before: int | None
    purchase_rule: str | None
    no_purchase_rule: bool
    stamp_cooldown: int | None
    no_stamp_cooldown: bool
    staff_daily_stamps: int | None
    no_staff_daily_stamps: bool
    review_card_stamps: int | None

    def new_purchase_rule(self) -> PurchaseRule | Literal["keep"] | None:
        """The purchase rule to set, None to remove it, "keep" when not asked to change it."""
        if self.no_purchase_rule:
            return None
        if self.purchase_rule is None:
            return "keep"
        try:
            return parse_rule(self.purchase_rule)
        except loyalty.Refused as exc:
            raise click.BadParameter(str(exc), param_hint="--purchase-rule") from None

    def change(self) -> ProgramChange:
        """The change to make; BadParameter for a tier written wrong."""
        return ProgramChange(
            limits=self.limits(),
            standing=self.standing(),
            birthday=self.birthday(),
            birthday_gift=self.birthday_gift(),
            perk=self.loyal_perk,
            tiers=self.new_tiers(),
            name=self.name,
            colours=self.colours(),
            stamps_required=self.stamps,
            reward=self.reward,
            symbol=self.stamp_symbol,
        )

    def limits(self) -> dict[str, int | None]:
        """The limits and expiry by column, in the order the program checks them (it names
        the first it refuses); a --no-... flag clears its limit (None)."""
        given = (
            ("stamp_expiry_days", self.stamp_expiry, self.no_stamp_expiry),
            ("reward_expiry_days", self.reward_expiry, self.no_reward_expiry),
            ("daily_cap", self.daily_cap, self.no_daily_cap),
            ("messages_per_week", self.messages_per_week, False),
            ("holdout_percent", self.holdout, False),
            ("welcome_stamps", self.welcome, False),
            ("stamp_cooldown_minutes", self.stamp_cooldown, self.no_stamp_cooldown),
            ("staff_daily_stamps", self.staff_daily_stamps, self.no_staff_daily_stamps),
            ("review_card_stamps", self.review_card_stamps, False),
        )
        return {
            column: None if cleared else value
            for column, value, cleared in given
            if cleared or value is not None
        }

    def standing(self) -> dict[str, int]:
        """When a card becomes a regular, and its bonus, by column."""
        given = (
            ("loyal_after_cards", self.loyal_after_cards),
            ("loyal_after_months", self.loyal_after_months),
            ("loyal_bonus_stamps", self.loyal_bonus),
        )
        return {column: value for column, value in given if value is not None}

    def birthday(self) -> dict[str, int]:
        """The birthday bonus and how many days before the birthday it comes, by column."""
        given = (
            ("birthday_bonus_stamps", self.birthday_bonus),
            ("birthday_days_before", self.birthday_days_before),
        )
        return {column: value for column, value in given if value is not None}

    def birthday_gift(self) -> str | None:
        """The birthday gift: the next reward with --birthday-reward, bonus stamps again with
        --birthday-bonus, else as it is."""
        if self.birthday_reward and self.birthday_bonus is not None:
            raise click.BadParameter(
                "give either bonus stamps or the next reward", param_hint="--birthday-reward"
            )
        if self.birthday_reward:
            return "reward"
        return None if self.birthday_bonus is None else "stamps"

    def new_tiers(self) -> list[tuple[int, str]] | None:
        """The intermediate rewards that replace all of them ([] removes them), or None."""
        if self.no_tiers:
            return []
        return [parse_tier(tier) for tier in self.tiers] if self.tiers else None

    def colours(self) -> dict[str, str]:
        """The pass's colours given, by column."""
        given = (
            ("background_color", self.background),
            ("foreground_color", self.foreground),
            ("label_color", self.label),
            ("stamp_color", self.stamp_colour),
        )
        return {column: value for column, value in given if value is not None}


def parse_tier(raw: str) -> tuple[int, str]:
    """'5=1 Cookie' as (5, "1 Cookie")."""
    at, sep, reward = raw.partition("=")
    stamps = whole_number(at.strip(), 9)
    if not sep or stamps is None or not reward.strip():
        raise click.BadParameter(f'{raw!r}: write a tier as 5="1 Cookie"', param_hint="--tier")
    return stamps, reward.strip()


@click.command("settings")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@click.option("--daily-cap", type=int, help="Most stamps per card and day (anti-fraud).")
@click.option("--no-daily-cap", is_flag=True, help="Remove the daily cap.")
@click.option("--messages-per-week", type=int, help="Most campaign messages per card and week.")
@click.option("--holdout", type=int, help="Percent of a segment held out of campaigns.")
@click.option("--welcome", type=int, help="Bonus stamps on joining (0 to 3).")
@click.option(
    "--loyal-after-cards", type=int, help="A regular after N full cards (rewards earned; 0 off)."
)
@click.option("--loyal-after-months", type=int, help="A regular N months after joining (0 off).")
@click.option("--loyal-bonus", type=int, help="Bonus stamps, once, when a card becomes a regular.")
@click.option("--loyal-perk", help='A regular\'s standing perk on the pass ("" removes it).')
@click.option(
    "--tier",
    "tiers",
    multiple=True,
    metavar='AT="REWARD"',
    help='An intermediate reward, e.g. --tier 5="1 Cookie" (repeat; replaces all tiers).',
)
@click.option("--no-tiers", is_flag=True, help="Remove the intermediate rewards.")
@click.option(
    "--stamp-expiry", type=int, help="Stamps expire after this many days without a visit."
)
@click.option("--no-stamp-expiry", is_flag=True, help="Stamps never expire.")
@click.option("--reward-expiry", type=int, help="A due reward expires after this many days.")
@click.option("--no-reward-expiry", is_flag=True, help="Rewards never expire.")
@click.option("--name", help="The shop's name on passes and pages (the slug stays).")
@click.option(
    "--stamps",
    type=int,
    help="Stamps for the main reward. Cards keep their stamps; at or past the new number, "
    "the reward is due at once.",
)
@click.option("--reward", help='The main reward, e.g. "1 Vita Mix gratis".')
@click.option("--background", help="The pass's background colour, e.g. '#3B2A20'.")
@click.option("--foreground", help="The pass's text colour, e.g. '#FFFFFF'.")
@click.option("--label", help="The pass's label colour, e.g. '#F2C879'.")
@click.option("--stamp-colour", help="The colour of the stamps on the strip, e.g. '#F2C879'.")
@click.option("--stamp-symbol", type=click.Choice(SYMBOLS), help="What a stamp on the strip shows.")
@click.option(
    "--birthday-bonus",
    type=int,
    help="Bonus stamps once a year on a customer's birthday, if they gave it (0 off).",
)
@click.option(
    "--birthday-reward",
    is_flag=True,
    help="The birthday gift is the card's next reward: the stamps missing to it, once a year "
    "(--birthday-bonus gives stamps again).",
)
@click.option(
    "--birthday-days-before",
    type=int,
    help="The birthday bonus may come this many days before the birthday (0 to 7).",
)
@click.option(
    "--purchase-rule",
    metavar='"per|over AMOUNT [CURRENCY]"',
    help='Stamps from the till: "per 5.00 EUR" (one per full 5 EUR) or "over 3.00 EUR" '
    "(one per purchase of at least 3 EUR); the currency defaults to EUR.",
)
@click.option("--no-purchase-rule", is_flag=True, help="Purchases earn no stamps.")
@click.option(
    "--stamp-cooldown",
    type=int,
    metavar="MINUTES",
    help="Minutes a card must wait after a stamp before the next (1 to 1440; anti-fraud).",
)
@click.option("--no-stamp-cooldown", is_flag=True, help="No wait between stamps on a card.")
@click.option(
    "--staff-daily-stamps",
    type=int,
    metavar="N",
    help="Most stamps one person may give a day (1 to 10000; anti-fraud).",
)
@click.option("--no-staff-daily-stamps", is_flag=True, help="No daily limit per person.")
@click.option(
    "--review-card-stamps",
    type=int,
    metavar="N",
    help="The dashboard's review list shows cards with more stamps than this on one day "
    "(1 to 100, default 5).",
)
@clear_errors
def shop_settings(slug: str, **options: Any) -> None:
    """Change the program's main reward, limits, reward tiers, expiry, name and colours;
    prints them.

    A change of what passes show (tiers, expiry, perk, name, colours) updates every pass
    in a wallet: the command says how many, with progress for a large shop."""
    # Click hands the options over by name; Requested holds them typed, one field each.
    requested = Requested(**options)
    change = requested.change()
    new_rule = requested.new_purchase_rule()

    async def work(service: Service) -> tuple[ProgramChanged, PurchaseRule | None]:
        found = await service.shops.shop(slug)
        if new_rule != "keep":
            await service.purchases.set_rule(found, new_rule)
        changed = await service.shops.change_program(found, change, refresh_progress())
        return changed, await service.purchases.rule(found)

    changed, rule = with_service(work)
    _print_program(changed.shop)
    click.echo(f"purchase rule:     {rule.text() if rule else 'none'}")
    if requested.stamps is not None:
        due = changed.rewards_due_now
        click.echo(
            "cards in progress: keep their stamps; at or past the new number the reward is due "
            f"at once: {due} card{'' if due == 1 else 's'} got it now"
        )
    click.echo(f"passes refreshed:  {changed.refreshed}")


def _print_program(shop: ShopRow) -> None:
    """The program's settings as they are now, one per line."""
    program = shop.program
    click.echo(f"name:              {shop.name}")
    click.echo(
        f"colours:           background {program.background_color}, "
        f"text {program.foreground_color}, labels {program.label_color}, "
        f"stamps {program.stamp_color}"
    )
    click.echo(f"stamp symbol:      {program.stamp_symbol}")
    click.echo(f"daily cap:         {program.daily_cap or 'none'}")
    click.echo(f"messages per week: {program.messages_per_week}")
    click.echo(f"hold-out:          {program.holdout_percent}%")
    click.echo(f"welcome stamps:    {program.welcome_stamps}")
    cooldown = program.stamp_cooldown_minutes
    click.echo(f"stamp cooldown:    {f'{cooldown} minutes per card' if cooldown else 'none'}")
    most = program.staff_daily_stamps
    click.echo(f"stamps per person: {f'at most {most} a day' if most else 'no limit'}")
    click.echo(f"review cards over: {program.review_card_stamps} stamps a day")
    click.echo(
        f"regulars:          after {program.loyal_after_cards or '-'} cards / "
        f"{program.loyal_after_months or '-'} months, bonus {program.loyal_bonus_stamps}, "
        f"perk {program.loyal_perk or 'none'}"
    )
    gift = program.birthday_bonus_stamps or "none"
    if program.birthday_gift == "reward":
        gift = "the next reward"
    click.echo(f"birthday bonus:    {gift}, from {program.birthday_days_before} days before")
    for at, reward in (*program.tiers, (program.stamps_required, program.reward)):
        click.echo(f"reward at {at:>2}:      {reward}")
    days = program.stamp_expiry_days
    click.echo(f"stamps expire:     {f'after {days} days without a visit' if days else 'never'}")
    days = program.reward_expiry_days
    click.echo(f"rewards expire:    {f'{days} days after they fall due' if days else 'never'}")
