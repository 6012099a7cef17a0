"""Stamps from the till: each shop's purchase rule and the purchases its till reported."""

from sqlalchemy import Column, ForeignKey, Integer, String, Table, UniqueConstraint

from passes.store.schema import Id, UtcDateTime, created, metadata

# A shop's rule for stamps from the till (passes/purchase_rules.py); no row: none set.
purchase_rules = Table(
    "purchase_rules",
    metadata,
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), nullable=False),
    # Decimal strings ("5.00"): exact on both databases, never floats.
    Column("amount", String(24), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Purchases a till reported, one per card and reference: what they gave and took back.
purchases = Table(
    "purchases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, nullable=False),
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("amount", String(24), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("stamps", Integer, nullable=False),
    # The stamp event it gave (None: it earned none).
    Column("event_id", Id, ForeignKey("card_events.id")),
    created(),
    Column("refunded_at", UtcDateTime()),
    Column("stamps_taken_back", Integer),
    Column("stamps_kept", Integer),
    UniqueConstraint("card_id", "reference", name="uq_purchases_card_reference"),
)
