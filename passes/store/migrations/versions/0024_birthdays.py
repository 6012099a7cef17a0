"""birthdays: a customer's birth day and month (personal data, with consent), the owner's
birthday bonus, and the year each card last had it

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("card_customers") as batch:
        batch.add_column(sa.Column("birth_day", sa.SmallInteger()))
        batch.add_column(sa.Column("birth_month", sa.SmallInteger()))
    with op.batch_alter_table("programs") as batch:
        batch.add_column(
            sa.Column("birthday_bonus_stamps", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("birthday_days_before", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("cards") as batch:
        batch.add_column(sa.Column("birthday_given_year", sa.Integer()))
    # The birthday job looks up the customers born on a few days of the year.
    op.create_index("ix_card_customers_birthday", "card_customers", ["birth_month", "birth_day"])


def downgrade() -> None:
    op.drop_index("ix_card_customers_birthday", table_name="card_customers")
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("birthday_given_year")
    with op.batch_alter_table("programs") as batch:
        batch.drop_column("birthday_days_before")
        batch.drop_column("birthday_bonus_stamps")
    with op.batch_alter_table("card_customers") as batch:
        batch.drop_column("birth_month")
        batch.drop_column("birth_day")
