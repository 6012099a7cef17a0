"""What the shop can do, shared by the CLI, the shop API and the pages."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from passes import loyalty, notices
from passes.cache import TtlCache
from passes.config import Settings
from passes.errors import Conflict, InvalidInput, NotFound, Unauthorized, UnknownCard, product_error
from passes.expiry import expire_card, expired
from passes.goal import move_goal
from passes.google.wallet import GoogleWallet
from passes.program import DEFAULT_COLOURS as DEFAULT_COLOURS
from passes.program import LONG_STANDING_LIMITS as LONG_STANDING_LIMITS
from passes.program import OPTIONAL_LIMITS as OPTIONAL_LIMITS
from passes.program import PROGRAM_LIMITS as PROGRAM_LIMITS
from passes.program import (
    ProgramChange,
    Refresh,
    check_colour,
    check_name,
    program_values,
    refresh_for,
)
from passes.store import Store
from passes.store.apple import Deliveries, deliveries
from passes.store.campaigns import promotions_of
from passes.store.cards import (
    CardRow,
    Change,
    LedgerEntry,
    PastChange,
    apply_change,
    card_by_secret,
    card_by_serial,
    card_by_serial_any_shop,
    change_by_key,
    events_at,
    insert_card,
    ledger_entry,
    lock_card,
    lock_card_by_id,
    mark_long_standing,
    mark_referral_rewarded,
    stamped_since,
)
from passes.store.customers import customer_of, erase_customer, save_customer
from passes.store.google import add_google_object, hold_google_update
from passes.store.outbox import finish, retry_at
from passes.store.refresh import Batch, count_in_wallets, note_outbox_growth, refresh_batch
from passes.store.shops import (
    Location,
    ShopRow,
    ShopSummary,
    add_location,
    insert_shop,
    locations_of,
    remove_location,
    rename_shop,
    shop_by_id,
    shop_by_key_hash,
    shop_by_slug,
    shop_summaries,
    update_program,
)

if TYPE_CHECKING:
    from passes.store.writers import CardWriter

log = logging.getLogger("passes.service")

API_KEY_PREFIX = "psk_"
SERIAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
SERIAL_LENGTH = 12
# What a caller may type for a serial (dashes, spaces): longer is no card of ours.
MAX_SERIAL_INPUT = 64
MAX_IDEMPOTENCY_KEY = 200
UNDO_WINDOW = timedelta(minutes=10)
# A new card's Google object is inserted during the request, within this time, while its
# outbox row is held back from workers a little longer (then a worker takes over).
GOOGLE_PUBLISH_SECONDS = 3.0
GOOGLE_HOLD = timedelta(seconds=30)
# How long a known API key is trusted without asking the database again: not past the
# moment, so a rotated key (`passes shop key`) is refused at once by every process; requests
# asking at the same moment still share one read.
KEY_CACHE_SECONDS = 0.0
# Compare-and-set tries on PostgreSQL before queueing on the card's row lock instead.
OPTIMISTIC_TRIES = 3
# How long a shop's promotions are known without asking again: a promotion made by another
# process applies here within this time (this process's own ones at once).
PROMOTION_CACHE_SECONDS = 30.0
# A refresh batch that lost a deadlock (PostgreSQL) is run again, this often at most.
REFRESH_TRIES = 3
DEADLOCK = "40P01"


LONG_STANDING_ACTOR = "loyalty:long-standing"
Rule = Callable[[loyalty.CardState, int], loyalty.CardState]
# A long refresh reports its way: cards done so far, and how many in all.
Progress = Callable[[int, int], None]
# What a change announces on the phone, from the card before and the counters after.
Announce = Callable[[CardRow, loyalty.CardState], notices.Notice | None]


def _silent(card: CardRow, after: loyalty.CardState) -> notices.Notice | None:
    return None


@dataclass(frozen=True)
class FollowUp:
    """More changes that follow a fresh one in its transaction (a promotion's extra stamps,
    becoming long-standing), and whether they would for a card in a given state."""

    applies: Callable[[CardRow, datetime], bool]
    run: Callable[[AsyncConnection, CardRow], Awaitable[CardRow]]


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

    def decide(self, card: CardRow, stamped_today: int) -> Change:
        """The change the rules make of this request, or Conflict when they refuse."""
        try:
            after = self.rule(card.counters, stamped_today)
        except loyalty.Refused as exc:  # a Conflict: the optimistic path retries on a fresh card
            raise product_error(exc) from exc
        notice = self.announce(card, after)
        return Change(self.kind, self.count, self.actor, after, self.key, notice=notice)


@dataclass(frozen=True)
class Customer:
    """Personal data a customer chose to give, with consent."""

    name: str | None
    email: str | None


@dataclass(frozen=True)
class ProgramChanged:
    """The shop after a program change, and how many passes in wallets were refreshed."""

    shop: ShopRow
    refreshed: int
    # Cards whose main reward fell due at once because the stamps required went down.
    rewards_due_now: int = 0


@dataclass(frozen=True)
class CardView:
    """A card with its shop, ready to be shown or serialised."""

    shop: ShopRow
    card: CardRow
    urls: dict[str, str | None]


def hash_api_key(key: str) -> str:
    """API keys are long random strings, so one SHA-256 is the right hash."""
    return hashlib.sha256(key.encode()).hexdigest()


def slugify(name: str) -> str:
    """ "Café Sonne" -> "cafe-sonne"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64]


