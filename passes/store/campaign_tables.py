"""The campaigns' tables: a campaign (a message, maybe a promotion) and its members."""

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from passes.store.schema import Id, UtcDateTime, created, metadata

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
    Column("text", Text, nullable=False),
    Column("segment", String(32), nullable=False),
    Column("recipients", Integer, nullable=False, default=0),
    created(),
    Column("held_out", Integer, nullable=False, server_default="0"),
    Column("over_limit", Integer, nullable=False, server_default="0"),
    Column("finished_at", UtcDateTime()),
    # Scheduled campaigns wait until then; NULL sends at once.
    Column("send_at", UtcDateTime()),
    # When the segment was taken (members chosen); a scheduled campaign's at its send time.
    Column("resolved_at", UtcDateTime()),
    # A promotion: stamps on member cards count `multiplier` times from starts_at to ends_at.
    Column("multiplier", Integer),
    Column("starts_at", UtcDateTime()),
    Column("ends_at", UtcDateTime()),
)

campaign_members = Table(
    "campaign_members",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True),
    # Held-out members get nothing: they are the comparison group for the campaign's effect.
    Column("held_out", Boolean, nullable=False),
    Column("sent_at", UtcDateTime()),
    Index("ix_campaign_members_pending", "campaign_id", "sent_at"),
)
