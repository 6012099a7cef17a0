"""The worker's webhook job: sign each waiting message (Standard Webhooks, with the
reference implementation) and POST it, per endpoint and card in order, at least once.

A message is taken with a lease; a worker killed mid-way leaves it to be taken again when
the lease ends (so a receiver may see a message twice: `webhook-id` tells). A failure waits
longer each time (webhook_events.retry_after) and holds back the card's later messages;
an endpoint failing for a day is paused with the reason, until its owner resumes it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from standardwebhooks import Webhook

from passes.clock import Clock, system_clock
from passes.store import Store
from passes.store import webhooks as box
from passes.store.webhooks import Claimed, Outcome
from passes.webhook_events import (
    GIVE_UP_AFTER,
    CampaignFacts,
    LedgerFacts,
    address_refusal,
    message_body,
    pause_reason,
    retry_after,
)

log = logging.getLogger(__name__)
# Messages taken per round, and rounds per run (a card's next message waits for the round
# after its previous one was delivered).
BATCH = 50
ROUNDS = 20
TIMEOUT_SECONDS = 10.0


async def destination_refusal(url: str, allow_private: bool) -> str | None:
    """Why `url`'s host may not receive webhooks (it names or resolves to a private,
    loopback or link-local address, or resolves to nothing), or None."""
    if allow_private:
        return None
    host = urlsplit(url).hostname or ""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return f"the host {host!r} cannot be resolved"
    for *_, address in found:
        refusal = address_refusal(str(address[0]))
        if refusal is not None:
            return refusal
    return None


class WebhookDelivery:
    """Delivers due webhook messages; `run` is a worker job (jobs.py)."""

    def __init__(
        self,
        store: Store,
        *,
        allow_private: bool = False,
        clock: Clock = system_clock,
        lease: timedelta = timedelta(seconds=60),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.store = store
        self.allow_private = allow_private
        self.clock = clock
        self.lease = lease
        self.transport = transport

    async def run(self, now: datetime) -> int:
        """Deliver what is due now; returns how many tries were made."""
        tried = 0
        client: httpx.AsyncClient | None = None
        try:
            for _ in range(ROUNDS):
                now = self.clock()
                async with self.store.transaction() as conn:
                    messages = await box.claim(conn, now, now + self.lease, BATCH)
                    told = await box.facts(conn, messages)
                if not messages:
                    break
                if client is None:
                    client = httpx.AsyncClient(
                        timeout=TIMEOUT_SECONDS, transport=self.transport, follow_redirects=False
                    )
                outcomes = await asyncio.gather(
                    *(self._send(client, m, told.get(m.id)) for m in messages)
                )
                await self._settle(outcomes)
                tried += len(outcomes)
        finally:
            if client is not None:
                await client.aclose()
        return tried

    async def _send(
        self,
        client: httpx.AsyncClient,
        message: Claimed,
        facts: LedgerFacts | CampaignFacts | None,
    ) -> Outcome:
        body = json.dumps(message_body(message.event_type, facts), separators=(",", ":"))
        msg_id = box.message_id(message.id)
        # The wall clock, not the business one: receivers check it against theirs.
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(message.secret).sign(msg_id, now, body),
        }
        started = time.perf_counter()
        refusal = await destination_refusal(message.url, self.allow_private)
        if refusal is not None:
            return Outcome(message, None, refusal, 0)
        try:
            answer = await client.post(message.url, content=body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            took = int((time.perf_counter() - started) * 1000)
            return Outcome(message, None, type(exc).__name__, took)
        took = int((time.perf_counter() - started) * 1000)
        return Outcome(message, answer.status_code, None, took)

    async def _settle(self, outcomes: Sequence[Outcome]) -> None:
        now = self.clock()
        failed = [o for o in outcomes if not o.delivered]
        retry_at = {o.message.id: now + retry_after(o.message.attempts) for o in failed}
        async with self.store.transaction() as conn:
            since = await box.failing_since(conn, {o.message.endpoint_id for o in failed})
            paused = {
                o.message.endpoint_id: pause_reason(_answer(o))
                for o in failed
                if now - since.get(o.message.endpoint_id, now) >= GIVE_UP_AFTER
            }
            await box.settle(conn, outcomes, now, retry_at, paused)
        for endpoint_id, reason in paused.items():
            log.warning("webhook endpoint %s %s", endpoint_id, reason)


def _answer(outcome: Outcome) -> str:
    return str(outcome.status) if outcome.status is not None else (outcome.error or "none")
