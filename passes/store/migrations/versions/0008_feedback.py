"""feedback: one-question answers after a redemption

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("shop_id", Id, nullable=False),
        sa.Column("card_id", Id, nullable=False),
        sa.Column("redemption", sa.Integer(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(500)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_feedback_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_feedback_card_id_cards"), ondelete="CASCADE"
        ),
        sa.UniqueConstraint("card_id", "redemption", name="uq_feedback_card_redemption"),
    )
    op.create_index("ix_feedback_shop_created", "feedback", ["shop_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_shop_created", table_name="feedback")
    op.drop_table("feedback")
