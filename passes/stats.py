"""The owner's figures, computed from card totals and recent ledger rows (pure)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    # Of `stamps`: the bonus stamps (welcome, referral, promotion, long-standing, campaign).
    bonus: int = 0


@dataclass(frozen=True)
class LedgerRow:
    """One stamp, bonus, undo or redeem event (`undoes`: the event an undo takes back)."""

    card_id: int
    kind: str
    count: int
    at: datetime
    id: int = 0
    undoes: int | None = None
    # Where it happened: shop_locations.id (an undo: where the change it takes back did), or
    # None. A removed branch's id stays.
    branch_id: int | None = None


@dataclass(frozen=True)
class BranchCount:
    """A branch's stamps (counter stamps, undos netted out) and rewards redeemed in the
    window; `branch_id` None: the changes made without a branch."""

    branch_id: int | None
    stamps: int
    redeemed: int


@dataclass(frozen=True)
class Stats:
    """What the dashboard and GET /api/v1/stats show."""

    totals: CardTotals
    active: int
    returning: int
    redeemed_recently: int
    stamps_per_day: list[tuple[date, int]]
    # Bonus stamps per day, apart from the stamps given at the counter.
    bonus_per_day: list[tuple[date, int]] = field(default_factory=list)
    # Stamping occasions (one stamp event, whatever its count; undone ones not).
    visits: int = 0
    # The branch the ledger figures are for (None: the whole shop); the card facts (cards
    # issued, wallets) are always the whole shop's.
    branch_id: int | None = None
    # Every branch's part of the window, the whole shop's rows apart by branch.
    by_branch: list[BranchCount] = field(default_factory=list)


def window_start(today: date) -> date:
    """The first day the figures look at."""
    return today - timedelta(days=WINDOW_DAYS - 1)


def figures(
    totals: CardTotals, rows: list[LedgerRow], today: date, branch: int | None = None
) -> Stats:
    """Active and returning cards and stamps per day over the last WINDOW_DAYS days (UTC),
    of the whole shop or (`branch`) of the rows of one branch, and every branch's part."""
    first = window_start(today)
    every = [row for row in rows if row.at.date() >= first]
    recent = every if branch is None else [row for row in every if row.branch_id == branch]
    per_day: Counter[date] = Counter()
    bonus_day: Counter[date] = Counter()
    stamp_days: defaultdict[int, set[date]] = defaultdict(set)
    for row in recent:
        if row.kind == "stamp":
            per_day[row.at.date()] += row.count
            stamp_days[row.card_id].add(row.at.date())
        elif row.kind == "undo":
            per_day[row.at.date()] -= row.count
        elif row.kind == "bonus":
            bonus_day[row.at.date()] += row.count
        elif row.kind == "undo_bonus":
            bonus_day[row.at.date()] -= row.count
    days = [first + timedelta(days=n) for n in range(WINDOW_DAYS)]
    return Stats(
        totals=totals,
        active=len({row.card_id for row in recent if row.kind in ("stamp", "redeem")}),
        returning=sum(1 for seen in stamp_days.values() if len(seen) >= 2),
        redeemed_recently=sum(row.count for row in recent if row.kind == "redeem"),
        stamps_per_day=[(day, max(per_day[day], 0)) for day in days],
        bonus_per_day=[(day, max(bonus_day[day], 0)) for day in days],
        visits=visits(recent),
        branch_id=branch,
        by_branch=by_branch(every),
    )


def by_branch(rows: list[LedgerRow]) -> list[BranchCount]:
    """Stamps and rewards redeemed per branch, by branch id, the rows without one last."""
    stamps: Counter[int | None] = Counter()
    redeemed: Counter[int | None] = Counter()
    for row in rows:
        if row.kind == "stamp":
            stamps[row.branch_id] += row.count
        elif row.kind == "undo":
            stamps[row.branch_id] -= row.count
        elif row.kind == "redeem":
            redeemed[row.branch_id] += row.count
    seen = {*stamps, *redeemed}
    order = sorted(seen, key=lambda found: (found is None, found or 0))
    return [BranchCount(found, stamps[found], redeemed[found]) for found in order]


def visits(rows: list[LedgerRow]) -> int:
    """Stamp events not taken back: one visit each, however many stamps it gave."""
    undone = {row.undoes for row in rows if row.kind == "undo"}
    return sum(1 for row in rows if row.kind == "stamp" and row.id not in undone)


@dataclass(frozen=True)
class BranchLine:
    """A row of the branches' comparison: the branch (None: changes without one), its name
    (None for those), whether it was removed since, its stamps and rewards redeemed."""

    branch_id: int | None
    name: str | None
    removed: bool
    stamps: int
    redeemed: int


