"""campaigns: program limits, pass news, campaign members

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("programs") as batch:
        batch.add_column(sa.Column("daily_cap", sa.Integer()))
        batch.add_column(
            sa.Column("welcome_stamps", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("messages_per_week", sa.Integer(), nullable=False, server_default="2")
        )
        batch.add_column(
            sa.Column("holdout_percent", sa.Integer(), nullable=False, server_default="10")
        )
    with op.batch_alter_table("cards") as batch:
        batch.add_column(sa.Column("news", sa.String(200)))
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("held_out", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("over_limit", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True)))
    op.create_table(
        "campaign_members",
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("card_id", Id, nullable=False),
        sa.Column("held_out", sa.Boolean(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_members_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["cards.id"],
            name=op.f("fk_campaign_members_card_id_cards"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "card_id", name=op.f("pk_campaign_members")),
    )
    op.create_index("ix_campaign_members_pending", "campaign_members", ["campaign_id", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_campaign_members_pending", table_name="campaign_members")
    op.drop_table("campaign_members")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("finished_at")
        batch.drop_column("over_limit")
        batch.drop_column("held_out")
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("news")
    with op.batch_alter_table("programs") as batch:
        for name in ("holdout_percent", "messages_per_week", "welcome_stamps", "daily_cap"):
            batch.drop_column(name)
