"""The change pipeline of a card: stamp, redeem, void. The rules decide (loyalty.py) and the
store writes the decision: optimistically where the store has a writer for it (store/writers.py),
else under the card's row lock. A retried request (same Idempotency-Key) replays its answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from passes import fraud_rules, loyalty, notices
from passes.bonuses import Bonuses, FollowUp, rewards_referral
from passes.cards import Cards, CardView, program_of
from passes.clock import Clock, start_of_day
from passes.errors import Conflict, product_error
from passes.expiry import expire_card, expired
from passes.serials import check_idempotency_key, naming_typed_serial, normalise_serial
from passes.store import Store
from passes.store.card_changes import apply_change
from passes.store.cards import CardRow, lock_card
from passes.store.ledger import (
    NO_ORIGIN,
    Change,
    Origin,
    PastChange,
    change_by_key,
    counted_for,
    last_stamp_since,
    stamped_since,
)
from passes.store.shops import ShopRow
from passes.store.staff_days import count_stamps
from passes.store.writers import CardWriter

# Compare-and-set tries on PostgreSQL before queueing on the card's row lock instead.
OPTIMISTIC_TRIES = 3


@dataclass(frozen=True)
class Recent:
    """What the ledger says of a card's recent stamps, for the rules that limit them: its
    stamps today (daily cap) and when it was last stamped (cooldown); asked only when a
    rule needs them (0 and None otherwise)."""

    stamped_today: int = 0
    last_stamp: datetime | None = None


Rule = Callable[[loyalty.CardState, Recent], loyalty.CardState]

# What a change announces on the phone, from the card before and the counters after.
Announce = Callable[[CardRow, loyalty.CardState], notices.Notice | None]


def _silent(card: CardRow, after: loyalty.CardState) -> notices.Notice | None:
    return None


@dataclass(frozen=True)
class _Asked:
    """One requested change of a card (stamp, redeem), before the rules have decided."""

    serial: str
    kind: str
    count: int
    actor: str
    key: str | None
    # The rules: the card's state and its recent stamps in, the state after out.
    rule: Rule
    since: datetime | None
    then: FollowUp | None = None
    announce: Announce = _silent
    origin: Origin = NO_ORIGIN
    # From when the card's last stamp matters (a cooldown); None: it does not.
    stamped_from: datetime | None = None

    @property
    def counts_person(self) -> bool:
        """Whether the change counts toward a person's stamps of the day (staff_days)."""
        return self.kind == "stamp" and counted_for(self.actor, self.origin.staff_id) is not None

    def decide(self, card: CardRow, recent: Recent) -> Change:
        """The change the rules make of this request, or Conflict when they refuse."""
        try:
            after = self.rule(card.counters, recent)
        except loyalty.Refused as exc:  # a Conflict: the optimistic path retries on a fresh card
            raise product_error(exc) from exc
        notice = self.announce(card, after)
        return Change(
            self.kind, self.count, self.actor, after, self.key, notice=notice, origin=self.origin
        )


