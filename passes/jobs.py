"""The push worker's jobs besides pushing, each due at its own interval: what they change
queues pushes of its own, delivered in the same round. `passes serve` and `passes worker`
run the same list (worker_jobs)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from passes.birthdays import EVERY as BIRTHDAYS_EVERY
from passes.birthdays import Birthdays
from passes.campaigns import Campaigns
from passes.clock import Clock
from passes.expiry import SWEEP_EVERY, ExpirySweep
from passes.store import Store
from passes.webhook_delivery import WebhookDelivery


@dataclass(frozen=True)
class Job:
    """Work to run before a round of pushes, at most every `every`; returns how much it did."""

    name: str
    run: Callable[[datetime], Awaitable[int]]
    every: timedelta = timedelta(0)


class Schedule:
    """Runs each job when it is due."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.jobs = tuple(jobs)
        self._due = [datetime.min.replace(tzinfo=UTC)] * len(self.jobs)

    async def run_due(self, now: datetime) -> int:
        """Run the jobs due at `now`; returns how much they did together."""
        done = 0
        for index, job in enumerate(self.jobs):
            if now >= self._due[index]:
                self._due[index] = now + job.every
                done += await job.run(now)
        return done


def worker_jobs(
    store: Store, campaigns: Campaigns, clock: Clock, *, webhooks_allow_private: bool = False
) -> list[Job]:
    """Scheduled campaigns whose time has come take their segment; stamps and rewards that
    expired on cards nobody touches are recorded, so their passes update anyway; birthday
    bonuses due today are given; waiting webhook messages are sent."""
    webhooks = WebhookDelivery(store, allow_private=webhooks_allow_private, clock=clock)
    return [
        Job("scheduled campaigns", campaigns.resolve_due),
        Job("expiry sweep", ExpirySweep(store, clock=clock).run, SWEEP_EVERY),
        Job("birthdays", Birthdays(store, clock=clock).run, BIRTHDAYS_EVERY),
        Job("webhooks", webhooks.run),
    ]