def new_serial() -> str:
    """A random serial that is easy to read out and type."""
    return "".join(secrets.choice(SERIAL_ALPHABET) for _ in range(SERIAL_LENGTH))


def normalise_serial(typed: str) -> str:
    """Accept what staff type: lower case, spaces and dashes, O for 0, I/L for 1."""
    cleaned = re.sub(r"[\s-]", "", typed).upper()
    return cleaned.translate(str.maketrans("OIL", "011"))


def unknown_serial(typed: str, serial: str) -> str:
    """Why no card matched; says how letters were read when folding changed them."""
    cleaned = re.sub(r"[\s-]", "", typed).upper()
    folded = sorted({f"{a} as {b}" for a, b in zip(cleaned, serial, strict=False) if a != b})
    if not folded:
        return f"no card {serial!r}"
    return (
        f"no card {serial!r} (typed {typed!r}; serials have no O, I or L: read {', '.join(folded)})"
    )


_P = ParamSpec("_P")
_T = TypeVar("_T")


def naming_typed_serial(
    method: Callable[Concatenate[Service, ShopRow, str, _P], Awaitable[_T]],
) -> Callable[Concatenate[Service, ShopRow, str, _P], Awaitable[_T]]:
    """A miss on the serial staff typed says what was typed, not only how it was read."""

    async def looking_up(
        self: Service, shop: ShopRow, serial: str, /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        try:
            return await method(self, shop, serial, *args, **kwargs)
        except UnknownCard as exc:
            raise UnknownCard(exc.serial, unknown_serial(serial, exc.serial)) from exc

    return looking_up


def check_idempotency_key(key: str | None) -> str | None:
    """Idempotency keys are short printable strings."""
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters"
        )
    return key


