"""stamps from the till: a shop's purchase rule, and the purchases a till reported

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "purchase_rules",
        sa.Column(
            "shop_id",
            Id,
            sa.ForeignKey("shops.id", ondelete="CASCADE", name="fk_purchase_rules_shop_id_shops"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.String(24), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", name="pk_purchase_rules"),
    )
    op.create_table(
        "purchases",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("shop_id", Id, nullable=False),
        sa.Column(
            "card_id",
            Id,
            sa.ForeignKey("cards.id", ondelete="CASCADE", name="fk_purchases_card_id_cards"),
            nullable=False,
        ),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("amount", sa.String(24), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("stamps", sa.Integer(), nullable=False),
        sa.Column(
            "event_id",
            Id,
            sa.ForeignKey("card_events.id", name="fk_purchases_event_id_card_events"),
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True)),
        sa.Column("stamps_taken_back", sa.Integer()),
        sa.Column("stamps_kept", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name="pk_purchases"),
        sa.UniqueConstraint("card_id", "reference", name="uq_purchases_card_reference"),
    )


def downgrade() -> None:
    op.drop_table("purchases")
    op.drop_table("purchase_rules")
