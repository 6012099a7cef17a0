"""The push worker: delivers the outbox after commit, at least once, coalesced per device."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from passes.apple.apns import ApnsClient, backoff_seconds
from passes.apple.identity import SigningIdentity
from passes.clock import Clock, system_clock
from passes.config import Settings
from passes.deliveries import AppleDelivery, Deliverer, Delivery, GoogleDelivery
from passes.google.wallet import GoogleWallet, open_google
from passes.jobs import Job, Schedule
from passes.store import Store
from passes.store.campaign_delivery import deliver_pending
from passes.store.cards import CardRow
from passes.store.outbox import (
    Attempt,
    OutboxRow,
    claim,
    finish,
    forget_device,
    record_attempts,
    retry_each,
)

log = logging.getLogger("passes.push")

CERTIFICATE_PAUSE = timedelta(minutes=5)
# Rows a running worker holds claimed and unsettled, in batches: enough that the next claim
# is made while the pushes of earlier ones are in flight.
WINDOW_BATCHES = 3
# Campaign messages made into card changes per round at least (a few statements each batch).
MESSAGE_BATCH = 500


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


class PushWorker:
    """Claims outbox rows (a lease), delivers them, then finishes or reschedules them.

    `run` overlaps the rounds: it claims the next rows while earlier ones are in flight (up to
    `window` rows claimed and not yet settled), so the HTTP/2 connection always has pushes to
    send, and settles the answers in batches, one transaction for whatever came back while
    the previous one was written.
    """

    def __init__(
        self,
        store: Store,
        deliverers: Sequence[Deliverer],
        *,
        backoff: Callable[[int], float],
        batch: int = 200,
        lease: timedelta = timedelta(seconds=60),
        poll_seconds: float = 1.0,
        jobs: Sequence[Job] = (),
        clock: Clock = system_clock,
        window: int | None = None,
    ) -> None:
        self.store = store
        # Work before each round, each at its interval (jobs.py): scheduled campaigns, expiry.
        self.jobs = Schedule(jobs)
        self.clock = clock
        self.deliverers = {deliverer.target: deliverer for deliverer in deliverers}
        self.backoff = backoff
        self.batch = batch
        self.window = window or WINDOW_BATCHES * batch
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.paused_until: dict[str, datetime] = {}

    def _active_targets(self, now: datetime) -> list[str]:
        return [t for t in self.deliverers if self.paused_until.get(t, now) <= now]

    async def run_once(self) -> int:
        """Claim and deliver one batch, and settle it; returns how many rows were handled."""
        rows, work = await self._take(self.batch)
        if not rows:
            return work
        results = await asyncio.gather(*(self._deliver(t, group) for t, group in _by_target(rows)))
        await self._settle([delivery for group in results for delivery in group])
        return len(rows)

    async def _take(self, limit: int) -> tuple[list[OutboxRow], int]:
        """The jobs that are due, then waiting campaign messages made into card changes and up
        to `limit` rows claimed; returns the rows and how much other work was done."""
        now = self.clock()
        targets = self._active_targets(now)
        work = await self.jobs.run_due(now)
        async with self.store.transaction() as conn:
            # Campaign messages become card changes here, which queue their pushes.
            messages = await deliver_pending(conn, max(limit, MESSAGE_BATCH), now)
            rows = await claim(conn, now, now + self.lease, limit, targets) if targets else []
        return rows, messages + work

    async def _deliver(self, target: str, rows: list[OutboxRow]) -> list[Delivery]:
        if not rows:
            return []
        try:
            return await self.deliverers[target].deliver(rows)
        except Exception as exc:  # a broken peer must never lose the rows
            log.exception("delivery to %s failed; will retry", target)
            return [Delivery(row, "retry", reason=type(exc).__name__) for row in rows]

    async def _settle(self, deliveries: list[Delivery]) -> None:
        now = self.clock()
        settled = ("delivered", "failed", "unregistered")
        done = [d.row.id for d in deliveries if d.outcome in settled]
        gone = {
            d.row.device_id: d
            for d in deliveries
            if d.outcome == "unregistered" and d.row.device_id
        }
        later = [d for d in deliveries if d.outcome not in settled]
        for delivery in later:
            if delivery.outcome == "certificate":
                self._pause(delivery)
        async with self.store.transaction() as conn:
            await finish(conn, done)
            for device_id, delivery in gone.items():
                await forget_device(conn, device_id, delivery.row.push_token, delivery.gone_since)
            await retry_each(conn, [(d.row.id, self._retry_time(d, now)) for d in later])
            await record_attempts(conn, [_attempt(d) for d in deliveries], now)

    def _pause(self, delivery: Delivery) -> None:
        target = delivery.row.target
        if target not in self.paused_until or self.paused_until[target] <= self.clock():
            log.error(
                "%s refused our credentials (%s %s): deliveries paused for %d s, queue kept",
                target,
                delivery.status,
                delivery.reason,
                CERTIFICATE_PAUSE.total_seconds(),
            )
        self.paused_until[target] = self.clock() + CERTIFICATE_PAUSE

    def _retry_time(self, delivery: Delivery, now: datetime) -> datetime:
        if delivery.outcome == "certificate":
            return self.paused_until[delivery.row.target]
        seconds = self.backoff(delivery.row.attempts)
        return now + timedelta(seconds=max(seconds, delivery.retry_after or 0.0))

    async def run(self, stop: asyncio.Event, wakeup: Wakeup | None = None) -> None:
        """Deliver until `stop` is set, then finish and settle what is in flight; sleeps when
        idle and wakes early on a committed change."""
        flight = _Flight(self)
        while not stop.is_set():
            claimed = 0
            if flight.room() >= max(1, self.batch // 4):
                try:
                    rows, work = await self._take(min(self.batch, flight.room()))
                except Exception:
                    log.exception("push worker round failed; retrying")
                    rows, work = [], 0
                flight.start(rows)
                claimed = len(rows) + work
            if stop.is_set() or claimed:
                continue
            if flight.room() < max(1, self.batch // 4):
                await flight.wait_for_answers(stop)
            elif wakeup is None:
                await _sleep_or_stop(stop, self.poll_seconds)
            else:
                await wakeup.wait(self.poll_seconds)
        await flight.finish()


class _Flight:
    """The rows a running worker has claimed and not yet settled, and the answers to settle."""

    def __init__(self, worker: PushWorker) -> None:
        self.worker = worker
        self.rows = 0  # claimed and not yet settled
        self.tasks: dict[asyncio.Task[list[Delivery]], int] = {}
        self.answered: list[Delivery] = []
        self.answered_rows = 0
        self.settling: asyncio.Task[None] | None = None
        self.changed = asyncio.Event()

    def room(self) -> int:
        return self.worker.window - self.rows

    def start(self, rows: list[OutboxRow]) -> None:
        """Deliver the rows in the background, a task per target."""
        for target, group in _by_target(rows):
            task = asyncio.create_task(self.worker._deliver(target, group))
            self.rows += len(group)
            self.tasks[task] = len(group)
            task.add_done_callback(self._delivered)

    def _delivered(self, task: asyncio.Task[list[Delivery]]) -> None:
        self.answered_rows += self.tasks.pop(task)
        if not task.cancelled():
            self.answered.extend(task.result())
        self._settle_soon()

    def _settle_soon(self) -> None:
        if self.answered_rows and self.settling is None:
            batch, rows = self.answered, self.answered_rows
            self.answered, self.answered_rows = [], 0
            self.settling = asyncio.create_task(self._settle(batch, rows))

    async def _settle(self, batch: list[Delivery], rows: int) -> None:
        try:
            await self.worker._settle(batch)
        except Exception:  # the rows stay claimed; after their lease they are delivered again
            log.exception("settling %d deliveries failed; retried after the lease", len(batch))
        self.rows -= rows
        self.settling = None
        self.changed.set()
        self._settle_soon()

    async def wait_for_answers(self, stop: asyncio.Event) -> None:
        """Until some rows are settled (room for more) or the worker stops."""
        self.changed.clear()
        waits = [asyncio.ensure_future(self.changed.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def finish(self) -> None:
        """Wait for every delivery in flight and settle it."""
        while self.rows:
            if self.tasks:
                await asyncio.wait(set(self.tasks))
            elif self.settling is not None:
                await asyncio.shield(self.settling)
            else:
                break  # nothing in flight or settling, yet rows counted: never wait forever


def _by_target(rows: list[OutboxRow]) -> list[tuple[str, list[OutboxRow]]]:
    groups: dict[str, list[OutboxRow]] = {}
    for row in rows:
        groups.setdefault(row.target, []).append(row)
    return list(groups.items())


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


@asynccontextmanager
async def push_worker(
    settings: Settings,
    identity: SigningIdentity,
    store: Store,
    google: GoogleWallet | None = None,
    jobs: Sequence[Job] = (),
    clock: Clock = system_clock,
) -> AsyncIterator[PushWorker]:
    """A worker with every configured target, its connections closed afterwards.

    `google` shares the server's Google Wallet; without it one is opened from the settings.
    `jobs` run before each round, each at its interval (the app and `passes worker` give
    jobs.worker_jobs).
    """
    owned = open_google(settings) if google is None else None
    google = google or owned
    apns = ApnsClient(identity, settings.apns_url, ca_file=settings.ssl_cert_file)
    deliverers: list[Deliverer] = [AppleDelivery(apns)]
    if google is not None:

        def card_url(card: CardRow) -> str:
            return settings.card_page_url(card.page_secret)

        deliverers.append(GoogleDelivery(store, google, card_url, clock=clock))
    try:
        yield PushWorker(
            store,
            deliverers,
            backoff=backoff_seconds,
            batch=settings.push_batch,
            lease=timedelta(seconds=settings.push_lease_seconds),
            jobs=jobs,
            clock=clock,
        )
    finally:
        await apns.aclose()
        if owned is not None:
            await owned.aclose()


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
