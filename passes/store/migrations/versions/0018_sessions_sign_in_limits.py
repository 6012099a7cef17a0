"""sessions kept in the database (logout, a new PIN and a new key end them) and sign-in
limits counted per client, per device and per shop

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("shop_id", Id, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_sessions_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_sessions")),
    )
    op.create_index("ix_sessions_shop_kind", "sessions", ["shop_id", "kind"])
    op.create_table(
        "sign_in_limits",
        sa.Column("shop_id", Id, nullable=False),
        sa.Column("bucket", sa.String(80), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("window_ends", sa.DateTime(timezone=True), nullable=False),
        sa.Column("known", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_sign_in_limits_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shop_id", "bucket", name=op.f("pk_sign_in_limits")),
    )


def downgrade() -> None:
    op.drop_table("sign_in_limits")
    op.drop_index("ix_sessions_shop_kind", table_name="sessions")
    op.drop_table("sessions")
