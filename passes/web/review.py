"""The dashboard's review list of unusual activity, and the ledger rows behind each entry.

Over the last REVIEW_DAYS days: cards with more stamps on one day than the owner's threshold
(programs.review_card_stamps), and people far above their usual day (fraud_rules.far_above).
Each entry links to `/dashboard/{shop}/ledger?card=SERIAL&day=YYYY-MM-DD` (or `?person=ID`),
the ledger rows of that card or person on that day (UTC), for the owner and managers only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from passes.fraud_rules import (
    FAR_ABOVE_AT_LEAST,
    FAR_ABOVE_FACTOR,
    REVIEW_DAYS,
    USUAL_DAYS,
    PersonDay,
    unusual_days,
)
from passes.inputs import whole_number
from passes.serials import normalise_serial
from passes.service import Service
from passes.store.people import names_of
from passes.store.review import BusyCard, busy_cards, ledger_lines, person_name
from passes.store.shops import ShopRow
from passes.store.staff_days import stamps_by_day
from passes.text_keys import N_

if TYPE_CHECKING:  # the dashboard shows the review list: it imports this module
    from passes.web.dashboard import DashboardPages

# Keys named by a code: the refusals the staff page says in its own words (staff.py _refusal),
# the rules form's fields (program_form.refusal); then the ledger's kinds the page names
# (others show as stored).
NAMED_KEYS = (
    *(N_("refusal_cooldown"), N_("refusal_staff_daily_limit"), N_("stamp_cooldown_minutes")),
    *(N_("staff_daily_stamps"), N_("review_card_stamps")),
)
KIND_KEYS = {
    "issue": N_("ledger_kind_issue"),
    "stamp": N_("ledger_kind_stamp"),
    "bonus": N_("ledger_kind_bonus"),
    "redeem": N_("ledger_kind_redeem"),
    "undo": N_("ledger_kind_undo"),
    "undo_bonus": N_("ledger_kind_undo_bonus"),
}
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A review link's day, and its card's serial or its person's id.
Asked = tuple[date, str | None, int | None]


@dataclass(frozen=True)
class Review:
    """What the review section shows: the busy cards, the people far above their usual (with
    their names) and the rules that found them."""

    # Each entry with the link to its ledger rows; a person with their name.
    cards: list[tuple[BusyCard, str]]
    people: list[tuple[PersonDay, str, str]]
    card_stamps: int
    days: int = REVIEW_DAYS
    usual_days: int = USUAL_DAYS
    factor: int = FAR_ABOVE_FACTOR
    at_least: int = FAR_ABOVE_AT_LEAST


async def review_of(service: Service, shop: ShopRow) -> Review:
    """The shop's review list for the last REVIEW_DAYS days (today, UTC, included)."""
    today = service.clock().date()
    first = today - timedelta(days=REVIEW_DAYS - 1)
    threshold = shop.program.review_card_stamps
    async with service.store.reading() as conn:
        since = datetime.combine(first, time.min, tzinfo=UTC)
        cards = await busy_cards(conn, shop.id, since, threshold)
        volumes = await stamps_by_day(conn, shop.id, first - timedelta(days=USUAL_DAYS))
        found = unusual_days(volumes, (first + timedelta(days=n) for n in range(REVIEW_DAYS)))
        names = await names_of(conn, {entry.staff_id for entry in found})
    people = [
        (entry, names.get(entry.staff_id, f"#{entry.staff_id}"), _link(shop, entry.day, entry))
        for entry in found
    ]
    return Review([(card, _link(shop, card.day, card)) for card in cards], people, threshold)


def _link(shop: ShopRow, day: date, entry: BusyCard | PersonDay) -> str:
    """The page of one review entry's ledger rows."""
    which = {"card": entry.serial} if isinstance(entry, BusyCard) else {"person": entry.staff_id}
    return f"/dashboard/{shop.slug}/ledger?{urlencode({**which, 'day': day.isoformat()})}"


class ReviewPages:
    """`GET /dashboard/{shop}/ledger`: the ledger rows behind a review entry."""

    def __init__(self, dashboard: DashboardPages) -> None:
        self.dashboard = dashboard
        self.site = dashboard.site
        self.service = dashboard.service

    def routes(self) -> list[Route]:
        """The review's ledger page."""
        return [Route("/dashboard/{shop}/ledger", self.ledger, methods=["GET"])]

    async def ledger(self, request: Request) -> Response:
        shop = await self.dashboard.owner(request)
        if shop is None:
            return RedirectResponse(f"/dashboard/{request.path_params['shop']}", status_code=303)
        query = request.query_params
        asked = _entry_asked(query.get("day", ""), query.get("card"), query.get("person"))
        if asked is None:
            return self.site.message(request, 422, N_("review_link_invalid"))
        day, serial, staff_id = asked
        start = datetime.combine(day, time.min, tzinfo=UTC)
        async with self.service.store.reading() as conn:
            rows = await ledger_lines(
                conn, shop.id, start, start + timedelta(days=1), serial=serial, staff_id=staff_id
            )
            names = await names_of(conn, {row.staff_id for row in rows if row.staff_id})
            who = None if staff_id is None else await person_name(conn, shop.id, staff_id)
        return self.site.render(
            request,
            "review_ledger.html",
            shop=shop,
            day=day,
            serial=serial,
            person=who if who is not None else (None if staff_id is None else f"#{staff_id}"),
            rows=rows,
            names=names,
            kinds=KIND_KEYS,
            # The footer's language links keep what the page shows.
            keep_query=urlencode({key: value for key, value in query.items() if key != "lang"}),
        )


def _entry_asked(day: str, card: str | None, person: str | None) -> Asked | None:
    """The day and the card or person a review link names; None when it is not one."""
    if not DAY.fullmatch(day) or (card is None) == (person is None):
        return None
    try:
        when = date.fromisoformat(day)
    except ValueError:
        return None
    if card is not None:
        serial = normalise_serial(card)
        return (when, serial, None) if 0 < len(serial) <= 32 else None
    staff_id = whole_number(person or "", 18)
    return None if staff_id is None else (when, None, staff_id)