def check_tier(value: object) -> int | None:
    """The reward to redeem, named by its stamp count (absent: the oldest due)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("tier must be the stamp count of a reward, e.g. 5")
    if not 1 <= value <= loyalty.MAX_STAMPS_REQUIRED:
        raise InvalidInput(f"tier must be 1 to {loyalty.MAX_STAMPS_REQUIRED}")
    return value


def _now() -> datetime:
    return datetime.now(UTC)


def _start_of_day() -> datetime:
    """Midnight UTC today: daily caps count calendar days in UTC."""
    return _now().replace(hour=0, minute=0, second=0, microsecond=0)


def program_of(shop: ShopRow) -> loyalty.Program:
    """The loyalty rules' view of a shop's program."""
    return shop.program.rules()


class Service:
    """The product's operations over one store, with the settings they need."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        on_commit: Callable[[], None] | None = None,
        google: GoogleWallet | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        # None when Google Wallet is off: no save links, no Google objects.
        self.google = google
        # Wakes the in-process push worker; other processes find the rows by polling.
        self.on_commit = on_commit or (lambda: None)
        self._keys: TtlCache[ShopRow] = TtlCache(KEY_CACHE_SECONDS, 1000)
        self._promotions: TtlCache[tuple[loyalty.Promotion, ...]] = TtlCache(
            PROMOTION_CACHE_SECONDS, 1000
        )
        # Decides what has expired; tests move it forward instead of waiting for days.
        self.clock: Callable[[], datetime] = _now

    def urls(self, card: CardRow) -> dict[str, str | None]:
        """Where the customer finds this card; the page URL carries a secret."""
        page = self.settings.card_page_url(card.page_secret)
        google = None if self.google is None else self.google.save_url(card)
        return {"card": page, "apple": f"{page}/pass.pkpass", "google": google}

    def _view(self, shop: ShopRow, card: CardRow) -> CardView:
        return CardView(shop, card, self.urls(card))

    async def create_shop(
        self,
        *,
        name: str,
        stamps: int,
        reward: str,
        slug: str | None = None,
        colours: dict[str, str] | None = None,
    ) -> tuple[ShopRow, str]:
        """Create a shop with its program; returns the shop and its API key (shown once)."""
        name = check_name(name)
        slug = slugify(slug or name)
        if not slug:
            raise InvalidInput("the shop needs a slug of letters or digits (use --slug)")
        loyalty.Program(stamps, reward.strip())  # refuses a program the rules cannot keep
        given = {**DEFAULT_COLOURS, **(colours or {})}
        program = {key: check_colour(key, value) for key, value in given.items()}
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        async with self.store.transaction() as conn:
            await insert_shop(
                conn,
                slug=slug,
                name=name,
                program={**program, "stamps_required": stamps, "reward": reward.strip()},
                key_hash=hash_api_key(key),
                key_prefix=key[:8],
                now=_now(),
            )
            shop = await shop_by_slug(conn, slug)
        return shop, key

    async def change_program(
        self, shop: ShopRow, change: ProgramChange, progress: Progress | None = None
    ) -> ProgramChanged:
        """Change the program as a whole (every value checked first: a refusal, BadSetting,
        changes nothing), then refresh the passes in wallets if what they show changed."""
        values = program_values(shop, change)
        name = None if change.name is None else check_name(change.name)
        async with self.store.transaction() as conn:
            before = await shop_by_id(conn, shop.id)
            if values:
                await update_program(conn, shop.id, values)
            if name is not None and name != before.name:
                await rename_shop(conn, shop.id, name)
            updated = await shop_by_id(conn, shop.id)
            goal = before.program.stamps_required
            rewarded = await move_goal(conn, updated, goal, _now())
        # Cached shops carry the old program; other processes see it within KEY_CACHE_SECONDS.
        self._keys.clear()
        scope = refresh_for(before, updated)
        if scope is Refresh.NONE:
            return ProgramChanged(updated, 0)
        refreshed = await self.refresh_passes(updated, scope is Refresh.LOYAL, progress)
        return ProgramChanged(updated, refreshed, rewarded)

    async def update_program(self, shop: ShopRow, **changes: int | None) -> ShopRow:
        """Change the program's limits and expiry (see PROGRAM_LIMITS)."""
        return (await self.change_program(shop, ProgramChange(limits=changes))).shop

    async def set_tiers(self, shop: ShopRow, tiers: list[tuple[int, str]]) -> ShopRow:
        """Replace the program's intermediate rewards (stamp count, reward), e.g. [(5, "1 Cookie")]."""
        return (await self.change_program(shop, ProgramChange(tiers=tiers))).shop

    async def passes_in_wallets(self, shop: ShopRow) -> int:
        """How many of the shop's passes a program change refreshes."""
        async with self.store.reading() as conn:
            return await count_in_wallets(conn, shop.id)

    async def refresh_passes(
        self, shop: ShopRow, loyal_only: bool = False, progress: Progress | None = None
    ) -> int:
        """Every pass of the shop in a wallet (with `loyal_only`, a long-standing customer's)
        shows the program anew: its card moves and its pushes are queued, a batch of
        settings.refresh_batch cards per transaction (store/refresh.py). Returns how many."""
        async with self.store.reading() as conn:
            total = await count_in_wallets(conn, shop.id, loyal_only=loyal_only)
        done, after = 0, 0
        while total:
            batch = await self._refresh_batch(shop.id, after, loyal_only)
            if batch.last_id is None:
                break
            if done == 0 and total > batch.cards:
                async with self.store.transaction() as conn:
                    await note_outbox_growth(conn)
            done, after = done + batch.cards, batch.last_id
            self.on_commit()  # the worker pushes this batch while the next one is written
            if progress is not None:
                progress(done, max(total, done))
        return done

    async def _refresh_batch(self, shop_id: int, after: int, loyal_only: bool) -> Batch:
        for attempt in range(1, REFRESH_TRIES + 1):
            try:
                async with self.store.transaction() as conn:
                    return await refresh_batch(
                        conn,
                        shop_id,
                        after,
                        self.settings.refresh_batch,
                        _now(),
                        loyal_only=loyal_only,
                    )
            except DBAPIError as exc:
                # A stamp of a referred card locks it, then its referrer: against our id
                # order that can deadlock, and PostgreSQL gives up one side. Ours goes again.
                if getattr(exc.orig, "sqlstate", None) != DEADLOCK or attempt == REFRESH_TRIES:
                    raise
        raise AssertionError("unreachable")

    async def shop(self, slug: str) -> ShopRow:
        """The shop called `slug`."""
        async with self.store.reading() as conn:
            return await shop_by_slug(conn, slug)

    async def authenticate(self, api_key: str) -> ShopRow:
        """The shop owning this API key, or Unauthorized.

        The lookup is by SHA-256 of the key, so timing reveals nothing about
        stored keys. Requests with the same key at the same moment share one
        read; nothing is remembered past it (KEY_CACHE_SECONDS).
        """
        digest = hash_api_key(api_key)

        async def load() -> ShopRow:
            async with self.store.reading() as conn:
                shop = await shop_by_key_hash(conn, digest)
            if shop is None:
                raise Unauthorized("unknown or revoked API key")
            return shop

        return await self._keys.get_or_load(digest, load)

    async def issue_card(
        self,
        shop: ShopRow,
        actor: str,
        *,
        referrer: str | None = None,
        customer: Customer | None = None,
    ) -> CardView:
        """A new card for this shop (anonymous unless the customer consents to more),
        put into Google Wallet too when that is on."""
        now = _now()
        held = None
        async with self.store.transaction() as conn:
            referrer_id = await self._referrer_id(conn, shop, referrer)
            card = await insert_card(
                conn,
                shop_id=shop.id,
                program_id=shop.program.id,
                serial=new_serial(),
                auth_token=secrets.token_urlsafe(24),
                page_secret=secrets.token_urlsafe(24),
                actor=actor,
                now=now,
                referrer_id=referrer_id,
            )
            if customer is not None:
                await save_customer(conn, card.id, customer.name, customer.email, now)
            if self.google is not None:
                await add_google_object(conn, card.id, self.google.object_id(card), now)
                held = await hold_google_update(conn, card.id, now, now + GOOGLE_HOLD)
            welcome = shop.program.welcome_stamps
            if welcome:
                after = loyalty.stamp(program_of(shop), card.counters, welcome, now)
                change = bonus_change(shop, card, welcome, "welcome", after)
                card = await apply_change(conn, card, change, now)
        if held is not None:
            await self._publish_new(shop, card, held)
        return self._view(shop, card)

    async def _referrer_id(
        self, conn: AsyncConnection, shop: ShopRow, referrer: str | None
    ) -> int | None:
        """The recommending card of this shop; an unknown or voided one earns nothing."""
        if not referrer:
            return None
        try:
            found = await card_by_serial(conn, shop.id, normalise_serial(referrer))
        except NotFound:
            return None
        return None if found.counters.voided else found.id

    async def _reward_referral(
        self, conn: AsyncConnection, shop: ShopRow, card: CardRow, now: datetime
    ) -> CardRow:
        """At a referred card's first real stamp, it and its referrer each get the bonus, once.

        The referrer had to exist before the card, so no loop of cards can refer
        each other, and the flag on the card makes the bonus a one-time event.
        """
        bonus = shop.program.referral_bonus
        await mark_referral_rewarded(conn, card.id)
        if bonus < 1 or card.referrer_id is None:
            return card
        program = program_of(shop)
        referrer = await lock_card_by_id(conn, card.referrer_id)
        for target in (card, referrer):
            if target.counters.voided:
                continue
            after = loyalty.stamp(program, target.counters, bonus, now)
            change = bonus_change(shop, target, bonus, f"referral:{card.serial}", after)
            moved = await apply_change(conn, target, change, now)
            card = moved if target is card else card
        return replace(card, referral_rewarded=True)

    async def add_location(
        self, shop: ShopRow, location: Location, progress: Progress | None = None
    ) -> int:
        """A place where the pass should surface on the lock screen; every pass in a wallet
        gets it. Returns how many passes were refreshed."""
        if not (-90 <= location.latitude <= 90 and -180 <= location.longitude <= 180):
            raise InvalidInput("latitude must be -90 to 90 and longitude -180 to 180")
        if not 1 <= len(location.address.strip()) <= 200:
            raise InvalidInput("the address must be 1 to 200 characters")
        async with self.store.transaction() as conn:
            await add_location(conn, shop.id, location)
        return await self.refresh_passes(shop, progress=progress)

    async def remove_location(
        self,
        shop: ShopRow,
        position: int,
        address: str | None = None,
        progress: Progress | None = None,
    ) -> tuple[Location, int]:
        """Remove the shop's place at `position` (1-based, as listed); every pass in a wallet
        loses it. Returns the place and how many passes were refreshed."""
        async with self.store.transaction() as conn:
            removed = await remove_location(conn, shop.id, position, address)
        return removed, await self.refresh_passes(shop, progress=progress)

    async def shops(self) -> list[ShopSummary]:
        """Every shop with its number of cards (the operator's list)."""
        async with self.store.reading() as conn:
            return await shop_summaries(conn)

    async def locations(self, shop: ShopRow) -> list[Location]:
        """The shop's places."""
        async with self.store.reading() as conn:
            return await locations_of(conn, shop.id)

    @naming_typed_serial
    async def personal_data(self, shop: ShopRow, serial: str) -> dict[str, Any]:
        """Everything personal we hold about a card's holder (usually nothing)."""
        async with self.store.reading() as conn:
            card = await card_by_serial(conn, shop.id, normalise_serial(serial))
            found = await customer_of(conn, card.id)
        return {"serial": card.serial, "personal_data": found}

    @naming_typed_serial
    async def erase_personal_data(self, shop: ShopRow, serial: str) -> bool:
        """Delete the holder's personal data; the anonymous ledger stays."""
        async with self.store.transaction() as conn:
            card = await card_by_serial(conn, shop.id, normalise_serial(serial))
            return await erase_customer(conn, card.id)

    @naming_typed_serial
    async def card(self, shop: ShopRow, serial: str) -> CardView:
        """The shop's card `serial`."""
        async with self.store.reading() as conn:
            card = await card_by_serial(conn, shop.id, normalise_serial(serial))
        return await self.fresh(shop, card)

    async def fresh(self, shop: ShopRow, card: CardRow) -> CardView:
        """The card to show; what has expired by now is recorded first (the sweep may lag)."""
        return self._view(shop, await self.fresh_card(shop, card))

    async def fresh_card(self, shop: ShopRow, card: CardRow) -> CardRow:
        """The card with what has expired by now recorded; as read when nothing has."""
        if expired(shop, card, self.clock()) is not None:
            async with self.store.transaction() as conn:
                locked = await lock_card_by_id(conn, card.id)
                card = await expire_card(conn, shop, locked, self.clock())
            self.on_commit()
        return card

    async def find_card(self, serial: str) -> CardView:
        """Any shop's card `serial` (for the operator's command line only)."""
        async with self.store.reading() as conn:
            try:
                card = await card_by_serial_any_shop(conn, normalise_serial(serial))
            except UnknownCard as exc:
                raise UnknownCard(exc.serial, unknown_serial(serial, exc.serial)) from exc
            shop = await shop_by_id(conn, card.shop_id)
        return await self.fresh(shop, card)

    async def card_by_secret(self, page_secret: str) -> CardView:
        """The card behind a customer's card-page URL."""
        async with self.store.reading() as conn:
            card = await card_by_secret(conn, page_secret)
            shop = await shop_by_id(conn, card.shop_id)
        return await self.fresh(shop, card)

    async def stamp(
        self, shop: ShopRow, serial: str, count: int, *, actor: str, idempotency_key: str | None
    ) -> CardView:
        """Add stamps; a retry with the same key answers the first result and stamps nothing."""
        program = program_of(shop)
        loyalty.check_count(count)
        cap = shop.program.daily_cap

        def rule(state: loyalty.CardState, stamped_today: int) -> loyalty.CardState:
            loyalty.check_daily_cap(stamped_today, count, cap)
            return loyalty.stamp(program, state, count, self.clock())

        then = self._after_stamp(shop, count, await self.promotions(shop))
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
        )

    async def redeem(
        self,
        shop: ShopRow,
        serial: str,
        *,
        actor: str,
        idempotency_key: str | None,
        tier: int | None = None,
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
    ) -> CardView:
        asked = _Asked(
            serial=normalise_serial(serial),
            kind=kind,
            count=count,
            actor=actor,
            key=check_idempotency_key(idempotency_key),
            rule=rule,
            # Only programs with a daily cap pay for counting today's stamps.
            since=_start_of_day() if counts_today else None,
            then=then,
            announce=announce,
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
            if then is not None and then.applies(replace(seen.card, counters=change.after), _now()):
                return None  # more changes follow in the same transaction: the locked path
            written = await optimistic.apply_if_unchanged(seen.card, change, _now())
            if written is not None:
                card, queued = written
                if queued:
                    self.on_commit()
                return self._view(shop, card)
        return None  # stamped by many at once: queue on the row lock instead

    def _more_than_one_change(self, shop: ShopRow, asked: _Asked, card: CardRow) -> bool:
        """Whether another change comes with this one, which only the locked path writes:
        a referral changes two cards (both locks), an expiry is an event of its own first."""
        return _rewards_referral(asked.kind, card) or expired(shop, card, self.clock()) is not None

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
            card = await apply_change(conn, card, asked.decide(card, today), _now())
            if _rewards_referral(asked.kind, card):
                card = await self._reward_referral(conn, shop, card, _now())
            if asked.then is not None:  # what follows a fresh change (not a retry), at once
                card = await asked.then.run(conn, card)
        self.on_commit()
        return self._view(shop, card)

    def _replay(self, shop: ShopRow, card: CardRow, earlier: PastChange, asked: _Asked) -> CardView:
        """The answer to a retried request: the card as the first answer showed it."""
        if (earlier.change.kind, earlier.change.count) != (asked.kind, asked.count):
            raise Conflict(
                "this Idempotency-Key was used for a different request", "idempotency_key_reused"
            )
        return self._view(shop, _as_of(card, earlier))

    @naming_typed_serial
    async def void(self, shop: ShopRow, serial: str, *, actor: str) -> CardView:
        """Void the card; voiding twice changes nothing more."""
        async with self.store.transaction() as conn:
            card = await lock_card(conn, shop.id, normalise_serial(serial))
            if card.counters.voided:
                return self._view(shop, card)
            after = loyalty.void(card.counters)
            change = Change("void", 0, actor, after, notice=notices.silent("voided"))
            card = await apply_change(conn, card, change, _now())
        self.on_commit()
        return self._view(shop, card)

    @naming_typed_serial
    async def undo_stamp(
        self, shop: ShopRow, serial: str, event_id: int, *, actor: str
    ) -> CardView:
        """Take back a stamp given by mistake, within UNDO_WINDOW; undoing twice changes nothing."""
        program = program_of(shop)
        async with self.store.transaction() as conn:
            card = await lock_card(conn, shop.id, normalise_serial(serial))
            entry = await ledger_entry(conn, card.id, event_id)
            entry, extra = await _with_promotion_bonus(conn, card.id, entry)
            if entry.kind != "stamp":
                raise Conflict("only stamps can be undone", "not_a_stamp")
            if entry.undone:
                return self._view(shop, card)
            if _now() - entry.created_at > UNDO_WINDOW:
                minutes = int(UNDO_WINDOW.total_seconds() // 60)
                raise Conflict(
                    f"stamps can be undone for {minutes} minutes only", "undo_window_passed"
                )
            after = loyalty.undo_stamp(program, card.counters, entry.count)
            card = await apply_change(conn, card, _undo("undo", entry, actor, after), _now())
            if extra is not None:
                card = await self._undo_bonus(conn, shop, card, extra, actor)
        self.on_commit()
        return self._view(shop, card)

    @naming_typed_serial
    async def deliveries(self, shop: ShopRow, serial: str) -> tuple[CardView, Deliveries]:
        """The card with what we know of getting its updates onto phones."""
        await self.store.fetches.flush()  # this process's fetch times, written behind
        async with self.store.reading() as conn:
            card = await card_by_serial(conn, shop.id, normalise_serial(serial))
            found = await deliveries(conn, card.id)
        return self._view(shop, card), found

    async def _publish_new(self, shop: ShopRow, card: CardRow, outbox_id: int) -> None:
        """Insert a new card's Google object now; if Google is slow or down, the worker will."""
        assert self.google is not None
        card_url = self.settings.card_page_url(card.page_secret)
        try:
            places = await self.locations(shop)
            await asyncio.wait_for(
                self.google.publish(shop, card, card_url, places), GOOGLE_PUBLISH_SECONDS
            )
        except Exception as exc:  # card creation never fails because Google does
            log.warning("Google Wallet object for a new card left to the worker: %s", exc)
            async with self.store.transaction() as conn:
                await retry_at(conn, [outbox_id], _now())
            self.on_commit()
            return
        async with self.store.transaction() as conn:
            await finish(conn, [outbox_id])

    # --- Promotions, long-standing customers, pass refreshes ------------------------------

    def forget_promotions(self, shop_id: int) -> None:
        """The shop's promotions changed: ask the database at the next stamp."""
        self._promotions.drop(str(shop_id))

    async def promotions(self, shop: ShopRow) -> tuple[loyalty.Promotion, ...]:
        """The shop's promotions that have not ended, cached for PROMOTION_CACHE_SECONDS.

        Every stamp asks, so a shop without promotions must not cost a round trip each.
        """

        async def load() -> tuple[loyalty.Promotion, ...]:
            async with self.store.reading() as conn:
                return tuple(await promotions_of(conn, shop.id, _now()))

        return await self._promotions.get_or_load(str(shop.id), load)

    def _after_stamp(
        self, shop: ShopRow, count: int, promotions: tuple[loyalty.Promotion, ...]
    ) -> FollowUp | None:
        """A fresh stamp's follow-ups in its transaction: a running promotion's extra stamps
        (a `bonus` event of their own, so a retry of the stamp gives none), then the
        long-standing check. None when the shop has neither."""
        rule = long_standing_rule(shop)
        if not promotions and not rule.enabled:
            return None

        def applies(card: CardRow, now: datetime) -> bool:
            promoted = loyalty.promotion_bonus(count, card.id, promotions, now)[1] is not None
            already = card.loyal_since is not None
            return promoted or loyalty.becomes_long_standing(
                rule, card.counters, card.created_at, now, already
            )

        async def then(conn: AsyncConnection, card: CardRow) -> CardRow:
            # The stamp's own moment: its undo finds the bonus by it (see undo_stamp).
            now = card.updated_at
            extra, promotion = loyalty.promotion_bonus(count, card.id, promotions, now)
            if promotion is not None:
                card = await self._bonus(conn, shop, card, extra, f"promotion:{promotion.id}", now)
            state = card.counters
            turns = loyalty.becomes_long_standing(
                rule, state, card.created_at, now, card.loyal_since is not None
            )
            return await self._make_long_standing(conn, shop, card, now) if turns else card

        return FollowUp(applies, then)

    async def _bonus(
        self,
        conn: AsyncConnection,
        shop: ShopRow,
        card: CardRow,
        count: int,
        actor: str,
        now: datetime,
    ) -> CardRow:
        after = loyalty.add_bonus(program_of(shop), card.counters, count)
        perk = shop.program.loyal_perk if actor == LONG_STANDING_ACTOR else None
        change = bonus_change(shop, card, count, actor, after, perk=perk)
        return await apply_change(conn, card, change, now)

    async def _undo_bonus(
        self, conn: AsyncConnection, shop: ShopRow, card: CardRow, bonus: LedgerEntry, actor: str
    ) -> CardRow:
        """A promotion's extra stamps go with the stamp that earned them."""
        after = loyalty.remove_bonus(program_of(shop), card.counters, bonus.count)
        return await apply_change(conn, card, _undo("undo_bonus", bonus, actor, after), _now())

    async def _make_long_standing(
        self, conn: AsyncConnection, shop: ShopRow, card: CardRow, now: datetime
    ) -> CardRow:
        """Mark the card long-standing (its perk shows from now on) and give the bonus, once."""
        if not await mark_long_standing(conn, card.id, now):
            return card
        card = replace(card, loyal_since=now)
        bonus = shop.program.loyal_bonus_stamps
        if bonus > 0 and not card.counters.voided:
            card = await self._bonus(conn, shop, card, bonus, LONG_STANDING_ACTOR, now)
        return card

    async def update_long_standing(
        self, shop: ShopRow, *, perk: str | None = None, **changes: int
    ) -> ShopRow:
        """Set when cards become long-standing, their one-time bonus and their perk
        (see LONG_STANDING_LIMITS; `perk` "" removes it, None leaves it). A changed perk
        refreshes the passes of the cards already long-standing."""
        change = ProgramChange(standing=changes, perk=perk)
        return (await self.change_program(shop, change)).shop


def _undo(kind: str, entry: LedgerEntry, actor: str, after: loyalty.CardState) -> Change:
    """Taking back a ledger entry (a stamp, its promotion bonus): recorded, not announced."""
    notice = notices.silent("undone")
    return Change(kind, entry.count, actor, after, undoes_event_id=entry.id, notice=notice)


def bonus_change(
    shop: ShopRow,
    card: CardRow,
    count: int,
    actor: str,
    after: loyalty.CardState,
    *,
    perk: str | None = None,
) -> Change:
    """Bonus stamps for `card`, announced as notices.bonus decides."""
    notice = notices.bonus(
        program_of(shop),
        card.counters,
        after,
        previous=card.notice,
        card_version=card.version,
        perk=perk,
    )
    return Change("bonus", count, actor, after, notice=notice)


def _rewards_referral(kind: str, card: CardRow) -> bool:
    """A referred card's first real stamp also rewards its referrer (see _reward_referral)."""
    return kind == "stamp" and card.referrer_id is not None and not card.referral_rewarded


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


def long_standing_rule(shop: ShopRow) -> loyalty.LongStanding:
    """The loyalty rules' view of when the shop's cards become long-standing."""
    program = shop.program
    return loyalty.LongStanding(
        program.loyal_after_cards, program.loyal_after_months, program.loyal_bonus_stamps
    )


async def _with_promotion_bonus(
    conn: AsyncConnection, card_id: int, entry: LedgerEntry
) -> tuple[LedgerEntry, LedgerEntry | None]:
    """The stamp to undo and the promotion bonus it earned, if any and not yet taken back.

    Staff undo the card's last change, which is the bonus when a promotion ran: that
    means its stamp.
    """
    if entry.kind not in ("stamp", "bonus"):
        return entry, None
    moment = await events_at(conn, card_id, entry.created_at)
    stamp = next((e for e, _ in moment if e.kind == "stamp"), None)
    bonus = next(
        (e for e, actor in moment if e.kind == "bonus" and actor.startswith("promotion:")), None
    )
    if stamp is None or bonus is None or (entry.kind == "bonus" and entry.id != bonus.id):
        return entry, None
    return stamp, None if bonus.undone else bonus