def branch_lines(stats: Stats, names: Mapping[int, str]) -> list[BranchLine]:
    """Every branch of the shop (`names`: id -> name, in their order), then the removed
    branches the window's ledger still names, then the changes without a branch."""
    counted = {found.branch_id: found for found in stats.by_branch}
    lines = []
    for branch_id in [*names, *(found for found in counted if found not in names)]:
        part = counted.get(branch_id, BranchCount(branch_id, 0, 0))
        name = None if branch_id is None else names.get(branch_id)
        removed = branch_id is not None and branch_id not in names
        lines.append(BranchLine(branch_id, name, removed, part.stamps, part.redeemed))
    # Without a branch last, as the comparison's remainder.
    return sorted(lines, key=lambda line: line.branch_id is None)


def stats_json(stats: Stats, names: Mapping[int, str] | None = None) -> dict[str, Any]:
    """The figures as GET /api/v1/stats answers them (`names`: the shop's branches)."""
    totals = stats.totals
    bonus = dict(stats.bonus_per_day)
    branches = [
        {
            "branch": line.branch_id,
            "name": line.name,
            "removed": line.removed,
            "stamps": line.stamps,
            "rewards_redeemed": line.redeemed,
        }
        for line in branch_lines(stats, names or {})
    ]
    return {
        "branch": stats.branch_id,
        "branches": branches,
        "window_days": WINDOW_DAYS,
        "cards_issued": totals.issued,
        "active_cards": stats.active,
        "returning_customers": stats.returning,
        "stamps_total": totals.stamps,
        "bonus_stamps_total": totals.bonus,
        "rewards_redeemed": totals.redeemed,
        "rewards_redeemed_recently": stats.redeemed_recently,
        "wallets": {"apple": totals.apple, "google": totals.google},
        "stamps_per_day": [
            {"date": day.isoformat(), "stamps": count, "bonus": bonus.get(day, 0)}
            for day, count in stats.stamps_per_day
        ],
    }


# --- Success control: does the program pay off? ------------------------------------------

RESPONSE_DAYS = 7
# The amounts an owner may give for the cost estimate (a reward's cost, an average basket).
MAX_AMOUNT = 10_000


@dataclass(frozen=True)
class CampaignResponse:
    """Visits within RESPONSE_DAYS of a campaign: recipients against the held-out group."""

    campaign_id: int
    text: str
    sent_at: datetime
    recipients: int
    recipients_visited: int
    held_out: int
    held_out_visited: int


@dataclass(frozen=True)
class ProgramTotals:
    """All-time figures the success estimate needs."""

    rewards_earned: int
    rewards_redeemed: int
    visits: int
    visiting_cards: int


def rate(part: int, whole: int) -> float | None:
    """part/whole rounded, or None when there is nothing to divide by."""
    return round(part / whole, 3) if whole else None


def campaign_json(response: CampaignResponse) -> dict[str, Any]:
    """One campaign's response, with the uplift over the hold-out (None without a hold-out)."""
    treated = rate(response.recipients_visited, response.recipients)
    control = rate(response.held_out_visited, response.held_out)
    uplift = None if treated is None or control is None else round(treated - control, 3)
    return {
        "campaign": response.campaign_id,
        "text": response.text,
        "sent_at": response.sent_at.isoformat(),
        "recipients": response.recipients,
        "response_rate": treated,
        "held_out": response.held_out,
        "held_out_response_rate": control,
        "uplift": uplift,
        "extra_visits": None if uplift is None else round(uplift * response.recipients, 1),
    }


def success_json(
    stats: Stats,
    totals: ProgramTotals,
    responses: list[CampaignResponse],
    reward_cost: float | None,
    basket: float | None,
) -> dict[str, Any]:
    """Redemption rate, visits per active card, returning rate, campaign response and a
    simple return-on-investment estimate the owner can read."""
    repeat_visits = totals.visits - totals.visiting_cards
    campaigns = [campaign_json(response) for response in responses]
    result: dict[str, Any] = {
        "redemption_rate": rate(totals.rewards_redeemed, totals.rewards_earned),
        "visits_per_active_card": rate(stats.visits, stats.active),
        "returning_customer_rate": rate(stats.returning, stats.active),
        "repeat_visits": repeat_visits,
        "campaigns": campaigns,
    }
    if reward_cost is not None and basket is not None:
        cost = totals.rewards_redeemed * reward_cost
        extra = sum(c["extra_visits"] or 0 for c in campaigns)
        revenue = repeat_visits * basket
        result["estimate"] = {
            "reward_cost": reward_cost,
            "average_basket": basket,
            "program_cost": round(cost, 2),
            "repeat_visit_revenue": round(revenue, 2),
            "campaign_extra_visit_revenue": round(extra * basket, 2),
            "return_per_cost": round(revenue / cost, 2) if cost else None,
            "note": "repeat visits are visits after a card's first; not all would be lost "
            "without the program, so read this as an upper bound",
        }
    return result
