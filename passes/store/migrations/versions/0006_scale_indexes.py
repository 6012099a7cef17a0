"""scale indexes: the outbox by card

Every change looks for a push already waiting for the card (store/outbox.py ENQUEUE): without
an index on push_outbox.card_id that is a scan of the whole outbox, which is longest exactly
when deliveries fall behind (a campaign, an APNs outage). Deleting a card cascades here too.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_push_outbox_card", "push_outbox", ["card_id", "target"])


def downgrade() -> None:
    op.drop_index("ix_push_outbox_card", table_name="push_outbox")
