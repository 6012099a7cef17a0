"""Queries about shops, their programs and API keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from passes import loyalty
from passes.errors import Conflict, NotFound
from passes.store.tables import api_keys, cards, programs, shops


@dataclass(frozen=True)
class ProgramRow:
    """A shop's program as stored."""

    id: int
    stamps_required: int
    reward: str
    background_color: str
    foreground_color: str
    label_color: str
    stamp_color: str
    daily_cap: int | None = None
    welcome_stamps: int = 0
    messages_per_week: int = 2
    holdout_percent: int = 10
    referral_bonus: int = 1
    loyal_after_cards: int = 0
    loyal_after_months: int = 0
    loyal_bonus_stamps: int = 0
    loyal_perk: str | None = None
    # Intermediate rewards (stamp count, reward), ascending; expiry in days (None: never).
    tiers: tuple[tuple[int, str], ...] = ()
    stamp_expiry_days: int | None = None
    reward_expiry_days: int | None = None
    # The card designer: what the strip's stamps show, and the shop's logo (None: default).
    stamp_symbol: str = "check"
    logo_digest: str | None = None
    # Birthdays (birthday_rules): bonus stamps once a year (0: none), from so many days before;
    # gift "reward" gives the stamps missing to the card's next reward instead.
    birthday_bonus_stamps: int = 0
    birthday_days_before: int = 0
    birthday_gift: str = "stamps"
    # Fraud controls (fraud_rules): minutes between two stamps on a card, a person's stamps a
    # day (None: no limit of either), and the stamps a card may get a day before the
    # dashboard's review list shows it.
    stamp_cooldown_minutes: int | None = None
    staff_daily_stamps: int | None = None
    review_card_stamps: int = 5

    @property
    def gives_birthday(self) -> bool:
        """Whether the shop gives a birthday gift at all."""
        return self.birthday_gift == "reward" or self.birthday_bonus_stamps > 0

    def rules(self) -> loyalty.Program:
        """The program as the (pure) loyalty rules see it."""
        return self._rules

    @cached_property
    def _rules(self) -> loyalty.Program:
        # Built once per row: every stamp asks, and equal rows are one (pass_reads.ShopParts).
        return loyalty.Program(
            self.stamps_required,
            self.reward,
            tuple(loyalty.Tier(at, reward) for at, reward in self.tiers),
            self.stamp_expiry_days,
            self.reward_expiry_days,
        )

    @property
    def tier_stamps(self) -> tuple[int, ...]:
        """The stamp counts of the tiers (marked on the strip)."""
        return tuple(at for at, _ in self.tiers)


def encode_tiers(tiers: tuple[tuple[int, str], ...]) -> str | None:
    """Tiers as stored: JSON, or NULL for none."""
    return json.dumps([list(tier) for tier in tiers], ensure_ascii=False) if tiers else None


def decode_tiers(stored: str | None) -> tuple[tuple[int, str], ...]:
    """Stored tiers back as (stamp count, reward) pairs."""
    return tuple((int(at), str(reward)) for at, reward in json.loads(stored)) if stored else ()


@dataclass(frozen=True)
class ShopRow:
    """A shop with its program."""

    id: int
    slug: str
    name: str
    program: ProgramRow


_SHOP_COLUMNS = (
    shops.c.id,
    shops.c.slug,
    shops.c.name,
    programs.c.id.label("program_id"),
    programs.c.stamps_required,
    programs.c.reward,
    programs.c.background_color,
    programs.c.foreground_color,
    programs.c.label_color,
    programs.c.stamp_color,
    programs.c.daily_cap,
    programs.c.welcome_stamps,
    programs.c.messages_per_week,
    programs.c.holdout_percent,
    programs.c.referral_bonus,
    programs.c.loyal_after_cards,
    programs.c.loyal_after_months,
    programs.c.loyal_bonus_stamps,
    programs.c.loyal_perk,
    programs.c.tiers,
    programs.c.stamp_expiry_days,
    programs.c.reward_expiry_days,
    programs.c.stamp_symbol,
    programs.c.logo_digest,
    programs.c.birthday_bonus_stamps,
    programs.c.birthday_days_before,
    programs.c.birthday_gift,
    programs.c.stamp_cooldown_minutes,
    programs.c.staff_daily_stamps,
    programs.c.review_card_stamps,
)


