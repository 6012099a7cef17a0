"""notices: the one announcing field of a pass, per card (see passes/notices.py)

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for every existing card: nothing announced yet; the next stamp announces itself.
    with op.batch_alter_table("cards") as batch:
        batch.add_column(sa.Column("notice", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("notice")
