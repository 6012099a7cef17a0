"""Promotions: a campaign's stamp multiplier, its window, and the cards it counts for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.bonus_rules import Promotion
from passes.store.tables import campaign_members, campaigns


@dataclass(frozen=True)
class PromotionWindow:
    """A campaign's stamp multiplier and when it applies (all None: a plain message)."""

    multiplier: int | None
    starts: datetime | None
    ends: datetime | None


async def promotions_of(conn: AsyncConnection, shop_id: int, now: datetime) -> list[Promotion]:
    """The shop's promotions that have not ended yet (two small queries)."""
    found = (
        await conn.execute(
            select(
                campaigns.c.id, campaigns.c.multiplier, campaigns.c.starts_at, campaigns.c.ends_at
            ).where(
                campaigns.c.shop_id == shop_id,
                campaigns.c.multiplier.is_not(None),
                campaigns.c.ends_at > now,
            )
        )
    ).all()
    if not found:
        return []
    members = await conn.execute(
        select(campaign_members.c.campaign_id, campaign_members.c.card_id).where(
            campaign_members.c.campaign_id.in_([row.id for row in found]),
            ~campaign_members.c.held_out,
        )
    )
    by_campaign: dict[int, set[int]] = {}
    for campaign_id, card_id in members.all():
        by_campaign.setdefault(campaign_id, set()).add(card_id)
    return [
        Promotion(
            row.id,
            row.multiplier,
            row.starts_at,
            row.ends_at,
            frozenset(by_campaign.get(row.id, ())),
        )
        for row in found
    ]
