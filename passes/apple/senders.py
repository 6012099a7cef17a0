"""Which client addresses have lately proved a card (sent its ApplePass token).

Apple's device log endpoint carries no token, so anyone may post a line naming any card's pass
URL. A line counts as the card's own only when it comes from an address that proved that card
within the last hour; the rest is kept apart as unverified.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

PROOF_SECONDS = 3600.0
MAX_PROOFS = 50_000


class KnownSenders:
    """(address, card) pairs seen with the card's token, newest last, bounded in count and age."""

    def __init__(
        self,
        seconds: float = PROOF_SECONDS,
        max_proofs: int = MAX_PROOFS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.max_proofs = max_proofs
        self.clock = clock
        self._seen: OrderedDict[tuple[str, int], float] = OrderedDict()

    def proved(self, address: str, card_id: int) -> None:
        """`address` just sent the token of card `card_id`."""
        key = (address, card_id)
        self._seen[key] = self.clock()
        self._seen.move_to_end(key)
        if len(self._seen) > self.max_proofs:
            self._seen.popitem(last=False)

    def knows(self, address: str, card_id: int) -> bool:
        """True when `address` proved card `card_id` within the last `seconds`."""
        seen = self._seen.get((address, card_id))
        return seen is not None and self.clock() - seen <= self.seconds
