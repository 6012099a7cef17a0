"""outgoing webhooks: each shop's endpoints, what they subscribe to, their outbox, attempts

Every ledger event and every finished campaign is copied into the webhook outbox by a
trigger, once per endpoint subscribed to its event type, in the transaction that wrote
it: no write path can forget it, none is sent for a change that rolled back, and a shop
without endpoints pays one index probe per event.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)

# The event types a ledger event announces (passes/webhook_events.py holds the same list):
# its kind's own (seq 0), and reward.earned (seq 1) when it raised the rewards due.
_KIND_TYPE = """CASE NEW.kind WHEN 'issue' THEN 'card.created' WHEN 'stamp' THEN 'card.stamped'
    WHEN 'redeem' THEN 'reward.redeemed' WHEN 'void' THEN 'card.voided'
    WHEN 'undo' THEN 'stamp.undone' END"""
_EARNED = """CASE WHEN NEW.kind <> 'undo' AND NEW.rewards_after > COALESCE((
    SELECT p.rewards_after FROM card_events p WHERE p.card_id = NEW.card_id AND p.id < NEW.id
    ORDER BY p.id DESC LIMIT 1), 0) THEN 'reward.earned' END"""
_FROM_EVENT = f"""INSERT INTO webhook_outbox
    (endpoint_id, card_id, event_id, campaign_id, seq, event_type, created_at, due_at, attempts)
    SELECT s.endpoint_id, NEW.card_id, NEW.id, NULL, t.seq, t.type, NEW.created_at,
        NEW.created_at, 0
    FROM webhook_subscriptions s
    JOIN (SELECT 0 AS seq, {_KIND_TYPE} AS type UNION ALL SELECT 1, {_EARNED}) t
        ON t.type = s.event_type
    WHERE s.shop_id = NEW.shop_id"""  # noqa: S608 (constant SQL, no input)
_FROM_CAMPAIGN = """INSERT INTO webhook_outbox
    (endpoint_id, card_id, event_id, campaign_id, seq, event_type, created_at, due_at, attempts)
    SELECT s.endpoint_id, NULL, NULL, NEW.id, 0, s.event_type, NEW.finished_at,
        NEW.finished_at, 0
    FROM webhook_subscriptions s
    WHERE s.shop_id = NEW.shop_id AND s.event_type = 'campaign.sent'"""


def _endpoint_id(table: str) -> sa.Column[int]:
    """The endpoint a row belongs to, removed with it."""
    fk = sa.ForeignKey(
        "webhook_endpoints.id", ondelete="CASCADE", name=f"fk_{table}_endpoint_id_webhook_endpoints"
    )
    return sa.Column("endpoint_id", Id, fk, nullable=False)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "shop_id",
            Id,
            sa.ForeignKey(
                "shops.id", ondelete="CASCADE", name="fk_webhook_endpoints_shop_id_shops"
            ),
            nullable=False,
        ),
        sa.Column("url", sa.Text(), nullable=False),
        # Kept as given: signing needs the secret itself (Standard Webhooks' HMAC).
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("created_at", When, nullable=False),
        # Since when every delivery failed (NULL when the last one worked).
        sa.Column("failing_since", When),
        sa.Column("paused_at", When),
        sa.Column("paused_reason", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
    )
    op.create_index("ix_webhook_endpoints_shop_id", "webhook_endpoints", ["shop_id"])
    op.create_table(
        "webhook_subscriptions",
        _endpoint_id("webhook_subscriptions"),
        sa.Column("event_type", sa.String(32), nullable=False),
        # The endpoint's shop again, so the trigger finds a shop's subscribers by one index.
        sa.Column("shop_id", Id, nullable=False),
        sa.PrimaryKeyConstraint("endpoint_id", "event_type", name="pk_webhook_subscriptions"),
    )
    op.create_index(
        "ix_webhook_subscriptions_shop_id", "webhook_subscriptions", ["shop_id", "event_type"]
    )
    op.create_table(
        "webhook_outbox",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        _endpoint_id("webhook_outbox"),
        # No foreign keys to cards and events: checking them would lock the card's row
        # once more on every stamp; an erased card's messages are sent without its data.
        sa.Column("card_id", Id),
        sa.Column("event_id", Id),
        sa.Column("campaign_id", Id),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("due_at", When, nullable=False),
        sa.Column("claimed_until", When),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_outbox"),
    )
    op.create_index(
        "ix_webhook_outbox_card", "webhook_outbox", ["endpoint_id", "card_id", "event_id", "seq"]
    )
    op.create_index("ix_webhook_outbox_due_at", "webhook_outbox", ["due_at"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        _endpoint_id("webhook_attempts"),
        sa.Column("message_id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("status", sa.Integer()),
        sa.Column("error", sa.String(200)),
        sa.Column("answer_ms", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
    )
    op.create_index("ix_webhook_attempts_endpoint_id", "webhook_attempts", ["endpoint_id", "id"])
    _create_triggers()


# (trigger, table, event, condition, body): a campaign is sent when it finishes, which an
# empty one does as it is made.
_TRIGGERS = (
    ("webhooks_on_card_event", "card_events", "INSERT", None, _FROM_EVENT),
    (
        "webhooks_on_campaign_made",
        "campaigns",
        "INSERT",
        "NEW.finished_at IS NOT NULL",
        _FROM_CAMPAIGN,
    ),
    (
        "webhooks_on_campaign",
        "campaigns",
        "UPDATE OF finished_at",
        "OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL",
        _FROM_CAMPAIGN,
    ),
)


def _create_triggers() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, table, event, condition, body in _TRIGGERS:
        if sqlite:
            when = "" if condition is None else f"WHEN {condition} "
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} {when}BEGIN {body}; END")
            continue
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body}; RETURN NULL; END $$"
        )
        when = "" if condition is None else f"WHEN ({condition}) "
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW {when}"
            f"EXECUTE FUNCTION {name}()"
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, table, *_ in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + ("" if sqlite else f" ON {table}"))
        if not sqlite:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    for table in ("webhook_attempts", "webhook_outbox", "webhook_subscriptions"):
        op.drop_table(table)
    op.drop_table("webhook_endpoints")
