"""registrations remember when the device last renewed them (an APNs 410 names a moment)

Revision ID: 0017
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("apple_registrations") as batch:
        batch.add_column(sa.Column("renewed_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE apple_registrations SET renewed_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("apple_registrations") as batch:
        batch.drop_column("renewed_at")
