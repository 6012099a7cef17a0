"""program refresh: ledger ids are never reused on SQLite, cards are found by shop in id order

A program change (tiers, expiry, name, colours) moves every card in a wallet without a
ledger event of its own. On SQLite a card's update tag is a ledger id, so the refresh takes
a ledger id that no event will ever get: with AUTOINCREMENT it bumps the table's counter in
sqlite_sequence (store/refresh.py), where a plain INTEGER PRIMARY KEY would hand the same id
to the next event. PostgreSQL ids come from a sequence already: nothing changes there.
SQLite's reflection does not see AUTOINCREMENT: a later migration that rebuilds card_events
must pass table_kwargs={"sqlite_autoincrement": True} (tests/test_refresh.py checks).

The refresh walks a shop's cards in id order, a batch at a time; the index on (shop_id)
becomes (shop_id, id), so each batch starts where the last ended instead of reading every
card of the shop again. Neither column ever changes, so stamps stay HOT updates.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_ledger(autoincrement=True)
    op.drop_index("ix_cards_shop", table_name="cards")
    op.create_index("ix_cards_shop", "cards", ["shop_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_cards_shop", table_name="cards")
    op.create_index("ix_cards_shop", "cards", ["shop_id"])
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_ledger(autoincrement=False)


def _rebuild_ledger(*, autoincrement: bool) -> None:
    """Copy the ledger into a table of the new kind (foreign keys are off meanwhile, see
    env.py), then check that every undo still names its stamp."""
    with op.batch_alter_table(
        "card_events", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass
    broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check(card_events)").first()
    if broken is not None:
        raise RuntimeError(f"card_events: a row names a missing row after the rebuild: {broken}")
