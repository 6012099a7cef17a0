"""The schema, one definition for SQLite and PostgreSQL (SQLAlchemy Core)."""

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps come back timezone-aware in UTC on SQLite (which drops the zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _created() -> Column[object]:
    return Column("created_at", UtcDateTime(), nullable=False)


shops = Table(
    "shops",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    _created(),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    _created(),
    Column("revoked_at", UtcDateTime()),
)

programs = Table(
    "programs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("stamps_required", Integer, nullable=False),
    Column("reward", String(200), nullable=False),
    Column("background_color", String(7), nullable=False),
    Column("foreground_color", String(7), nullable=False),
    Column("label_color", String(7), nullable=False),
    Column("stamp_color", String(7), nullable=False),
    Column("daily_cap", Integer),
    Column("welcome_stamps", Integer, nullable=False, server_default="0"),
    Column("messages_per_week", Integer, nullable=False, server_default="2"),
    Column("holdout_percent", Integer, nullable=False, server_default="10"),
    Column("referral_bonus", Integer, nullable=False, server_default="1"),
    # Intermediate rewards as JSON [[at, reward], ...]; NULL: none. Expiry in days; NULL: never.
    Column("tiers", Text),
    Column("stamp_expiry_days", Integer),
    Column("reward_expiry_days", Integer),
    _created(),
    Column("updated_at", UtcDateTime(), nullable=False),
    # Long-standing customers: after N rewards earned and/or N months (0 = not by that),
    # bonus stamps once and a standing perk shown on the pass.
    Column("loyal_after_cards", Integer, nullable=False, server_default="0"),
    Column("loyal_after_months", Integer, nullable=False, server_default="0"),
    Column("loyal_bonus_stamps", Integer, nullable=False, server_default="0"),
    Column("loyal_perk", String(100)),
    # The card designer: the stamps' symbol (stamp_symbols.SYMBOLS), the logo in use (shop_logos).
    Column("stamp_symbol", String(16), nullable=False, server_default="check"),
    Column("logo_digest", String(64)),
)

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
    _created(),
    Column("updated_at", UtcDateTime(), nullable=False),
    # When the card became long-standing (its bonus given, its perk shown); NULL: not yet.
    Column("loyal_since", UtcDateTime()),
    # The latest notice ("kind|version|value", passes/notices.py): the one field of the pass
    # that carries a change message. NULL: nothing announced yet.
    Column("notice", Text),
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
    _created(),
    # Added in 0010 (NULL on older events): which rewards were due, and what had expired.
    Column("rewards_due_after", Text),
    Column("stamps_expired_after", Integer),
    Column("rewards_expired_after", Integer),
    UniqueConstraint("card_id", "idempotency_key", name="uq_card_events_idempotency"),
    Index("ix_card_events_shop_created", "shop_id", "created_at"),
    # SQLite never hands out an id twice, so a program change can take one as its update tag
    # without an event (store/refresh.py, migration 0015).
    sqlite_autoincrement=True,
)

apple_devices = Table(
    "apple_devices",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("library_id", String(128), nullable=False, unique=True),
    Column("push_token", String(256), nullable=False),
    _created(),
)

apple_registrations = Table(
    "apple_registrations",
    metadata,
    Column("device_id", Id, ForeignKey("apple_devices.id", ondelete="CASCADE"), primary_key=True),
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True),
    _created(),
    Column("last_pushed_at", UtcDateTime()),
    # The device's latest POST of this registration: an APNs 410 drops it only if older.
    Column("renewed_at", UtcDateTime()),
    Index("ix_apple_registrations_card", "card_id"),
)

google_objects = Table(
    "google_objects",
    metadata,
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True),
    Column("object_id", String(200), nullable=False, unique=True),
    Column("saved", Boolean, nullable=False, default=False),
    _created(),
    Column("updated_at", UtcDateTime(), nullable=False),
    # The card version whose notice (passes/notices.py) Google was last asked about: a newer
    # notice may notify the phone, once.
    Column("notified_version", Integer, nullable=False, server_default="0"),
    # When the object's notifying calls of the last 24 h were sent (Google allows 3): epoch
    # seconds, comma-separated; workers change it by compare-and-set (store/google.py).
    Column("notify_times", Text, nullable=False, server_default=""),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
    Column("text", Text, nullable=False),
    Column("segment", String(32), nullable=False),
    Column("recipients", Integer, nullable=False, default=0),
    _created(),
    Column("held_out", Integer, nullable=False, server_default="0"),
    Column("over_limit", Integer, nullable=False, server_default="0"),
    Column("finished_at", UtcDateTime()),
    # Scheduled campaigns wait until then; NULL sends at once.
    Column("send_at", UtcDateTime()),
    # When the segment was taken (members chosen); a scheduled campaign's at its send time.
    Column("resolved_at", UtcDateTime()),
    # A promotion: stamps on member cards count `multiplier` times from starts_at to ends_at.
    Column("multiplier", Integer),
    Column("starts_at", UtcDateTime()),
    Column("ends_at", UtcDateTime()),
)

