"""reach: stamp promotions, segments taken when sent, long-standing customers

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("multiplier", sa.Integer()))
        batch.add_column(sa.Column("starts_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("ends_at", sa.DateTime(timezone=True)))
    # Campaigns made before this revision took their segment when created.
    op.execute("UPDATE campaigns SET resolved_at = created_at")
    with op.batch_alter_table("programs") as batch:
        batch.add_column(
            sa.Column("loyal_after_cards", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("loyal_after_months", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("loyal_bonus_stamps", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("loyal_perk", sa.String(100)))
    with op.batch_alter_table("cards") as batch:
        batch.add_column(sa.Column("loyal_since", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("loyal_since")
    with op.batch_alter_table("programs") as batch:
        for name in ("loyal_perk", "loyal_bonus_stamps", "loyal_after_months", "loyal_after_cards"):
            batch.drop_column(name)
    with op.batch_alter_table("campaigns") as batch:
        for name in ("ends_at", "starts_at", "multiplier", "resolved_at"):
            batch.drop_column(name)
