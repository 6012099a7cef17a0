"""The change pipeline of a card: stamp, redeem, void. The rules decide (loyalty.py) and the
store writes the decision: optimistically where the store has a writer for it (store/writers.py),
else under the card's row lock. A retried request (same Idempotency-Key) replays its answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from passes import loyalty, notices
from passes.bonuses import Bonuses, FollowUp, rewards_referral
from passes.cards import Cards, CardView, program_of
from passes.clock import Clock, start_of_day
from passes.errors import Conflict, product_error
from passes.expiry import expire_card, expired
from passes.serials import check_idempotency_key, naming_typed_serial, normalise_serial
from passes.store import Store
from passes.store.card_changes import apply_change
from passes.store.cards import CardRow, lock_card
from passes.store.ledger import NO_ORIGIN, Change, Origin, PastChange, change_by_key, stamped_since
from passes.store.shops import ShopRow
from passes.store.writers import CardWriter

# Compare-and-set tries on PostgreSQL before queueing on the card's row lock instead.
OPTIMISTIC_TRIES = 3


Rule = Callable[[loyalty.CardState, int], loyalty.CardState]

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
    # The rules: the card's state and its stamps today in, the state after out.
    rule: Rule
    since: datetime | None
    then: FollowUp | None = None
    announce: Announce = _silent
    origin: Origin = NO_ORIGIN

    def decide(self, card: CardRow, stamped_today: int) -> Change:
        """The change the rules make of this request, or Conflict when they refuse."""
        try:
            after = self.rule(card.counters, stamped_today)
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
    ) -> CardView:
        """Add stamps; a retry with the same key answers the first result and stamps nothing."""
        program = program_of(shop)
        loyalty.check_count(count)
        cap = shop.program.daily_cap

        def rule(state: loyalty.CardState, stamped_today: int) -> loyalty.CardState:
            loyalty.check_daily_cap(stamped_today, count, cap)
            return loyalty.stamp(program, state, count, self.clock())

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
        )
        optimistic = self.store.optimistic
        if optimistic is not None:
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
                shop.id, asked.serial, asked.key, asked.since, fresh=fresh
            )
            fresh = True
            if seen.earlier is not None:
                return self._replay(shop, seen.card, seen.earlier, asked)
            if self._more_than_one_change(shop, asked, seen.card):
                return None
            try:
                change = asked.decide(seen.card, seen.stamped_today)
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
            since = asked.since
            today = 0 if since is None else await stamped_since(conn, card.id, since)
            card = await apply_change(conn, card, asked.decide(card, today), self.clock())
            if rewards_referral(asked.kind, card):
                card = await self.bonuses.reward_referral(conn, shop, card, self.clock())
            if asked.then is not None:  # what follows a fresh change (not a retry), at once
                card = await asked.then.run(conn, card)
        self.on_commit()
        return self.cards.view(shop, card)

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
