"""hot card updates: nothing a stamp changes is indexed, and no shop row is locked per stamp

A stamp rewrites the card's counters, version and times. The index on (shop_id, updated_at)
made every such update a non-HOT one on PostgreSQL: a new entry in each of the card's
indexes and a dead row left behind per stamp, so lookups of a busy card slowed as it was
stamped. Nothing sorts cards by updated_at, so the index becomes (shop_id) alone, and the
cards table leaves room on each page for updated rows to stay on it.

Each ledger row also checked its shop_id against shops, taking a share lock on the shop's
row: with many stamps at once, every one of them locked the same row. The card already
belongs to the shop (and deleting a shop deletes its cards and with them their events),
so the event's own link to the shop is dropped; the column stays for per-shop queries.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_cards_shop_updated", table_name="cards")
    op.create_index("ix_cards_shop", "cards", ["shop_id"])
    with op.batch_alter_table("card_events") as batch:
        batch.drop_constraint("fk_card_events_shop_id_shops", type_="foreignkey")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE cards SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE cards RESET (fillfactor)")
    with op.batch_alter_table("card_events") as batch:
        batch.create_foreign_key(
            "fk_card_events_shop_id_shops", "shops", ["shop_id"], ["id"], ondelete="CASCADE"
        )
    op.drop_index("ix_cards_shop", table_name="cards")
    op.create_index("ix_cards_shop_updated", "cards", ["shop_id", "updated_at"])
