"""ledger undo

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("card_events") as batch:
        batch.add_column(
            sa.Column("undoes_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
        )
        batch.create_unique_constraint("uq_card_events_undoes_event_id", ["undoes_event_id"])
        batch.create_foreign_key(
            "fk_card_events_undoes_event_id_card_events", "card_events", ["undoes_event_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("card_events") as batch:
        batch.drop_constraint("fk_card_events_undoes_event_id_card_events", type_="foreignkey")
        batch.drop_constraint("uq_card_events_undoes_event_id", type_="unique")
        batch.drop_column("undoes_event_id")
