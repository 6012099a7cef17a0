"""The wallets' tables: Apple devices and registrations, Google objects, the push outbox."""

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, false

from passes.store.schema import Id, UtcDateTime, created, metadata

apple_devices = Table(
    "apple_devices",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("library_id", String(128), nullable=False, unique=True),
    Column("push_token", String(256), nullable=False),
    created(),
)

apple_registrations = Table(
    "apple_registrations",
    metadata,
    Column("device_id", Id, ForeignKey("apple_devices.id", ondelete="CASCADE"), primary_key=True),
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True),
    created(),
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
    created(),
    Column("updated_at", UtcDateTime(), nullable=False),
    # The card version whose notice (passes/notices.py) Google was last asked about: a newer
    # notice may notify the phone, once.
    Column("notified_version", Integer, nullable=False, server_default="0"),
    # When the object's notifying calls of the last 24 h were sent (Google allows 3): epoch
    # seconds, comma-separated; workers change it by compare-and-set (store/google.py).
    Column("notify_times", Text, nullable=False, server_default=""),
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
    created(),
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
    created(),
    Index("ix_push_attempts_card", "card_id", "id"),
)

device_logs = Table(
    "device_logs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("card_id", Id, ForeignKey("cards.id", ondelete="CASCADE")),
    Column("message", String(500), nullable=False),
    created(),
    # True when the sender had proved the card (its ApplePass token) from the same address.
    Column("verified", Boolean, nullable=False, server_default=false()),
    Index("ix_device_logs_card", "card_id", "id"),
)

# Google retries callbacks: a nonce seen before is answered but not applied twice.
google_callback_nonces = Table(
    "google_callback_nonces",
    metadata,
    Column("nonce", String(200), primary_key=True),
    created(),
    Index("ix_google_callback_nonces_created", "created_at"),
)
