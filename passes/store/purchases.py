"""Purchases a till reported, and each shop's purchase rule: stored, found, marked refunded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.purchase_rules import PurchaseRule
from passes.store.tables import purchase_rules, purchases


@dataclass(frozen=True)
class Purchase:
    """One stored purchase: what the till said, what it gave, and its refund if any."""

    card_id: int
    reference: str
    amount: Decimal
    currency: str
    stamps: int
    event_id: int | None
    created_at: datetime
    refunded_at: datetime | None = None
    stamps_taken_back: int | None = None
    # Stamps the refund could not take back: spent on a reward already redeemed.
    stamps_kept: int | None = None


async def purchase_rule(conn: AsyncConnection, shop_id: int) -> PurchaseRule | None:
    """The shop's purchase rule (None: it set none)."""
    found = await conn.execute(select(purchase_rules).where(purchase_rules.c.shop_id == shop_id))
    row = found.mappings().first()
    if row is None:
        return None
    return PurchaseRule(row["kind"], Decimal(row["amount"]), row["currency"])


async def set_purchase_rule(
    conn: AsyncConnection, shop_id: int, rule: PurchaseRule | None, now: datetime
) -> None:
    """Replace the shop's purchase rule (None removes it)."""
    await conn.execute(delete(purchase_rules).where(purchase_rules.c.shop_id == shop_id))
    if rule is not None:
        await conn.execute(
            insert(purchase_rules).values(
                shop_id=shop_id,
                kind=rule.kind,
                amount=str(rule.amount),
                currency=rule.currency,
                updated_at=now,
            )
        )


async def find_purchase(conn: AsyncConnection, card_id: int, reference: str) -> Purchase | None:
    """The card's purchase with this reference, if the till reported it."""
    found = await conn.execute(
        select(purchases).where(purchases.c.card_id == card_id, purchases.c.reference == reference)
    )
    row = found.mappings().first()
    if row is None:
        return None
    return Purchase(
        card_id=row["card_id"],
        reference=row["reference"],
        amount=Decimal(row["amount"]),
        currency=row["currency"],
        stamps=row["stamps"],
        event_id=row["event_id"],
        created_at=row["created_at"],
        refunded_at=row["refunded_at"],
        stamps_taken_back=row["stamps_taken_back"],
        stamps_kept=row["stamps_kept"],
    )


async def record_purchase(conn: AsyncConnection, shop_id: int, purchase: Purchase) -> bool:
    """Store the purchase; False when the card already has one with its reference (a retry
    that raced this one: the caller reads that one)."""
    values = {
        "shop_id": shop_id,
        "card_id": purchase.card_id,
        "reference": purchase.reference,
        "amount": str(purchase.amount),
        "currency": purchase.currency,
        "stamps": purchase.stamps,
        "event_id": purchase.event_id,
        "created_at": purchase.created_at,
    }
    try:
        async with conn.begin_nested():
            await conn.execute(insert(purchases).values(**values))
    except IntegrityError:
        return False
    return True


async def mark_refunded(
    conn: AsyncConnection, card_id: int, reference: str, taken_back: int, kept: int, now: datetime
) -> None:
    """Record the refund of the card's purchase, the stamps it took back and those it kept."""
    await conn.execute(
        update(purchases)
        .where(purchases.c.card_id == card_id, purchases.c.reference == reference)
        .values(refunded_at=now, stamps_taken_back=taken_back, stamps_kept=kept)
    )
