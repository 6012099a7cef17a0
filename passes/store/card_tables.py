"""The cards' tables: the card, its ledger, the customer behind it and their feedback."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from passes.store.schema import Id, UtcDateTime, created, metadata

cards = Table(
    "cards",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("serial", String(32), nullable=False, unique=True),
    Column("auth_token", String(64), nullable=False),
    Column("page_secret", String(64), nullable=False, unique=True),
    Column("stamps", Integer, nullable=False, default=0),
    Column("rewards_available", Integer, nullable=False, default=0),
    Column("total_stamps", Integer, nullable=False, default=0),
    Column("rewards_redeemed", Integer, nullable=False, default=0),
    Column("voided", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False, default=1),
    Column("last_event_id", Id),
    # Wallets ask "what changed since tag": on SQLite (one writer at a time) the
    # ledger id, on PostgreSQL the writing transaction's id (see store/apple.py).
    Column("update_tag", BigInteger, nullable=False, default=0),
    # Whole seconds, distinct per change, for Last-Modified / If-Modified-Since.
    Column("pass_modified_at", UtcDateTime(), nullable=False),
    Column("last_fetched_at", UtcDateTime()),
    # The latest campaign message, shown on the pass (its change notifies the phone).
    Column("news", String(200)),
    # Who recommended this card (same shop); both get a bonus at its first stamp, once.
    Column("referrer_id", Id),
    Column("referral_rewarded", Boolean, nullable=False, server_default=false()),
    # Every due reward, oldest first, as "at@epoch,..." (the threshold that earned it, since when
    # due); rewards_due_since is the oldest, so the expiry sweep finds cards without decoding.
    Column("rewards_due", Text),
    Column("rewards_due_since", UtcDateTime()),
    # The last stamp or redemption: stamps expire after so long without one.
    Column("last_visit_at", UtcDateTime()),
    Column("stamps_expired", Integer, nullable=False, server_default="0"),
    Column("rewards_expired", Integer, nullable=False, server_default="0"),
    created(),
    Column("updated_at", UtcDateTime(), nullable=False),
    # When the card became long-standing (its bonus given, its perk shown); NULL: not yet.
    Column("loyal_since", UtcDateTime()),
    # The latest notice ("kind|version|value", passes/notices.py): the one field of the pass
    # that carries a change message. NULL: nothing announced yet.
    Column("notice", Text),
    # The year of the birthday whose bonus the card had last (birthday_rules); NULL: never.
    Column("birthday_given_year", Integer),
    # Nothing a stamp changes is indexed, so its update stays on the page (HOT, migration 0010);
    # with the id, a program change walks a shop's cards a batch at a time (0015).
    Index("ix_cards_shop", "shop_id", "id"),
    postgresql_with={"fillfactor": 80},
)

card_events = Table(
    "card_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), nullable=False),
    # The card's shop, for per-shop queries; no foreign key, as checking it would lock
    # the shop's row on every stamp (the card already belongs to the shop).
    Column("shop_id", Id, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("count", Integer, nullable=False, default=0),
    Column("idempotency_key", String(200)),
    Column("actor", String(100), nullable=False),
    Column("stamps_after", Integer, nullable=False),
    Column("rewards_after", Integer, nullable=False),
    Column("total_after", Integer, nullable=False),
    Column("redeemed_after", Integer, nullable=False),
    Column("version_after", Integer, nullable=False),
    # An undo names the stamp it takes back; each stamp can be undone once.
    Column("undoes_event_id", Id, ForeignKey("card_events.id"), unique=True),
    created(),
    # Added in 0010 (NULL on older events): which rewards were due, and what had expired.
    Column("rewards_due_after", Text),
    Column("stamps_expired_after", Integer),
    Column("rewards_expired_after", Integer),
    # Added in 0026: the person (staff_members.id) and the branch (shop_locations.id) behind
    # the change; NULL for the API, the CLI, the shared PIN and the shop's own rules. No
    # foreign keys: checking them would lock those rows on every stamp.
    Column("staff_id", Id),
    Column("branch_id", Id),
    UniqueConstraint("card_id", "idempotency_key", name="uq_card_events_idempotency"),
    Index("ix_card_events_shop_created", "shop_id", "created_at"),
    # SQLite never hands out an id twice, so a program change can take one as its update tag
    # without an event (store/refresh.py, migration 0015).
    sqlite_autoincrement=True,
)

# Personal data, only with the customer's consent; deleting it leaves the anonymous ledger.
card_customers = Table(
    "card_customers",
    metadata,
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(200)),
    Column("email", String(254)),
    Column("consent_at", UtcDateTime(), nullable=False),
    # Day and month only, no year: enough for a birthday bonus, erased with the rest.
    Column("birth_day", SmallInteger),
    Column("birth_month", SmallInteger),
    Index("ix_card_customers_birthday", "birth_month", "birth_day"),
)

# One answer per card and redemption: `redemption` is the card's rewards_redeemed when asked.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), nullable=False),
    Column("redemption", Integer, nullable=False),
    Column("stars", Integer, nullable=False),
    Column("text", String(500)),
    created(),
    UniqueConstraint("card_id", "redemption", name="uq_feedback_card_redemption"),
    Index("ix_feedback_shop_created", "shop_id", "created_at"),
)

# Paper cards imported (`passes card import`): the shop's own id of each, so a re-run of the
# same file adds nothing. The card's ledger says it was imported (kind `import`).
card_imports = Table(
    "card_imports",
    metadata,
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True),
    Column("row_id", String(64), primary_key=True),
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), nullable=False),
    created(),
)
