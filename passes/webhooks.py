"""A shop's webhook endpoints: added with a secret shown once, listed with their recent
attempts, removed, resumed after a pause. The API and the dashboard call these."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence

from passes.clock import Clock
from passes.config import Settings
from passes.errors import InvalidInput, NotFound
from passes.store import Store
from passes.store import webhooks as box
from passes.store.shops import ShopRow
from passes.store.webhooks import EndpointRow
from passes.webhook_delivery import destination_refusal
from passes.webhook_events import EVENT_TYPES, url_refusal

MAX_URL_LENGTH = 2000
# Endpoints one shop may have (each stamp writes a message per subscribed endpoint).
MAX_ENDPOINTS = 10


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Webhooks:
    """The shop's outgoing webhooks over one store."""

    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock

    async def add(self, shop: ShopRow, url: str, events: Sequence[str]) -> tuple[EndpointRow, str]:
        """A new endpoint for `events` at `url`, and its secret (shown this once)."""
        url = url.strip()
        refusal = url_refusal(url) if len(url) <= MAX_URL_LENGTH else "the URL is too long"
        if refusal is None:
            refusal = await destination_refusal(url, self.settings.webhooks_allow_private)
        if refusal is not None:
            raise InvalidInput(refusal)
        unknown = sorted(set(events) - set(EVENT_TYPES))
        if unknown or not events:
            raise InvalidInput(
                f"events must name some of {', '.join(EVENT_TYPES)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        secret = new_secret()
        async with self.store.transaction() as conn:
            if len(await box.endpoints(conn, shop.id)) >= MAX_ENDPOINTS:
                raise InvalidInput(f"a shop may have at most {MAX_ENDPOINTS} webhook endpoints")
            made = await box.add_endpoint(
                conn, shop.id, url, secret, sorted(set(events)), self.clock()
            )
            (endpoint,) = await box.endpoints(conn, shop.id, made)
        return endpoint, secret

    async def endpoints(self, shop: ShopRow) -> list[EndpointRow]:
        """The shop's endpoints with their recent attempts, oldest first."""
        async with self.store.reading() as conn:
            return await box.endpoints(conn, shop.id)

    async def remove(self, shop: ShopRow, endpoint_id: int) -> None:
        """Stop sending to the endpoint; its waiting messages go with it."""
        async with self.store.transaction() as conn:
            if not await box.delete_endpoint(conn, shop.id, endpoint_id):
                raise NotFound("no such webhook endpoint")

    async def resume(self, shop: ShopRow, endpoint_id: int) -> None:
        """Deliver to a paused endpoint again, its waiting messages first."""
        async with self.store.transaction() as conn:
            if not await box.resume_endpoint(conn, shop.id, endpoint_id, self.clock()):
                raise NotFound("no such webhook endpoint")
