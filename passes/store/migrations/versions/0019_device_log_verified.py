"""device log lines say whether their sender had proved the card; older lines had not

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_logs") as batch:
        batch.add_column(
            sa.Column("verified", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("device_logs") as batch:
        batch.drop_column("verified")
