"""Delivering claimed outbox rows to their targets: Apple (one APNs push per device) and
Google (one patch per card, then each campaign's message), each answer a Delivery that the
push worker settles."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from passes.apple.apns import ApnsClient, short_token
from passes.clock import Clock, system_clock
from passes.google.budget import ALREADY_SHOWN, NOT_LATEST, REFUSED, Plan, plan
from passes.google.errors import (
    GoogleAuthError,
    GoogleError,
    GoogleQuotaExceeded,
    GoogleUnavailable,
)
from passes.google.notify import Notifications, Reservation
from passes.google.wallet import GoogleWallet
from passes.store import Store
from passes.store.cards import CardRow
from passes.store.google import CampaignMessage, GoogleCard, campaign_messages, google_cards
from passes.store.outbox import OutboxRow

# Google objects updated at the same time by one worker.
GOOGLE_CONCURRENCY = 8


@dataclass(frozen=True)
class Delivery:
    """What happened to one outbox row."""

    row: OutboxRow
    outcome: str  # delivered | unregistered | retry | certificate | failed
    status: int | None = None
    reason: str | None = None
    device: str | None = None
    # The peer asked us to wait this long (Retry-After); honoured when longer than the back-off.
    retry_after: float | None = None
    # APNs 410: the token is invalid since then (registrations renewed later are kept).
    gone_since: datetime | None = None


class Deliverer(Protocol):
    """Delivers claimed rows of one target (Apple, Google)."""

    target: str

    async def deliver(self, rows: Sequence[OutboxRow]) -> list[Delivery]: ...


class AppleDelivery:
    """The Apple target: one APNs push per device, however many rows name it."""

    target = "apple"

    def __init__(self, apns: ApnsClient) -> None:
        self.apns = apns

    async def deliver(self, rows: Sequence[OutboxRow]) -> list[Delivery]:
        """Push each device once; every row of that device shares the answer."""
        by_token: dict[str, list[OutboxRow]] = {}
        orphans: list[Delivery] = []
        for row in rows:
            if row.push_token is None:  # the device unregistered meanwhile
                orphans.append(Delivery(row, "unregistered", reason="device gone"))
            else:
                by_token.setdefault(row.push_token, []).append(row)
        results = await self.apns.push_many(list(by_token))
        return orphans + [
            Delivery(
                row,
                result.outcome,
                result.status,
                result.reason,
                short_token(result.token),
                gone_since=result.gone_at,
            )
            for result in results
            for row in by_token[result.token]
        ]


class GoogleDelivery:
    """The Google target: one patch (or insert) per card, then each campaign's message.

    A card's newest notice notifies its holder once, within Google's budget of 3 a day
    (google/budget.py): a stamp, reward or perk by a notifying patch, a campaign by a
    TEXT_AND_NOTIFY message. Everything else, and anything over the budget or refused by
    Google's quota, is still delivered, silently.
    """

    target = "google"

    def __init__(
        self,
        store: Store,
        wallet: GoogleWallet,
        card_url: Callable[[CardRow], str],
        concurrency: int = GOOGLE_CONCURRENCY,
        clock: Clock = system_clock,
    ) -> None:
        self.store = store
        self.wallet = wallet
        self.card_url = card_url
        self.concurrency = concurrency
        self.notifications = Notifications(store, clock)

    async def deliver(self, rows: Sequence[OutboxRow]) -> list[Delivery]:
        """Bring each card's object up to date; rows of one card share the patch."""
        campaign_ids = [row.campaign_id for row in rows if row.campaign_id is not None]
        async with self.store.reading() as conn:
            found = await google_cards(conn, [row.card_id for row in rows])
            messages = await campaign_messages(conn, campaign_ids)
        by_card: dict[int, list[OutboxRow]] = {}
        for row in rows:
            by_card.setdefault(row.card_id, []).append(row)
        limit = asyncio.Semaphore(self.concurrency)
        groups = await asyncio.gather(
            *(
                self._card(found.get(card_id), group, messages, limit)
                for card_id, group in by_card.items()
            )
        )
        return [delivery for group in groups for delivery in group]

    async def _card(
        self,
        target: GoogleCard | None,
        rows: list[OutboxRow],
        messages: dict[int, CampaignMessage],
        limit: asyncio.Semaphore,
    ) -> list[Delivery]:
        if target is None:
            return [Delivery(row, "failed", reason="card gone") for row in rows]
        async with limit:
            plan = _plan(target, rows)
            held = await self.notifications.reserve(target, plan) if plan.wanted else None
            try:
                shown, reason = await self._patch(target, held if plan.by_patch else None)
            except GoogleError as exc:
                if held is not None:
                    await self.notifications.give_back(held)
                return [_google_failure(row, exc) for row in rows]
            listed = shown.get("messages")
            on_pass = {m.get("id") for m in listed if isinstance(m, dict)} if listed else set()
            return [
                Delivery(row, "delivered", 200, reason)
                if row.campaign_id is None
                else await self._message(
                    target,
                    row,
                    messages.get(row.campaign_id),
                    on_pass,
                    held if plan.campaign_id == row.campaign_id else None,
                )
                for row in rows
            ]

    async def _patch(
        self, target: GoogleCard, held: Reservation | None
    ) -> tuple[dict[str, Any], str | None]:
        """Publish the card, notifying if `held` allows; Google's quota refusal of the
        notification sends it again silently at once (never retried as a notification)."""
        notify = held is not None and held.notify
        try:
            return await self._publish(target, notify), held.reason if held else None
        except GoogleQuotaExceeded:
            if held is None or not notify:
                raise
        await self.notifications.exhaust(held)
        return await self._publish(target, False), REFUSED

    async def _publish(self, target: GoogleCard, notify: bool) -> dict[str, Any]:
        url = self.card_url(target.card)
        return await self.wallet.publish(
            target.shop, target.card, url, target.locations, notify=notify
        )

    async def _message(
        self,
        target: GoogleCard,
        row: OutboxRow,
        message: CampaignMessage | None,
        on_pass: set[object],
        held: Reservation | None,
    ) -> Delivery:
        """Add the campaign's message once (its id is the campaign's: a retry after a lost
        answer finds it on the pass, or Google answers that it exists)."""
        message_id = f"campaign-{row.campaign_id}"
        if message is None:  # the campaign was deleted meanwhile
            if held is not None:
                await self.notifications.give_back(held)
            return Delivery(row, "delivered", 200)
        if message_id in on_pass:
            return Delivery(row, "delivered", 200, ALREADY_SHOWN)
        notify = held is not None and held.notify
        reason = held.reason if held is not None else NOT_LATEST
        try:
            try:
                added = await self._add(target, message_id, message, notify)
            except GoogleQuotaExceeded:
                if held is None or not notify:
                    raise
                await self.notifications.exhaust(held)
                added, reason = await self._add(target, message_id, message, False), REFUSED
        except GoogleError as exc:
            if held is not None:
                await self.notifications.give_back(held)
            return _google_failure(row, exc)
        return Delivery(row, "delivered", 200, reason if added else ALREADY_SHOWN)

    async def _add(
        self, target: GoogleCard, message_id: str, message: CampaignMessage, notify: bool
    ) -> bool:
        shown = (message.starts, message.ends)
        return await self.wallet.add_message(
            target.shop, target.card, message_id, message.text, notify=notify, shown=shown
        )


def _plan(target: GoogleCard, rows: list[OutboxRow]) -> Plan:
    # A silent notice (redeemed, undone, expired, voided) announces nothing on Google either.
    notice = target.card.notice
    return plan(
        notice.kind if notice is not None and notice.announces else None,
        notice.version if notice is not None else 0,
        target.card.version,
        target.notify.handled_version,
        [row.campaign_id for row in rows if row.campaign_id is not None],
    )


def _google_failure(row: OutboxRow, exc: GoogleError) -> Delivery:
    if isinstance(exc, GoogleAuthError):
        return Delivery(row, "certificate", exc.status, str(exc))
    if isinstance(exc, GoogleUnavailable):
        return Delivery(row, "retry", exc.status, str(exc), retry_after=exc.retry_after)
    return Delivery(row, "failed", exc.status, str(exc))
