"""reward tiers and expiry: tiers and expiry days on programs, due rewards listed on cards

Revision ID: 0012
Revises: 0011
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_cards = sa.table(
    "cards",
    sa.column("id", sa.Integer()),
    sa.column("program_id", sa.Integer()),
    sa.column("rewards_available", sa.Integer()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("last_visit_at", sa.DateTime(timezone=True)),
    sa.column("rewards_due", sa.Text()),
    sa.column("rewards_due_since", sa.DateTime(timezone=True)),
)
_programs = sa.table("programs", sa.column("id", sa.Integer()), sa.column("stamps_required"))
_events = sa.table(
    "card_events",
    sa.column("card_id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("programs") as batch:
        batch.add_column(sa.Column("tiers", sa.Text()))
        batch.add_column(sa.Column("stamp_expiry_days", sa.Integer()))
        batch.add_column(sa.Column("reward_expiry_days", sa.Integer()))
    with op.batch_alter_table("cards") as batch:
        batch.add_column(sa.Column("rewards_due", sa.Text()))
        batch.add_column(sa.Column("rewards_due_since", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("last_visit_at", sa.DateTime(timezone=True)))
        batch.add_column(
            sa.Column("stamps_expired", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("rewards_expired", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("card_events") as batch:
        batch.add_column(sa.Column("rewards_due_after", sa.Text()))
        batch.add_column(sa.Column("stamps_expired_after", sa.Integer()))
        batch.add_column(sa.Column("rewards_expired_after", sa.Integer()))
    _backfill()


def _backfill() -> None:
    """Existing cards: the last visit from the ledger, due rewards listed as main rewards."""
    visits = (
        sa.select(sa.func.max(_events.c.created_at))
        .where(_events.c.card_id == _cards.c.id, _events.c.kind.in_(("stamp", "redeem")))
        .scalar_subquery()
    )
    bind = op.get_bind()
    bind.execute(
        _cards.update().values(last_visit_at=sa.func.coalesce(visits, _cards.c.created_at))
    )
    owed = sa.select(_cards.c.id, _cards.c.rewards_available, _cards.c.updated_at).add_columns(
        _programs.c.stamps_required
    )
    owed = owed.join_from(_cards, _programs, _programs.c.id == _cards.c.program_id).where(
        _cards.c.rewards_available > 0
    )
    for card_id, available, updated, required in bind.execute(owed).all():
        # Their real due dates are unknown: the card's last change is the closest we have.
        since = _aware(updated).replace(microsecond=0)
        listed = ",".join([f"{required}@{int(since.timestamp())}"] * available)
        bind.execute(
            _cards.update()
            .where(_cards.c.id == card_id)
            .values(rewards_due=listed, rewards_due_since=since)
        )


def _aware(moment: datetime | str) -> datetime:
    if isinstance(moment, str):  # SQLite hands back text
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch rebuild of `cards` would trip
    # SQLite's foreign keys (the ledger and outbox point at it).
    for table, columns in (
        ("card_events", ("rewards_expired_after", "stamps_expired_after", "rewards_due_after")),
        (
            "cards",
            (
                "rewards_expired",
                "stamps_expired",
                "last_visit_at",
                "rewards_due_since",
                "rewards_due",
            ),
        ),
        ("programs", ("reward_expiry_days", "stamp_expiry_days", "tiers")),
    ):
        for column in columns:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
