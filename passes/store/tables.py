"""The schema, one definition for SQLite and PostgreSQL (SQLAlchemy Core): every table by
domain, and the metadata Alembic compares with. Queries import their tables from here."""

from passes.store.campaign_tables import campaign_members, campaigns
from passes.store.card_tables import card_customers, card_events, card_imports, cards, feedback
from passes.store.purchase_tables import purchase_rules, purchases
from passes.store.push_tables import (
    apple_devices,
    apple_registrations,
    device_logs,
    google_callback_nonces,
    google_objects,
    push_attempts,
    push_outbox,
)
from passes.store.schema import UtcDateTime, metadata
from passes.store.shop_tables import (
    api_keys,
    programs,
    sessions,
    shop_locations,
    shop_logos,
    shops,
    sign_in_limits,
    staff_pins,
)
from passes.store.staff_tables import staff_days, staff_members
from passes.store.webhook_tables import (
    webhook_attempts,
    webhook_endpoints,
    webhook_outbox,
    webhook_subscriptions,
)

__all__ = [
    "UtcDateTime",
    "api_keys",
    "apple_devices",
    "apple_registrations",
    "campaign_members",
    "campaigns",
    "card_customers",
    "card_events",
    "card_imports",
    "cards",
    "device_logs",
    "feedback",
    "google_callback_nonces",
    "google_objects",
    "metadata",
    "programs",
    "purchase_rules",
    "purchases",
    "push_attempts",
    "push_outbox",
    "sessions",
    "shop_locations",
    "shop_logos",
    "shops",
    "sign_in_limits",
    "staff_days",
    "staff_members",
    "staff_pins",
    "webhook_attempts",
    "webhook_endpoints",
    "webhook_outbox",
    "webhook_subscriptions",
]
