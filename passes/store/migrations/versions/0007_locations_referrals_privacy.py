"""shop locations, referrals, optional personal data

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "shop_locations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("shop_id", Id, nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_shop_locations_shop_id_shops"),
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_shop_locations_shop", "shop_locations", ["shop_id"])
    with op.batch_alter_table("programs") as batch:
        batch.add_column(
            sa.Column("referral_bonus", sa.Integer(), nullable=False, server_default="1")
        )
    with op.batch_alter_table("cards") as batch:
        batch.add_column(sa.Column("referrer_id", Id))
        batch.add_column(
            sa.Column("referral_rewarded", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "card_customers",
        sa.Column("card_id", Id, primary_key=True),
        sa.Column("name", sa.String(200)),
        sa.Column("email", sa.String(254)),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["cards.id"],
            name=op.f("fk_card_customers_card_id_cards"),
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("card_customers")
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("referral_rewarded")
        batch.drop_column("referrer_id")
    with op.batch_alter_table("programs") as batch:
        batch.drop_column("referral_bonus")
    op.drop_index("ix_shop_locations_shop", table_name="shop_locations")
    op.drop_table("shop_locations")
