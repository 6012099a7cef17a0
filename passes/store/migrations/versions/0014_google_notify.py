"""google notifications: the notice last handled per Google object and its 24-hour budget

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing objects have handled nothing and spent nothing: the next notice may notify.
    with op.batch_alter_table("google_objects") as batch:
        batch.add_column(
            sa.Column("notified_version", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("notify_times", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("google_objects") as batch:
        batch.drop_column("notify_times")
        batch.drop_column("notified_version")
