"""staff pins

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "staff_pins",
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("pin_hash", sa.String(200), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("pin_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name="fk_staff_pins_shop_id_shops", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("shop_id", name="pk_staff_pins"),
    )


def downgrade() -> None:
    op.drop_table("staff_pins")
