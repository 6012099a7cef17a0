"""The outgoing webhooks' tables (migration 0022; its triggers fill webhook_outbox)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from passes.store.schema import Id, UtcDateTime, metadata

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    # Kept as given: signing needs the secret itself (Standard Webhooks' HMAC).
    Column("secret", String(100), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("failing_since", UtcDateTime()),
    Column("paused_at", UtcDateTime()),
    Column("paused_reason", Text),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column(
        "endpoint_id",
        Id,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("event_type", String(32), primary_key=True),
    Column("shop_id", Id, nullable=False),
    Index("ix_webhook_subscriptions_shop_id", "shop_id", "event_type"),
)

webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "endpoint_id", Id, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    ),
    Column("card_id", Id),
    Column("event_id", Id),
    Column("campaign_id", Id),
    # Orders the messages of one ledger event (its own type, then reward.earned).
    Column("seq", Integer, nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False, index=True),
    Column("claimed_until", UtcDateTime()),
    Column("attempts", Integer, nullable=False),
    Index("ix_webhook_outbox_card", "endpoint_id", "card_id", "event_id", "seq"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "endpoint_id", Id, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    ),
    Column("message_id", String(40), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("status", Integer),
    Column("error", String(200)),
    Column("answer_ms", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_webhook_attempts_endpoint_id", "endpoint_id", "id"),
)
