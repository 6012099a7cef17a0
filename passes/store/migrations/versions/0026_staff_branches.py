"""staff accounts, branches and fraud controls: people with their own PINs and roles, the
locations named as branches, who and where on every ledger event and session, what each person
stamped a day, and the owner's cooldown, per-person limit and review threshold

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOT_REMOVED = sa.text("removed_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("shop_locations") as batch:
        batch.add_column(sa.Column("name", sa.String(100)))
    op.create_table(
        "staff_members",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("shop_id", Id, nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("name_key", sa.String(80), nullable=False),
        sa.Column("pin_hash", sa.String(200), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("branch_id", Id),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_staff_members_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"],
            ["shop_locations.id"],
            name=op.f("fk_staff_members_branch_id_shop_locations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
    )
    op.create_index(
        "ix_staff_members_shop_name",
        "staff_members",
        ["shop_id", "name_key"],
        unique=True,
        sqlite_where=NOT_REMOVED,
        postgresql_where=NOT_REMOVED,
    )
    op.create_table(
        "staff_days",
        sa.Column("staff_id", Id, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("shop_id", Id, nullable=False),
        sa.Column("stamps", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_days_staff_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_staff_days_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("staff_id", "day", name=op.f("pk_staff_days")),
    )
    op.create_index("ix_staff_days_shop_day", "staff_days", ["shop_id", "day"])
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("staff_id", Id))
        batch.add_column(sa.Column("branch_id", Id))
        batch.create_foreign_key(
            op.f("fk_sessions_staff_id_staff_members"),
            "staff_members",
            ["staff_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_foreign_key(
            op.f("fk_sessions_branch_id_shop_locations"),
            "shop_locations",
            ["branch_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # Nullable without a default: PostgreSQL adds these without rewriting the ledger.
    op.add_column("card_events", sa.Column("staff_id", Id))
    op.add_column("card_events", sa.Column("branch_id", Id))
    with op.batch_alter_table("programs") as batch:
        batch.add_column(sa.Column("stamp_cooldown_minutes", sa.Integer()))
        batch.add_column(sa.Column("staff_daily_stamps", sa.Integer()))
        batch.add_column(
            sa.Column("review_card_stamps", sa.Integer(), nullable=False, server_default="5")
        )


def downgrade() -> None:
    with op.batch_alter_table("programs") as batch:
        batch.drop_column("review_card_stamps")
        batch.drop_column("staff_daily_stamps")
        batch.drop_column("stamp_cooldown_minutes")
    with op.batch_alter_table("card_events") as batch:
        batch.drop_column("branch_id")
        batch.drop_column("staff_id")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_constraint(op.f("fk_sessions_branch_id_shop_locations"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_sessions_staff_id_staff_members"), type_="foreignkey")
        batch.drop_column("branch_id")
        batch.drop_column("staff_id")
    op.drop_index("ix_staff_days_shop_day", table_name="staff_days")
    op.drop_table("staff_days")
    op.drop_index("ix_staff_members_shop_name", table_name="staff_members")
    op.drop_table("staff_members")
    with op.batch_alter_table("shop_locations") as batch:
        batch.drop_column("name")
