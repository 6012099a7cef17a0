"""card designer: each shop's own logo, and the symbol its stamps are drawn with

The logo is kept as we re-encoded it (a PNG, at most 1024 px a side), one row per upload
and shop, found by its SHA-256: the program names the one in use, so a pass read carries
the digest without the picture, and a new logo moves every pass (store/refresh.py).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("programs") as batch:
        batch.add_column(
            sa.Column("stamp_symbol", sa.String(16), nullable=False, server_default="check")
        )
        batch.add_column(sa.Column("logo_digest", sa.String(64)))
    op.create_table(
        "shop_logos",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "shop_id",
            Id,
            sa.ForeignKey("shops.id", ondelete="CASCADE", name="fk_shop_logos_shop_id_shops"),
            nullable=False,
        ),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shop_logos"),
        sa.UniqueConstraint("shop_id", "digest", name="uq_shop_logos_shop_digest"),
    )
    op.create_index("ix_shop_logos_digest", "shop_logos", ["digest"])


def downgrade() -> None:
    op.drop_index("ix_shop_logos_digest", table_name="shop_logos")
    op.drop_table("shop_logos")
    with op.batch_alter_table("programs") as batch:
        batch.drop_column("logo_digest")
        batch.drop_column("stamp_symbol")
