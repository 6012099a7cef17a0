"""The push worker: delivers the outbox after commit, at least once, coalesced per device."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from passes.apple.apns import ApnsClient, backoff_seconds
from passes.apple.identity import SigningIdentity
from passes.config import Settings
from passes.store import Store
from passes.store.outbox import (
    Attempt,
    OutboxRow,
    claim,
    finish,
    forget_device,
    record_attempts,
    retry_at,
)

log = logging.getLogger("passes.push")

CERTIFICATE_PAUSE = timedelta(minutes=5)


@dataclass(frozen=True)
class Delivery:
    """What happened to one outbox row."""

    row: OutboxRow
    outcome: str  # delivered | unregistered | retry | certificate | failed
    status: int | None = None
    reason: str | None = None
    device: str | None = None


class Deliverer(Protocol):
    """Delivers claimed rows of one target (Apple, Google)."""

    target: str

    async def deliver(self, rows: Sequence[OutboxRow]) -> list[Delivery]: ...


class Wakeup:
    """Lets a committed change wake the in-process worker at once instead of at the next poll."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """A change was committed."""
        self._event.set()

    async def wait(self, seconds: float) -> None:
        """Until notified or `seconds` pass."""
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
        except TimeoutError:
            pass
        self._event.clear()


def _now() -> datetime:
    return datetime.now(UTC)


class PushWorker:
    """Claims outbox rows (a lease), delivers them, then finishes or reschedules them."""

    def __init__(
        self,
        store: Store,
        deliverers: Sequence[Deliverer],
        *,
        backoff: Callable[[int], float],
        batch: int = 200,
        lease: timedelta = timedelta(seconds=60),
        poll_seconds: float = 1.0,
    ) -> None:
        self.store = store
        self.deliverers = {deliverer.target: deliverer for deliverer in deliverers}
        self.backoff = backoff
        self.batch = batch
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.paused_until: dict[str, datetime] = {}

    def _active_targets(self, now: datetime) -> list[str]:
        return [t for t in self.deliverers if self.paused_until.get(t, now) <= now]

    async def run_once(self) -> int:
        """Claim and deliver one batch; returns how many rows were handled."""
        now = _now()
        targets = self._active_targets(now)
        if not targets:
            return 0
        async with self.store.transaction() as conn:
            rows = await claim(conn, now, now + self.lease, self.batch, targets)
        if not rows:
            return 0
        results = await asyncio.gather(
            *(
                self._deliver(target, [row for row in rows if row.target == target])
                for target in targets
            )
        )
        await self._settle([delivery for group in results for delivery in group])
        return len(rows)

    async def _deliver(self, target: str, rows: list[OutboxRow]) -> list[Delivery]:
        if not rows:
            return []
        try:
            return await self.deliverers[target].deliver(rows)
        except Exception as exc:  # a broken peer must never lose the rows
            log.exception("delivery to %s failed; will retry", target)
            return [Delivery(row, "retry", reason=type(exc).__name__) for row in rows]

    async def _settle(self, deliveries: list[Delivery]) -> None:
        now = _now()
        settled = ("delivered", "failed", "unregistered")
        done = [d.row.id for d in deliveries if d.outcome in settled]
        gone = {d.row.device_id for d in deliveries if d.outcome == "unregistered"}
        later = [d for d in deliveries if d.outcome not in settled]
        for delivery in later:
            if delivery.outcome == "certificate":
                self._pause(delivery)
        async with self.store.transaction() as conn:
            await finish(conn, done)
            for device_id in gone:
                if device_id is not None:
                    await forget_device(conn, device_id)
            for delivery in later:
                await retry_at(conn, [delivery.row.id], self._retry_time(delivery, now))
            await record_attempts(conn, [_attempt(d) for d in deliveries], now)

    def _pause(self, delivery: Delivery) -> None:
        target = delivery.row.target
        if target not in self.paused_until or self.paused_until[target] <= _now():
            log.error(
                "%s refused our credentials (%s %s): deliveries paused for %d s, queue kept",
                target,
                delivery.status,
                delivery.reason,
                CERTIFICATE_PAUSE.total_seconds(),
            )
        self.paused_until[target] = _now() + CERTIFICATE_PAUSE

    def _retry_time(self, delivery: Delivery, now: datetime) -> datetime:
        if delivery.outcome == "certificate":
            return self.paused_until[delivery.row.target]
        return now + timedelta(seconds=self.backoff(delivery.row.attempts))

    async def run(self, stop: asyncio.Event, wakeup: Wakeup | None = None) -> None:
        """Deliver until `stop` is set; sleep when idle, wake early on a committed change."""
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("push worker round failed; retrying")
                handled = 0
            if handled == 0 and not stop.is_set():
                if wakeup is None:
                    await _sleep_or_stop(stop, self.poll_seconds)
                else:
                    await wakeup.wait(self.poll_seconds)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


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
            Delivery(row, result.outcome, result.status, result.reason, result.token[:8] + "…")
            for result in results
            for row in by_token[result.token]
        ]


@asynccontextmanager
async def push_worker(
    settings: Settings, identity: SigningIdentity, store: Store
) -> AsyncIterator[PushWorker]:
    """A worker with every configured target, its connections closed afterwards."""
    apns = ApnsClient(identity, settings.apns_url, ca_file=settings.ssl_cert_file)
    try:
        yield PushWorker(
            store,
            [AppleDelivery(apns)],
            backoff=backoff_seconds,
            batch=settings.push_batch,
            lease=timedelta(seconds=settings.push_lease_seconds),
        )
    finally:
        await apns.aclose()


def _attempt(delivery: Delivery) -> Attempt:
    return Attempt(
        card_id=delivery.row.card_id,
        target=delivery.row.target,
        device=delivery.device,
        campaign_id=delivery.row.campaign_id,
        status=delivery.status,
        reason=(delivery.reason or "")[:200] or None,
        outcome=delivery.outcome,
    )
