"""birthday reward: the owner's birthday gift is bonus stamps (as before) or the card's next
reward itself (birthday_rules.GIFTS)

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("programs") as batch:
        batch.add_column(
            sa.Column("birthday_gift", sa.String(8), nullable=False, server_default="stamps")
        )


def downgrade() -> None:
    with op.batch_alter_table("programs") as batch:
        batch.drop_column("birthday_gift")
