"""google callbacks

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "google_callback_nonces",
        sa.Column("nonce", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_google_callback_nonces")),
    )
    op.create_index(
        "ix_google_callback_nonces_created",
        "google_callback_nonces",
        ["created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_google_callback_nonces_created", table_name="google_callback_nonces")
    op.drop_table("google_callback_nonces")