class Changes:
    """Stamping, redeeming and voiding the shop's cards."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        on_commit: Callable[[], None],
        cards: Cards,
        bonuses: Bonuses,
    ) -> None:
        self.store = store
        self.clock = clock
        # Wakes the in-process push worker; other processes find the rows by polling.
        self.on_commit = on_commit
        self.cards = cards
        self.bonuses = bonuses

    async def stamp(
        self,
        shop: ShopRow,
        serial: str,
        count: int,
        *,
        actor: str,
        idempotency_key: str | None,
        origin: Origin = NO_ORIGIN,
        cooldown: int | None = None,
    ) -> CardView:
        """Add stamps; a retry with the same key answers the first result and stamps nothing.
        `cooldown` (minutes) replaces the shop's own for this stamp (a counter page's)."""
        program = program_of(shop)
        loyalty.check_count(count)
        cap = shop.program.daily_cap
        cooldown = cooldown if cooldown is not None else shop.program.stamp_cooldown_minutes

        def rule(state: loyalty.CardState, recent: Recent) -> loyalty.CardState:
            now = self.clock()
            loyalty.check_daily_cap(recent.stamped_today, count, cap)
            fraud_rules.check_cooldown(recent.last_stamp, now, cooldown)
            return loyalty.stamp(program, state, count, now)

        promotions = await self.bonuses.promotions(shop)
        then = self.bonuses.after_stamp(shop, count, promotions, origin)
        return await self._change(
            shop,
            serial,
            "stamp",
            count,
            actor,
            idempotency_key,
            rule,
            counts_today=cap is not None,
            stamped_from=fraud_rules.cooldown_start(self.clock(), cooldown),
            then=then,
            announce=lambda card, after: notices.stamped(program, card.counters, after),
            origin=origin,
        )

    async def redeem(
        self,
        shop: ShopRow,
        serial: str,
        *,
        actor: str,
        idempotency_key: str | None,
        tier: int | None = None,
        origin: Origin = NO_ORIGIN,
    ) -> CardView:
        """Take one due reward: the one earned at `tier` stamps, else the oldest due."""
        program = program_of(shop)
        return await self._change(
            shop,
            serial,
            "redeem",
            1,
            actor,
            idempotency_key,
            lambda state, _: loyalty.redeem(state, program, tier, self.clock()),
            announce=lambda card, after: notices.silent("redeemed"),
            origin=origin,
        )

    @naming_typed_serial
    async def _change(
        self,
        shop: ShopRow,
        serial: str,
        kind: str,
        count: int,
        actor: str,
        idempotency_key: str | None,
        rule: Rule,
        *,
        counts_today: bool = False,
        stamped_from: datetime | None = None,
        then: FollowUp | None = None,
        announce: Announce = _silent,
        origin: Origin = NO_ORIGIN,
    ) -> CardView:
        asked = _Asked(
            serial=normalise_serial(serial),
            kind=kind,
            count=count,
            actor=actor,
            key=check_idempotency_key(idempotency_key),
            rule=rule,
            # Only programs with a daily cap pay for counting today's stamps.
            since=start_of_day(self.clock()) if counts_today else None,
            then=then,
            announce=announce,
            origin=origin,
            stamped_from=stamped_from,
        )
        optimistic = self.store.optimistic
        # A person's stamp counts in staff_days in the same transaction: the locked path.
        if optimistic is not None and not asked.counts_person:
            done = await self._change_optimistically(optimistic, shop, asked)
            if done is not None:
                return done
            optimistic.forget(shop.id, asked.serial)  # the locked path changes it another way
        return await self._change_locked(shop, asked)

    async def _change_optimistically(
        self, optimistic: CardWriter, shop: ShopRow, asked: _Asked
    ) -> CardView | None:
        """Read, decide, write if unchanged (store/writers.py); None leaves it to the locked path.

        The first read may answer a card remembered from this process's last change of
        it; any doubt about such a card (the rules refuse, a lost race) reads it afresh.
        """
        fresh = False
        for _ in range(OPTIMISTIC_TRIES):
            seen = await optimistic.snapshot(
                shop.id,
                asked.serial,
                asked.key,
                asked.since,
                fresh=fresh,
                stamped_from=asked.stamped_from,
            )
            fresh = True
            if seen.earlier is not None:
                return self._replay(shop, seen.card, seen.earlier, asked)
            if self._more_than_one_change(shop, asked, seen.card):
                return None
            try:
                change = asked.decide(seen.card, Recent(seen.stamped_today, seen.last_stamp))
            except Conflict:
                if seen.remembered:
                    continue  # perhaps refused for a stale card: ask the database
                raise
            then = asked.then
            if then is not None and then.applies(
                replace(seen.card, counters=change.after), self.clock()
            ):
                return None  # more changes follow in the same transaction: the locked path
            written = await optimistic.apply_if_unchanged(seen.card, change, self.clock())
            if written is not None:
                card, queued = written
                if queued:
                    self.on_commit()
                return self.cards.view(shop, card)
        return None  # stamped by many at once: queue on the row lock instead

    def _more_than_one_change(self, shop: ShopRow, asked: _Asked, card: CardRow) -> bool:
        """Whether another change comes with this one, which only the locked path writes:
        a referral changes two cards (both locks), an expiry is an event of its own first."""
        return rewards_referral(asked.kind, card) or expired(shop, card, self.clock()) is not None

    async def _change_locked(self, shop: ShopRow, asked: _Asked) -> CardView:
        """Lock the card, decide, write: SQLite (one writer at a time), referrals, hot cards."""
        async with self.store.transaction() as conn:
            card = await lock_card(conn, shop.id, asked.serial)
            key = asked.key
            earlier = None if key is None else await change_by_key(conn, card.id, key)
            if earlier is not None:
                return self._replay(shop, card, earlier, asked)
            card = await expire_card(conn, shop, card, self.clock())
            recent = await _recent(conn, card, asked)
            card = await apply_change(conn, card, asked.decide(card, recent), self.clock())
            if rewards_referral(asked.kind, card):
                card = await self.bonuses.reward_referral(conn, shop, card, self.clock())
            if asked.then is not None:  # what follows a fresh change (not a retry), at once
                card = await asked.then.run(conn, card)
            if asked.counts_person:  # last: its row lock is held the shortest
                await self._count_person(conn, shop, asked)
        self.on_commit()
        return self.cards.view(shop, card)

    async def _count_person(self, conn: AsyncConnection, shop: ShopRow, asked: _Asked) -> None:
        """Count the stamp for the person who gave it; past their daily limit, refuse it (the
        transaction, the stamp with it, is rolled back)."""
        staff_id = asked.origin.staff_id
        assert staff_id is not None
        limit = shop.program.staff_daily_stamps
        day = start_of_day(self.clock()).date()
        if not await count_stamps(conn, shop.id, staff_id, day, asked.count, limit):
            assert limit is not None
            raise product_error(fraud_rules.staff_limit_reached(limit))

    def _replay(self, shop: ShopRow, card: CardRow, earlier: PastChange, asked: _Asked) -> CardView:
        """The answer to a retried request: the card as the first answer showed it."""
        if (earlier.change.kind, earlier.change.count) != (asked.kind, asked.count):
            raise Conflict(
                "this Idempotency-Key was used for a different request", "idempotency_key_reused"
            )
        return self.cards.view(shop, _as_of(card, earlier))

    @naming_typed_serial
    async def void(self, shop: ShopRow, serial: str, *, actor: str) -> CardView:
        """Void the card; voiding twice changes nothing more."""
        async with self.store.transaction() as conn:
            card = await lock_card(conn, shop.id, normalise_serial(serial))
            if card.counters.voided:
                return self.cards.view(shop, card)
            after = loyalty.void(card.counters)
            change = Change("void", 0, actor, after, notice=notices.silent("voided"))
            card = await apply_change(conn, card, change, self.clock())
        self.on_commit()
        return self.cards.view(shop, card)


async def _recent(conn: AsyncConnection, card: CardRow, asked: _Asked) -> Recent:
    """The card's recent stamps as far as the rules asked for them, read under its lock."""
    since, stamped_from = asked.since, asked.stamped_from
    today = 0 if since is None else await stamped_since(conn, card.id, since)
    last = None if stamped_from is None else await last_stamp_since(conn, card.id, stamped_from)
    return Recent(today, last)


def _as_of(card: CardRow, earlier: PastChange) -> CardRow:
    """The card as it was answered the first time (for idempotent retries)."""
    counters = replace(
        earlier.change.after, voided=card.counters.voided, last_visit=card.counters.last_visit
    )
    return replace(
        card,
        counters=counters,
        version=earlier.version,
        last_event_id=earlier.event_id,
        updated_at=earlier.at,
    )
