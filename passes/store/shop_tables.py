"""The shops' tables: the shop, its program, keys, places and logos, and who signs in."""

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from passes.store.schema import Id, UtcDateTime, created, metadata

shops = Table(
    "shops",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    created(),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("shop_id", Id, ForeignKey("shops.id", ondelete="CASCADE"), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    created(),
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
    created(),
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
    # Birthdays: bonus stamps once a year (0 = none), from so many days before the day, or
    # (gift "reward") the stamps missing to the card's next reward.
    Column("birthday_bonus_stamps", Integer, nullable=False, server_default="0"),
    Column("birthday_days_before", Integer, nullable=False, server_default="0"),
    Column("birthday_gift", String(8), nullable=False, server_default="stamps"),
    # Fraud controls (migration 0026): the least time between two stamps on one card, a
    # person's stamps a day (NULL: no limit), and the stamps a day on one card the review
    # list shows.
    Column("stamp_cooldown_minutes", Integer),
    Column("staff_daily_stamps", Integer),
    Column("review_card_stamps", Integer, nullable=False, server_default="5"),
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
    created(),
    Column("expires_at", UtcDateTime(), nullable=False),
    # Who signed in (NULL: the API key's owner or the shared PIN) and the branch the session
    # works for (a counter page's). Removing a person ends their sessions with them.
    Column("staff_id", Id, ForeignKey("staff_members.id", ondelete="CASCADE")),
    Column("branch_id", Id, ForeignKey("shop_locations.id", ondelete="SET NULL")),
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
    # A location is a branch too: its name (NULL: called by its address).
    Column("name", String(100)),
    Column("address", String(200), nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Index("ix_shop_locations_shop", "shop_id"),
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
    created(),
    UniqueConstraint("shop_id", "digest", name="uq_shop_logos_shop_digest"),
    Index("ix_shop_logos_digest", "digest"),
)
