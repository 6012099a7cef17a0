"""The owner's figures, computed from card totals and recent ledger rows (pure)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

WINDOW_DAYS = 30


@dataclass(frozen=True)
class CardTotals:
    """All-time figures kept on the cards themselves."""

    issued: int
    stamps: int
    redeemed: int
    apple: int
    google: int


@dataclass(frozen=True)
class LedgerRow:
    """One stamp, undo or redeem event."""

    card_id: int
    kind: str
    count: int
    at: datetime


@dataclass(frozen=True)
class Stats:
    """What the dashboard and GET /api/v1/stats show."""

    totals: CardTotals
    active: int
    returning: int
    redeemed_recently: int
    stamps_per_day: list[tuple[date, int]]


def window_start(today: date) -> date:
    """The first day the figures look at."""
    return today - timedelta(days=WINDOW_DAYS - 1)


def figures(totals: CardTotals, rows: list[LedgerRow], today: date) -> Stats:
    """Active and returning cards and stamps per day over the last WINDOW_DAYS days (UTC)."""
    first = window_start(today)
    recent = [row for row in rows if row.at.date() >= first]
    per_day: Counter[date] = Counter()
    stamp_days: defaultdict[int, set[date]] = defaultdict(set)
    for row in recent:
        if row.kind == "stamp":
            per_day[row.at.date()] += row.count
            stamp_days[row.card_id].add(row.at.date())
        elif row.kind == "undo":
            per_day[row.at.date()] -= row.count
    days = [first + timedelta(days=n) for n in range(WINDOW_DAYS)]
    return Stats(
        totals=totals,
        active=len({row.card_id for row in recent if row.kind in ("stamp", "redeem")}),
        returning=sum(1 for seen in stamp_days.values() if len(seen) >= 2),
        redeemed_recently=sum(row.count for row in recent if row.kind == "redeem"),
        stamps_per_day=[(day, max(per_day[day], 0)) for day in days],
    )


def stats_json(stats: Stats) -> dict[str, Any]:
    """The figures as GET /api/v1/stats answers them."""
    totals = stats.totals
    return {
        "window_days": WINDOW_DAYS,
        "cards_issued": totals.issued,
        "active_cards": stats.active,
        "returning_customers": stats.returning,
        "stamps_total": totals.stamps,
        "rewards_redeemed": totals.redeemed,
        "rewards_redeemed_recently": stats.redeemed_recently,
        "wallets": {"apple": totals.apple, "google": totals.google},
        "stamps_per_day": [
            {"date": day.isoformat(), "stamps": count} for day, count in stats.stamps_per_day
        ],
    }
