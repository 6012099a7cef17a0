"""Which Google update may notify the phone, and Google's budget for it. Pure: no I/O.

Google notifies on a field update only when the PATCH asks (`notifyPreference`) and on a
message only when it is `TEXT_AND_NOTIFY`; both share one budget of 3 per pass in any
24 hours. A card's notice (passes/notices.py) says what its latest change announces: a news
notice goes out as the campaign's message, any other kind as a notifying patch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

LIMIT = 3
WINDOW = timedelta(hours=24)
NEWS = "news"

NOTIFIED = "notified"
OVER_BUDGET = f"silent: Google notification budget used ({LIMIT}/24h)"
REFUSED = "silent: Google refused the notification (quota)"
NOT_LATEST = "silent: the card announced a later change"
ALREADY_SHOWN = "message already on the pass"


@dataclass(frozen=True)
class Budget:
    """When an object's notifying calls were sent (those older than WINDOW no longer count)."""

    times: tuple[datetime, ...] = ()

    def recent(self, now: datetime) -> tuple[datetime, ...]:
        """The calls that still count at `now`."""
        return tuple(moment for moment in self.times if moment > now - WINDOW)

    def allows(self, now: datetime) -> bool:
        """Whether one more notifying call fits now."""
        return len(self.recent(now)) < LIMIT

    def spend(self, now: datetime) -> Budget:
        """The budget after one notifying call at `now`."""
        return Budget((*self.recent(now), now))

    @classmethod
    def exhausted(cls, now: datetime) -> Budget:
        """Google refused for quota: nothing more until WINDOW has passed from now."""
        return cls((now,) * LIMIT)

    def encode(self) -> str:
        """As stored: epoch seconds, comma-separated."""
        return ",".join(str(int(moment.timestamp())) for moment in self.times)

    @classmethod
    def decode(cls, stored: str) -> Budget:
        """The budget stored by `encode` ("" for none)."""
        return cls(
            tuple(datetime.fromtimestamp(int(part), UTC) for part in stored.split(",") if part)
        )


@dataclass(frozen=True)
class Plan:
    """What one delivery of a card may notify: by its patch, by one campaign's message, or
    nothing (`version` 0). `version` is the notice this delivery takes care of."""

    version: int = 0
    campaign_id: int | None = None

    @property
    def wanted(self) -> bool:
        """Whether the delivery carries a notice not yet handled."""
        return self.version > 0

    @property
    def by_patch(self) -> bool:
        """Whether the notice goes out with the object's patch (not as a message)."""
        return self.wanted and self.campaign_id is None


def plan(
    notice_kind: str | None,
    notice_version: int,
    card_version: int,
    handled_version: int,
    campaign_ids: list[int],
) -> Plan:
    """What this delivery may notify. Only a notice the card's latest change set counts (an
    undo or expiry after a stamp leaves the stamp's notice, which must not announce again),
    and only once per notice. A news notice needs its campaign's message in this delivery;
    with several campaigns waiting, the newest speaks."""
    if notice_kind is None or notice_version != card_version or notice_version <= handled_version:
        return Plan()
    if notice_kind != NEWS:
        return Plan(notice_version)
    if not campaign_ids:
        return Plan()
    return Plan(notice_version, max(campaign_ids))