campaign_members = Table(
    "campaign_members",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True),
    # Held-out members get nothing: they are the comparison group for the campaign's effect.
    Column("held_out", Boolean, nullable=False),
    Column("sent_at", UtcDateTime()),
    Index("ix_campaign_members_pending", "campaign_id", "sent_at"),
)

push_outbox = Table(
    "push_outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), nullable=False),
    Column("target", String(16), nullable=False),
    Column("device_id", Id, ForeignKey("apple_devices.id", ondelete="CASCADE")),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="SET NULL")),
    Column("attempts", Integer, nullable=False, default=0),
    # NULL: waiting; in the future: claimed by a worker (a lease) or backing off.
    Column("claimed_until", UtcDateTime()),
    _created(),
    Index("ix_push_outbox_claimed", "claimed_until", "id"),
    Index("ix_push_outbox_device", "device_id"),
    Index("ix_push_outbox_card", "card_id", "target"),
)

push_attempts = Table(
    "push_attempts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), nullable=False),
    Column("target", String(16), nullable=False),
    Column("device", String(16)),
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="SET NULL")),
    Column("status", Integer),
    Column("reason", String(200)),
    Column("outcome", String(16), nullable=False),
    _created(),
    Index("ix_push_attempts_card", "card_id", "id"),
)

device_logs = Table(
    "device_logs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE")),
    Column("message", String(500), nullable=False),
    _created(),
    # True when the sender had proved the card (its ApplePass token) from the same address.
    Column("verified", Boolean, nullable=False, server_default=false()),
    Index("ix_device_logs_card", "card_id", "id"),
)

# Google retries callbacks: a nonce seen before is answered but not applied twice.
google_callback_nonces = Table(
    "google_callback_nonces",
    metadata,
    Column("nonce", String(200), primary_key=True),
    _created(),
    Index("ix_google_callback_nonces_created", "created_at"),
)

staff_pins = Table(
    "staff_pins",
    metadata,
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True),
    Column("pin_hash", String(200), nullable=False),
    # Unused since 0018: tries are counted per client in sign_in_limits.
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", UtcDateTime()),
    # Moves with every new PIN; a sign-in checked against the old one opens no session.
    Column("pin_version", Integer, nullable=False, default=1),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Staff and owner sign-ins: the cookie carries a random token, this its SHA-256, so logout,
# a new PIN (staff) and a new API key (owner) end sessions at once, in every process.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    _created(),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index("ix_sessions_shop_kind", "shop_id", "kind"),
)

# Sign-in tries counted before the PIN is checked, per bucket (a client address, a device,
# the whole shop) until `window_ends`; `known` marks a device that signed in before.
sign_in_limits = Table(
    "sign_in_limits",
    metadata,
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True),
    Column("bucket", String(80), primary_key=True),
    Column("tries", Integer, nullable=False),
    Column("window_ends", UtcDateTime(), nullable=False),
    Column("known", Boolean, nullable=False, default=False, server_default=false()),
)


shop_locations = Table(
    "shop_locations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
    Column("address", String(200), nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Index("ix_shop_locations_shop", "shop_id"),
)

# Personal data, only with the customer's consent; deleting it leaves the anonymous ledger.
card_customers = Table(
    "card_customers",
    metadata,
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(200)),
    Column("email", String(254)),
    Column("consent_at", UtcDateTime(), nullable=False),
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
    _created(),
    UniqueConstraint("card_id", "redemption", name="uq_feedback_card_redemption"),
    Index("ix_feedback_shop_created", "shop_id", "created_at"),
)

# A shop's uploaded logos, re-encoded as PNG (passes/logos.py); programs.logo_digest names
# the one in use. Public by digest: /img/logo/{digest}/... serves it.
shop_logos = Table(
    "shop_logos",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("image", LargeBinary, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    _created(),
    UniqueConstraint("shop_id", "digest", name="uq_shop_logos_shop_digest"),
    Index("ix_shop_logos_digest", "digest"),
)

# A shop's rule for stamps from the till (passes/purchase_rules.py); no row: none set.
purchase_rules = Table(
    "purchase_rules",
    metadata,
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), nullable=False),
    # Decimal strings ("5.00"): exact on both databases, never floats.
    Column("amount", String(24), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Purchases a till reported, one per card and reference: what they gave and took back.
purchases = Table(
    "purchases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, nullable=False),
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), nullable=False),
    Column("reference", String(64), nullable=False),
    Column("amount", String(24), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("stamps", Integer, nullable=False),
    # The stamp event it gave (None: it earned none).
    Column("event_id", Id, ForeignKey("card_events.id")),
    _created(),
    Column("refunded_at", UtcDateTime()),
    Column("stamps_taken_back", Integer),
    Column("stamps_kept", Integer),
    UniqueConstraint("card_id", "reference", name="uq_purchases_card_reference"),
)
