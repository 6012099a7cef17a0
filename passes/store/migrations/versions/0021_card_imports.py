"""paper cards imported: the shop's own id of each card, once per shop

`passes card import` (and the dashboard's upload) creates one card per row of a CSV file; the
row's id is kept here, so a re-run of the same file finds its cards and adds nothing.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "card_imports",
        sa.Column(
            "shop_id",
            Id,
            sa.ForeignKey("shops.id", ondelete="CASCADE", name="fk_card_imports_shop_id_shops"),
            nullable=False,
        ),
        sa.Column("row_id", sa.String(64), nullable=False),
        sa.Column(
            "card_id",
            Id,
            sa.ForeignKey("cards.id", ondelete="CASCADE", name="fk_card_imports_card_id_cards"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "row_id", name="pk_card_imports"),
    )


def downgrade() -> None:
    op.drop_table("card_imports")
