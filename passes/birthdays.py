"""The birthday gift, given by a push-worker job: once a year, on the birthday or up to the
program's days before it, in the server's local time (as campaign times); a worker that was
down on the day catches up for birthday_rules.CATCH_UP_DAYS after it.

The gift is the owner's bonus stamps, or (gift "reward") the stamps missing to the card's
next reward, so that reward falls due on the day. The rule is birthday_rules; this module
finds the cards and records each gift as a `bonus` ledger event (actor "birthday:<year>")
through the change pipeline, so the pass is pushed and the lock screen greets the customer
(notices.birthday). Several workers may run it at
once: the card is locked and its `birthday_given_year` set by a conditional update in the
bonus's transaction, so each birthday gives once.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from passes import birthday_rules, loyalty, notices
from passes.cards import program_of
from passes.clock import Clock, system_clock
from passes.expiry import expire_card
from passes.store import Store
from passes.store.card_changes import apply_change
from passes.store.cards import lock_card_by_id
from passes.store.customers import (
    BirthdayCard,
    birthday_cards,
    birthday_of,
    mark_birthday_given,
)
from passes.store.ledger import Change
from passes.store.shops import ShopRow, birthday_programs

log = logging.getLogger("passes.birthdays")

ACTOR = "birthday"
# Each card's time is short; the job runs often enough that a birthday never waits long
# after midnight, and cheaply (one query per shop with a bonus).
EVERY = timedelta(minutes=10)


def local_day(now: datetime) -> date:
    """The calendar day `now` falls on in the server's time zone."""
    return now.astimezone().date()


class Birthdays:
    """Gives the birthday bonuses due today."""

    def __init__(self, store: Store, *, clock: Clock = system_clock) -> None:
        self.store = store
        self.clock = clock

    async def run(self, now: datetime | None = None) -> int:
        """Give every bonus due at `now` (else the clock's time); returns how many."""
        now = now or self.clock()
        async with self.store.reading() as conn:
            shops = await birthday_programs(conn)
        given = 0
        for shop in shops:
            given += await self._shop(shop, now)
        if given:
            log.info("birthdays: %d bonus(es) given", given)
        return given

    async def _shop(self, shop: ShopRow, now: datetime) -> int:
        today = local_day(now)
        before = shop.program.birthday_days_before
        days = birthday_rules.candidate_days(today, before)
        async with self.store.reading() as conn:
            found = await birthday_cards(conn, shop.program.id, days)
        given = 0
        for candidate in found:
            year = birthday_rules.gives(
                candidate.month, candidate.day, today, before, candidate.given_year
            )
            if year is not None:
                given += await self._give(shop, candidate, year, now)
        return given

    async def _give(self, shop: ShopRow, candidate: BirthdayCard, year: int, now: datetime) -> int:
        """The bonus for the birthday in `year`, unless another worker gave it first or the
        holder took their birthday back meanwhile."""
        async with self.store.transaction() as conn:
            card = await lock_card_by_id(conn, candidate.card_id)
            if card.counters.voided or await birthday_of(conn, card.id) is None:
                return 0
            if not await mark_birthday_given(conn, card.id, year):
                return 0
            # What expired goes first, as on a stamp: the gift lands on the card as it stands.
            card = await expire_card(conn, shop, card, now)
            program = program_of(shop)
            count = _gift(shop, card.counters)
            after = loyalty.add_bonus(program, card.counters, count)
            notice = notices.birthday(program, card.counters, after)
            change = Change("bonus", count, f"{ACTOR}:{year}", after, notice=notice)
            await apply_change(conn, card, change, now)
        return 1


def _gift(shop: ShopRow, card: loyalty.CardState) -> int:
    """The stamps the birthday gives: the owner's bonus, or those missing to the next reward."""
    if shop.program.birthday_gift == "reward":
        return loyalty.next_reward(program_of(shop), card)[0]
    return shop.program.birthday_bonus_stamps
