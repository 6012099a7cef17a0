"""What the shop API answers about webhook endpoints: their shapes and how they are made.

Split from passes/answers.py (which holds the card, purchase and campaign answers); the
OpenAPI document (passes/openapi.py) describes both modules' RESPONSES.
"""

from __future__ import annotations

import msgspec

from passes.answers import Count, Time
from passes.store.webhooks import EndpointRow


class WebhookAttempt(msgspec.Struct, frozen=True):
    """One try to deliver a message: the receiver's status (null: no answer) and answer time"""

    message_id: str
    type: str
    status: int | None
    error: str | None
    answer_ms: Count
    at: Time


class Webhook(msgspec.Struct, frozen=True):
    """A webhook endpoint (its secret is only shown when it is made)"""

    id: int
    url: str
    events: list[str]
    created_at: Time
    paused: bool
    paused_reason: str | None
    pending: Count
    attempts: list[WebhookAttempt]


class NewWebhookAnswer(msgspec.Struct, frozen=True):
    """The new endpoint and its signing secret, shown this once"""

    id: int
    url: str
    events: list[str]
    secret: str


class Webhooks(msgspec.Struct, frozen=True):
    """The shop's webhook endpoints, oldest first, with their last attempts, newest first"""

    webhooks: list[Webhook]


def webhook_answer(endpoint: EndpointRow) -> Webhook:
    """An endpoint as the API shows it."""
    return Webhook(
        endpoint.id,
        endpoint.url,
        list(endpoint.events),
        endpoint.created_at.isoformat(),
        endpoint.paused_reason is not None,
        endpoint.paused_reason,
        endpoint.pending,
        [
            WebhookAttempt(
                a.message_id, a.event_type, a.status, a.error, a.answer_ms, a.at.isoformat()
            )
            for a in endpoint.attempts
        ],
    )


RESPONSES: tuple[type[msgspec.Struct], ...] = (Webhooks, NewWebhookAnswer)
