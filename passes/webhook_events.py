"""Outgoing webhooks, the pure part: event types, which URLs may receive them, the bodies
sent, and how long to wait after a failure.

The database decides which messages exist (migration 0022's triggers copy each ledger event
into the webhook outbox in the change's own transaction); this shapes what is sent.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from passes.config import is_loopback_host

# The types a shop may subscribe to (the triggers in migration 0022 name the same).
EVENT_TYPES = (
    "card.created",
    "card.stamped",
    "reward.earned",
    "reward.redeemed",
    "card.voided",
    "stamp.undone",
    "campaign.sent",
)
# A failing endpoint is retried for this long, then paused until its owner resumes it.
GIVE_UP_AFTER = timedelta(hours=24)
FIRST_RETRY_SECONDS = 10.0
LONGEST_WAIT_SECONDS = 3600.0


def retry_after(attempts: int) -> timedelta:
    """Exponential back-off after the `attempts`-th failed try: 10 s, 20 s, ... 1 h at most."""
    exponent = min(max(attempts - 1, 0), 20)
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2**exponent, LONGEST_WAIT_SECONDS))


def pause_reason(answer: str) -> str:
    """Why an endpoint stopped receiving, in the owner's words."""
    hours = int(GIVE_UP_AFTER.total_seconds() // 3600)
    return f"paused after {hours} h of failures: last answer {answer}"


def url_refusal(url: str) -> str | None:
    """Why `url` cannot receive webhooks by its form alone, or None: https, or http to this
    machine only, with a host and without credentials in it."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port out of range)
    except ValueError:
        return "the URL is not valid"
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        return "the URL must start with https:// and name a host"
    if parts.username or parts.password:
        return "the URL may not carry a user name or password"
    if parts.scheme == "http" and not is_loopback_host(host):
        return "the URL must use https (http only to 127.0.0.1, ::1 or localhost)"
    return None


def address_refusal(address: str) -> str | None:
    """Why an address the URL's host stands for is not for webhooks (private, link-local,
    loopback, reserved...), or None for a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_global and not ip.is_multicast:
        return None
    return (
        f"the URL points at a private, loopback or link-local address ({ip}); "
        "the operator may allow that with PASSES_WEBHOOKS_ALLOW_PRIVATE"
    )


@dataclass(frozen=True)
class LedgerFacts:
    """What a message about a card change tells: the ledger event and the card's serial."""

    event_id: int
    serial: str | None
    kind: str
    count: int
    stamps: int
    rewards: int
    total_stamps: int
    redeemed: int
    at: datetime


@dataclass(frozen=True)
class CampaignFacts:
    """What campaign.sent tells."""

    campaign_id: int
    segment: str
    recipients: int
    at: datetime


def message_body(event_type: str, facts: LedgerFacts | CampaignFacts | None) -> dict[str, Any]:
    """The Standard Webhooks body: {"type", "timestamp", "data"}. Who made the change is
    left out (an actor names part of an API key); an erased card's message has no data."""
    if isinstance(facts, CampaignFacts):
        data: dict[str, Any] = {
            "campaign_id": facts.campaign_id,
            "segment": facts.segment,
            "recipients": facts.recipients,
        }
        return {"type": event_type, "timestamp": _iso(facts.at), "data": data}
    if facts is None:
        return {"type": event_type, "timestamp": None, "data": {}}
    data = {
        "serial": facts.serial,
        "change_id": facts.event_id,
        "kind": facts.kind,
        "count": facts.count,
        "stamps": facts.stamps,
        "rewards_due": facts.rewards,
        "total_stamps": facts.total_stamps,
        "redeemed": facts.redeemed,
    }
    return {"type": event_type, "timestamp": _iso(facts.at), "data": data}


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
