"""The shops' people: staff accounts with their own PINs and roles, and what each stamped a day
(for the per-person daily volume and the review list)."""

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Table, text

from passes.store.schema import Id, UtcDateTime, created, metadata

staff_members = Table(
    "staff_members",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(80), nullable=False),
    # The name case-folded: one "Ana" per shop, whatever the typing at sign-in.
    Column("name_key", String(80), nullable=False),
    Column("pin_hash", String(200), nullable=False),
    # "staff" (stamp, redeem, undo) or "manager" (also rules, figures, people).
    Column("role", String(8), nullable=False),
    Column("branch_id", Id, ForeignKey("shop_locations.id", ondelete="SET NULL")),
    created(),
    # Removed people stay, so the ledger keeps naming who stamped; they cannot sign in.
    Column("removed_at", UtcDateTime()),
    Index(
        "ix_staff_members_shop_name",
        "shop_id",
        "name_key",
        unique=True,
        sqlite_where=text("removed_at IS NULL"),
        postgresql_where=text("removed_at IS NULL"),
    ),
)

staff_days = Table(
    "staff_days",
    metadata,
    Column("staff_id", Id, ForeignKey("staff_members.id", ondelete="CASCADE"), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
    Column("stamps", Integer, nullable=False),
    Index("ix_staff_days_shop_day", "shop_id", "day"),
)
