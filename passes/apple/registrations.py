"""How many new devices may register for passes: per card and per client address.

A pass's authentication token lets anyone holding the pass register devices for it; without a
bound one card took 3,000 registrations in 29 s. Renewals (a device registering again) are free.
"""

from __future__ import annotations

import math

from passes.ratelimit import RateLimiter

HOUR = 3600.0
MINUTE = 60.0
# The defaults of PASSES_CARD_REGISTRATIONS_PER_HOUR and PASSES_CLIENT_REGISTRATIONS_PER_MINUTE.
CARD_REGISTRATIONS_PER_HOUR = 10
CLIENT_REGISTRATIONS_PER_MINUTE = 120


class RegistrationLimits:
    """Token buckets for new registrations: `per_card_hour` per card, `per_client_minute` per
    client address, each allowed at once and refilled over the hour or minute."""

    def __init__(
        self,
        per_card_hour: int = CARD_REGISTRATIONS_PER_HOUR,
        per_client_minute: int = CLIENT_REGISTRATIONS_PER_MINUTE,
    ) -> None:
        self.cards = RateLimiter(rate=per_card_hour / HOUR, burst=per_card_hour)
        self.clients = RateLimiter(rate=per_client_minute / MINUTE, burst=per_client_minute)

    def wait(self, card_id: int, client: str) -> float:
        """Seconds until both the card and the client may register one more device (0: now)."""
        return max(self.cards.wait(str(card_id)), self.clients.wait(client))

    def take(self, card_id: int, client: str) -> float:
        """Count one new registration: 0.0, or (counting nothing) the seconds to wait."""
        wait = self.wait(card_id, client)
        if wait == 0.0:
            self.cards.allow(str(card_id))
            self.clients.allow(client)
        return wait


def retry_after(wait: float) -> str:
    """A Retry-After value: whole seconds, at least one."""
    return str(max(1, math.ceil(wait)))