def _shop(row: Mapping[Any, Any]) -> ShopRow:
    program = ProgramRow(
        id=row["program_id"],
        stamps_required=row["stamps_required"],
        reward=row["reward"],
        background_color=row["background_color"],
        foreground_color=row["foreground_color"],
        label_color=row["label_color"],
        stamp_color=row["stamp_color"],
        daily_cap=row["daily_cap"],
        welcome_stamps=row["welcome_stamps"],
        messages_per_week=row["messages_per_week"],
        holdout_percent=row["holdout_percent"],
        referral_bonus=row["referral_bonus"],
        loyal_after_cards=row["loyal_after_cards"],
        loyal_after_months=row["loyal_after_months"],
        loyal_bonus_stamps=row["loyal_bonus_stamps"],
        loyal_perk=row["loyal_perk"],
        tiers=decode_tiers(row["tiers"]),
        stamp_expiry_days=row["stamp_expiry_days"],
        reward_expiry_days=row["reward_expiry_days"],
        stamp_symbol=row["stamp_symbol"],
        logo_digest=row["logo_digest"],
        birthday_bonus_stamps=row["birthday_bonus_stamps"],
        birthday_days_before=row["birthday_days_before"],
        birthday_gift=row["birthday_gift"],
        stamp_cooldown_minutes=row["stamp_cooldown_minutes"],
        staff_daily_stamps=row["staff_daily_stamps"],
        review_card_stamps=row["review_card_stamps"],
    )
    return ShopRow(id=row["id"], slug=row["slug"], name=row["name"], program=program)


async def insert_shop(
    conn: AsyncConnection,
    *,
    slug: str,
    name: str,
    program: dict[str, object],
    key_hash: str,
    key_prefix: str,
    now: datetime,
) -> None:
    """Create a shop with its program and first API key."""
    try:
        shop_id = (
            await conn.execute(
                insert(shops).values(slug=slug, name=name, created_at=now).returning(shops.c.id)
            )
        ).scalar_one()
    except IntegrityError as exc:
        raise Conflict(f"a shop with slug {slug!r} exists already", "slug_taken") from exc
    await conn.execute(
        insert(programs).values(shop_id=shop_id, created_at=now, updated_at=now, **program)
    )
    await conn.execute(
        insert(api_keys).values(
            shop_id=shop_id, key_hash=key_hash, prefix=key_prefix, created_at=now
        )
    )


async def _one_shop(conn: AsyncConnection, where: ColumnElement[bool], missing: str) -> ShopRow:
    query = select(*_SHOP_COLUMNS).join(programs, programs.c.shop_id == shops.c.id)
    row = (await conn.execute(query.where(where))).mappings().first()
    if row is None:
        raise NotFound(missing)
    return _shop(row)


async def shop_by_slug(conn: AsyncConnection, slug: str) -> ShopRow:
    """The shop called `slug`, or NotFound."""
    return await _one_shop(conn, shops.c.slug == slug, f"no shop {slug!r}")


async def shop_by_id(conn: AsyncConnection, shop_id: int) -> ShopRow:
    """The shop with this id, or NotFound."""
    return await _one_shop(conn, shops.c.id == shop_id, "no such shop")


async def update_program(conn: AsyncConnection, shop_id: int, changes: dict[str, object]) -> None:
    """Change program settings (only the columns named in `changes`)."""
    await conn.execute(
        programs.update()
        .where(programs.c.shop_id == shop_id)
        .values(**changes, updated_at=datetime.now(UTC))
    )


async def rename_shop(conn: AsyncConnection, shop_id: int, name: str) -> None:
    """The name passes and pages show (the slug, in every URL, stays)."""
    await conn.execute(shops.update().where(shops.c.id == shop_id).values(name=name))


@dataclass(frozen=True)
class ShopSummary:
    """A shop as the operator's list shows it."""

    slug: str
    name: str
    cards: int


async def shop_summaries(conn: AsyncConnection) -> list[ShopSummary]:
    """Every shop with its number of cards, by slug."""
    count = (
        select(func.count())
        .select_from(cards)
        .where(cards.c.shop_id == shops.c.id)
        .scalar_subquery()
    )
    query = select(shops.c.slug, shops.c.name, count).order_by(shops.c.slug)
    return [ShopSummary(*row) for row in (await conn.execute(query)).all()]


async def expiring_programs(conn: AsyncConnection) -> list[ShopRow]:
    """Shops whose programs let stamps or rewards expire (the expiry sweep visits these)."""
    query = select(*_SHOP_COLUMNS).join(programs, programs.c.shop_id == shops.c.id)
    query = query.where(
        programs.c.stamp_expiry_days.is_not(None) | programs.c.reward_expiry_days.is_not(None)
    )
    return [_shop(row) for row in (await conn.execute(query.order_by(shops.c.id))).mappings()]


async def birthday_programs(conn: AsyncConnection) -> list[ShopRow]:
    """Shops that give a birthday gift (the birthday job visits these)."""
    query = select(*_SHOP_COLUMNS).join(programs, programs.c.shop_id == shops.c.id)
    query = query.where(
        (programs.c.birthday_bonus_stamps > 0) | (programs.c.birthday_gift == "reward")
    )
    return [_shop(row) for row in (await conn.execute(query.order_by(shops.c.id))).mappings()]
