"""Queries about cards and their ledger. Every change appends an event and moves the card."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Select,
    Update,
    bindparam,
    case,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from passes import loyalty, notices
from passes.errors import NotFound, UnknownCard
from passes.store.outbox import (
    ENQUEUE,
    ENQUEUE_LOCKING,
    ENQUEUE_LOCKING_MANY,
    ENQUEUE_MANY,
    enqueue_params,
)
from passes.store.tables import card_events, cards

# A card's counters as stored (on the card, and after each ledger event) are exactly the
# rules' state of it: one type, so a change needs no conversion on its way in or out.
Counters = loyalty.CardState


@dataclass(frozen=True)
class CardRow:
    """A card as stored."""

    id: int
    shop_id: int
    program_id: int
    serial: str
    auth_token: str
    page_secret: str
    counters: Counters
    version: int
    last_event_id: int | None
    pass_modified_at: datetime
    last_fetched_at: datetime | None
    created_at: datetime
    updated_at: datetime
    news: str | None = None
    referrer_id: int | None = None
    referral_rewarded: bool = False
    loyal_since: datetime | None = None
    notice: notices.Notice | None = None


@dataclass(frozen=True)
class Change:
    """One ledger entry to append: what happened, who did it, and the counters after."""

    kind: str
    count: int
    actor: str
    after: Counters
    idempotency_key: str | None = None
    undoes_event_id: int | None = None
    # A campaign message: shown on the pass as news, and sent to Google as a message.
    news: str | None = None
    campaign_id: int | None = None
    # What the phone announces (notices.py); None: nothing, the card keeps its last notice.
    notice: notices.Notice | None = None


@dataclass(frozen=True)
class PastChange:
    """A change already in the ledger, with the card's version and time after it."""

    change: Change
    event_id: int
    version: int
    at: datetime


_CARD_COLUMNS = tuple(cards.c)
# Wallets ask "what changed since tag". SQLite runs one writer at a time, so
# ledger ids appear in commit order and serve as tags. On PostgreSQL they do
# not; there the writing transaction's id is the tag, and an answer's next tag
# is the oldest transaction still running (store/apple.py), so nothing is missed.
PG_TAG: ColumnElement[int] = literal_column("pg_current_xact_id()::text::bigint")


class Row(Protocol):
    """A result row read by column name: SQLAlchemy's RowMapping or an asyncpg Record."""

    def __getitem__(self, key: str, /) -> Any: ...


def card_from(row: Row) -> CardRow:
    """A card from a row of its table's columns (SQLAlchemy mapping or asyncpg record)."""
    return CardRow(
        id=row["id"],
        shop_id=row["shop_id"],
        program_id=row["program_id"],
        serial=row["serial"],
        auth_token=row["auth_token"],
        page_secret=row["page_secret"],
        counters=Counters(
            stamps=row["stamps"],
            rewards_available=row["rewards_available"],
            total_stamps=row["total_stamps"],
            rewards_redeemed=row["rewards_redeemed"],
            voided=row["voided"],
            rewards_due=decode_dues(row["rewards_due"]),
            stamps_expired=row["stamps_expired"],
            rewards_expired=row["rewards_expired"],
            last_visit=row["last_visit_at"],
        ),
        version=row["version"],
        last_event_id=row["last_event_id"],
        pass_modified_at=row["pass_modified_at"],
        last_fetched_at=row["last_fetched_at"],
        news=row["news"],
        referrer_id=row["referrer_id"],
        referral_rewarded=row["referral_rewarded"],
        loyal_since=row["loyal_since"],
        notice=notices.decode(row["notice"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def past_change(row: Row, prefix: str = "") -> PastChange:
    """A ledger event (its columns, optionally prefixed) as the change it made."""
    counters = Counters(
        stamps=row[f"{prefix}stamps_after"],
        rewards_available=row[f"{prefix}rewards_after"],
        total_stamps=row[f"{prefix}total_after"],
        rewards_redeemed=row[f"{prefix}redeemed_after"],
        rewards_due=decode_dues(row[f"{prefix}rewards_due_after"]),
        stamps_expired=row[f"{prefix}stamps_expired_after"] or 0,
        rewards_expired=row[f"{prefix}rewards_expired_after"] or 0,
    )
    change = Change(
        row[f"{prefix}kind"],
        row[f"{prefix}count"],
        row[f"{prefix}actor"],
        counters,
        row[f"{prefix}idempotency_key"],
    )
    return PastChange(
        change, row[f"{prefix}id"], row[f"{prefix}version_after"], row[f"{prefix}created_at"]
    )


def encode_dues(dues: tuple[tuple[int, datetime | None], ...]) -> str | None:
    """Due rewards as stored: "at@epoch,..." (times already whole seconds), NULL for none."""
    return ",".join([f"{at}@{int(since.timestamp())}" for at, since in dues if since]) or None


def decode_dues(stored: str | None) -> tuple[tuple[int, datetime | None], ...]:
    """Stored due rewards back as (stamp count, since) pairs."""
    if not stored:
        return ()
    pairs = (item.split("@") for item in stored.split(","))
    return tuple((int(at), datetime.fromtimestamp(int(epoch), UTC)) for at, epoch in pairs)


def _as_stored(after: Counters, now: datetime) -> Counters:
    """The counters with the times the rules left open set to this change's moment."""
    if after.last_visit is not None and all(since for _, since in after.rewards_due):
        return after
    moment = whole_second(now)
    dues = tuple((at, since or moment) for at, since in after.rewards_due)
    return replace(after, rewards_due=dues, last_visit=after.last_visit or now)


def _rule_params(after: Counters, dues: str | None) -> dict[str, Any]:
    """The card columns of tiers and expiry (see _card_move); `dues` as encode_dues wrote them."""
    return {
        "m_rewards_due": dues,
        "m_rewards_due_since": min((s for _, s in after.rewards_due if s), default=None),
        "m_last_visit": after.last_visit,
        "m_stamps_expired": after.stamps_expired,
        "m_rewards_expired": after.rewards_expired,
    }


async def insert_card(
    conn: AsyncConnection,
    *,
    shop_id: int,
    program_id: int,
    serial: str,
    auth_token: str,
    page_secret: str,
    actor: str,
    now: datetime,
    referrer_id: int | None = None,
) -> CardRow:
    """Create a card and its `issue` ledger entry."""
    values = dict(
        shop_id=shop_id,
        program_id=program_id,
        serial=serial,
        auth_token=auth_token,
        page_secret=page_secret,
        stamps=0,
        rewards_available=0,
        total_stamps=0,
        rewards_redeemed=0,
        voided=False,
        version=1,
        pass_modified_at=whole_second(now),
        last_fetched_at=None,
        news=None,
        notice=None,
        referrer_id=referrer_id,
        referral_rewarded=False,
        loyal_since=None,
        rewards_due=None,
        rewards_due_since=None,
        last_visit_at=now,
        stamps_expired=0,
        rewards_expired=0,
        created_at=now,
        updated_at=now,
    )
    card_id = (await conn.execute(insert(cards).values(values).returning(cards.c.id))).scalar_one()
    card = card_from({**values, "id": card_id, "last_event_id": None})
    issue = Change("issue", 0, actor, Counters(0, 0, 0, 0, last_visit=now))
    event_params = _event_params(card, issue, 1, now, issue.after, None)
    event_id = int((await conn.execute(EVENT_INSERT, event_params)).scalar_one())
    tag = PG_TAG if conn.dialect.name == "postgresql" else event_id
    await conn.execute(
        update(cards).where(cards.c.id == card_id).values(last_event_id=event_id, update_tag=tag)
    )
    return replace(card, last_event_id=event_id)


_CARD_BY_SERIAL = select(*_CARD_COLUMNS).where(
    cards.c.shop_id == bindparam("shop_id"), cards.c.serial == bindparam("serial")
)


async def card_by_serial(conn: AsyncConnection, shop_id: int, serial: str) -> CardRow:
    """The shop's card `serial`; another shop's card is NotFound too."""
    found = await conn.execute(_CARD_BY_SERIAL, {"shop_id": shop_id, "serial": serial})
    row = found.mappings().first()
    if row is None:
        raise UnknownCard(serial)
    return card_from(row)


async def card_by_secret(conn: AsyncConnection, page_secret: str) -> CardRow:
    """The card whose page secret this is."""
    return await _one_card(conn, cards.c.page_secret == page_secret, NotFound("no such card"))


async def card_by_serial_any_shop(conn: AsyncConnection, serial: str) -> CardRow:
    """The card `serial`, whatever its shop (operator tools only)."""
    return await _one_card(conn, cards.c.serial == serial, UnknownCard(serial))


async def _one_card(
    conn: AsyncConnection, where: ColumnElement[bool], missing: NotFound
) -> CardRow:
    row = (await conn.execute(select(*_CARD_COLUMNS).where(where))).mappings().first()
    if row is None:
        raise missing
    return card_from(row)


_LOCK_CARD = _CARD_BY_SERIAL.with_for_update()
_CHANGE_BY_KEY = select(card_events).where(
    card_events.c.card_id == bindparam("card_id"),
    card_events.c.idempotency_key == bindparam("key"),
)


async def lock_card(conn: AsyncConnection, shop_id: int, serial: str) -> CardRow:
    """The card, locked until the transaction ends (SQLite's writer already holds the lock)."""
    found = await conn.execute(_LOCK_CARD, {"shop_id": shop_id, "serial": serial})
    row = found.mappings().first()
    if row is None:
        raise UnknownCard(serial)
    return card_from(row)


_LOCK_CARD_BY_ID = select(*_CARD_COLUMNS).where(cards.c.id == bindparam("id")).with_for_update()


async def lock_card_by_id(conn: AsyncConnection, card_id: int) -> CardRow:
    """The card with this id, locked until the transaction ends."""
    row = (await conn.execute(_LOCK_CARD_BY_ID, {"id": card_id})).mappings().first()
    if row is None:
        raise NotFound("no such card")
    return card_from(row)


async def lock_cards_by_id(conn: AsyncConnection, card_ids: Iterable[int]) -> dict[int, CardRow]:
    """The cards with these ids (those that exist), locked in id order until the transaction
    ends (one order for every locker: no deadlock between two of them)."""
    ids = sorted(set(card_ids))
    if not ids:
        return {}
    query = select(*_CARD_COLUMNS).where(cards.c.id.in_(ids)).order_by(cards.c.id)
    found = await conn.execute(query.with_for_update())
    return {row["id"]: card_from(row) for row in found.mappings()}


def stamped_since_query(card_id: Any, since: Any) -> Select[Any]:
    """The stamps given to a card since a moment, less those undone (for daily caps)."""
    events = card_events.c
    signed = case((events.kind == "undo", -events.count), else_=events.count)
    return select(func.coalesce(func.sum(signed), 0)).where(
        events.card_id == card_id,
        or_(events.kind == "stamp", events.kind == "undo"),
        events.created_at >= since,
    )


async def stamped_since(conn: AsyncConnection, card_id: int, since: datetime) -> int:
    """Stamps given to the card since `since`, less those undone."""
    return int((await conn.execute(stamped_since_query(card_id, since))).scalar_one())


async def change_by_key(
    conn: AsyncConnection, card_id: int, idempotency_key: str
) -> PastChange | None:
    """The change made earlier on this card with this Idempotency-Key, if any.

    Asked after lock_card in its own statement, so on PostgreSQL it sees a
    change that a concurrent retry committed while we waited for the lock.
    """
    found = await conn.execute(_CHANGE_BY_KEY, {"card_id": card_id, "key": idempotency_key})
    row = found.mappings().first()
    return None if row is None else past_change(row)


@dataclass(frozen=True)
class LedgerEntry:
    """One stored event, as far as undoing it needs."""

    id: int
    kind: str
    count: int
    created_at: datetime
    undone: bool


async def ledger_entry(conn: AsyncConnection, card_id: int, event_id: int) -> LedgerEntry:
    """The card's event `event_id`, and whether an undo already names it."""
    undo = card_events.alias("undo")
    query = (
        select(card_events, undo.c.id.label("undo_id"))
        .outerjoin(undo, undo.c.undoes_event_id == card_events.c.id)
        .where(card_events.c.id == event_id, card_events.c.card_id == card_id)
    )
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"no change {event_id} on this card")
    return LedgerEntry(
        row["id"], row["kind"], row["count"], row["created_at"], row["undo_id"] is not None
    )


async def apply_change(
    conn: AsyncConnection, card: CardRow, change: Change, now: datetime
) -> CardRow:
    """Append `change` to the ledger, move the card and queue its pushes (one transaction).

    On PostgreSQL the three writes travel as one statement (data-modifying
    CTEs); SQLite, in-process and without them, runs them one by one.
    """
    params = change_params(card, change, now)
    if conn.dialect.name == "postgresql":
        event_id = int((await conn.execute(_CHANGE_AT_ONCE, params)).scalar_one())
    else:
        event_id = int((await conn.execute(EVENT_INSERT, params)).scalar_one())
        await conn.execute(_CARD_MOVE, {**params, "m_event_id": event_id, "m_tag": event_id})
        await conn.execute(ENQUEUE, params)
    return moved_card(card, change, params, event_id)


async def apply_changes(
    conn: AsyncConnection, changes: Sequence[tuple[CardRow, Change]], now: datetime
) -> None:
    """apply_change for many cards (locked by the caller) in three statements, whatever their
    number: the ledger rows, the cards' moves and their pushes, each sent as one batch.
    A card named twice gets its changes in the order given."""
    if not changes:
        return
    params: list[dict[str, Any]] = []
    latest: dict[int, CardRow] = {}
    for card, change in changes:
        card = latest.get(card.id, card)
        values = change_params(card, change, now)
        latest[card.id] = moved_card(card, change, values, 0)
        params.append(values)
    rows = [
        {key[2:]: value for key, value in values.items() if key.startswith("e_")}
        for values in params
    ]
    inserted = await conn.execute(_EVENT_IDS, rows)
    for values, event_id in zip(params, inserted.scalars().all(), strict=True):
        values["m_event_id"] = values["m_tag"] = event_id
    postgres = conn.dialect.name == "postgresql"
    await conn.execute(_CARD_MOVE_PG if postgres else _CARD_MOVE, params)
    await conn.execute(ENQUEUE_LOCKING_MANY if postgres else ENQUEUE_MANY, params)


def change_params(card: CardRow, change: Change, now: datetime) -> dict[str, Any]:
    """The bind parameters of writing `change`: ledger event, card move and outbox."""
    version = card.version + 1
    # Distinct whole seconds per change, so If-Modified-Since never hides one.
    modified = max(whole_second(now), card.pass_modified_at + timedelta(seconds=1))
    after = _as_stored(change.after, now)
    dues = encode_dues(after.rewards_due)
    return {
        **_event_params(card, change, version, now, after, dues),
        **_rule_params(after, dues),
        **enqueue_params(card.id, now, change.campaign_id),
        "m_card_id": card.id,
        "m_stamps": after.stamps,
        "m_rewards": after.rewards_available,
        "m_total": after.total_stamps,
        "m_redeemed": after.rewards_redeemed,
        "m_voided": after.voided,
        "m_version": version,
        "m_expected_version": card.version,
        "m_modified": modified,
        "m_now": now,
        "m_news": change.news if change.news is not None else card.news,
        "m_notice": notices.encode(_notice_after(card, change, version)),
    }


def _notice_after(card: CardRow, change: Change, version: int) -> notices.Notice | None:
    """The card's notice after `change`: its own, stamped with the version it makes, or the
    card's last one unchanged."""
    if change.notice is None:
        return card.notice
    return replace(change.notice, version=version)


def moved_card(card: CardRow, change: Change, params: dict[str, Any], event_id: int) -> CardRow:
    """The card after `change` was written with `params` (see change_params)."""
    return replace(
        card,
        counters=_as_stored(change.after, params["m_now"]),
        version=params["m_version"],
        last_event_id=event_id,
        pass_modified_at=params["m_modified"],
        updated_at=params["m_now"],
        news=params["m_news"],
        notice=_notice_after(card, change, params["m_version"]),
    )


def _event_params(
    card: CardRow, change: Change, version: int, now: datetime, after: Counters, dues: str | None
) -> dict[str, Any]:
    """The ledger row of `change`, with its counters `after` as stored (see _as_stored)."""
    return {
        "e_card_id": card.id,
        "e_shop_id": card.shop_id,
        "e_kind": change.kind,
        "e_count": change.count,
        "e_idempotency_key": change.idempotency_key,
        "e_undoes_event_id": change.undoes_event_id,
        "e_actor": change.actor,
        "e_stamps_after": after.stamps,
        "e_rewards_after": after.rewards_available,
        "e_total_after": after.total_stamps,
        "e_redeemed_after": after.rewards_redeemed,
        "e_version_after": version,
        "e_created_at": now,
        "e_rewards_due_after": dues,
        "e_stamps_expired_after": after.stamps_expired,
        "e_rewards_expired_after": after.rewards_expired,
    }


# What a change writes into the card's columns, from which parameter of change_params.
CARD_MOVES = {
    "stamps": "m_stamps",
    "rewards_available": "m_rewards",
    "total_stamps": "m_total",
    "rewards_redeemed": "m_redeemed",
    "voided": "m_voided",
    "version": "m_version",
    "pass_modified_at": "m_modified",
    "news": "m_news",
    "notice": "m_notice",
    "updated_at": "m_now",
    "rewards_due": "m_rewards_due",
    "rewards_due_since": "m_rewards_due_since",
    "last_visit_at": "m_last_visit",
    "stamps_expired": "m_stamps_expired",
    "rewards_expired": "m_rewards_expired",
}


# Ledger columns that repeat what the card's move writes (see change_params), so a batch
# sends each of those values once, as the move's parameter.
EVENT_AS_MOVE = {
    "card_id": "m_card_id",
    "stamps_after": "m_stamps",
    "rewards_after": "m_rewards",
    "total_after": "m_total",
    "redeemed_after": "m_redeemed",
    "version_after": "m_version",
    "created_at": "m_now",
    "rewards_due_after": "m_rewards_due",
    "stamps_expired_after": "m_stamps_expired",
    "rewards_expired_after": "m_rewards_expired",
}


def card_move(event_id: ColumnElement[Any], tag: ColumnElement[Any]) -> Update:
    """The card's update for one change (bind parameters as CARD_MOVES names them)."""
    moves = {
        column: bindparam(param, type_=cards.c[column].type) for column, param in CARD_MOVES.items()
    }
    return (
        update(cards)
        .where(cards.c.id == bindparam("m_card_id"))
        .values(**moves, last_event_id=event_id, update_tag=tag)
    )


# Statements are built once: building SQL per stamp costs more than running it.
EVENT_INSERT = (
    insert(card_events)
    .values(
        {
            column.name: bindparam(f"e_{column.name}", type_=column.type)
            for column in card_events.c
            if column.name != "id"
        }
    )
    .returning(card_events.c.id)
)
_CARD_MOVE = card_move(bindparam("m_event_id"), bindparam("m_tag"))
_CARD_MOVE_PG = card_move(bindparam("m_event_id"), PG_TAG)
# Many ledger rows in one INSERT, their ids in the order of the rows (apply_changes).
_EVENT_IDS = insert(card_events).returning(card_events.c.id, sort_by_parameter_order=True)
_APPENDED = EVENT_INSERT.cte("appended")
_CHANGE_AT_ONCE = (
    select(_APPENDED.c.id)
    .add_cte(
        card_move(select(_APPENDED.c.id).scalar_subquery(), PG_TAG)
        .returning(cards.c.id)
        .cte("moved")
    )
    .add_cte(ENQUEUE_LOCKING.cte("queued"))
)


def whole_second(moment: datetime) -> datetime:
    """HTTP dates have whole seconds; so does what we compare them with."""
    return moment.replace(microsecond=0)


async def expiring_cards(
    conn: AsyncConnection,
    program_id: int,
    *,
    stamps_before: datetime | None,
    rewards_before: datetime | None,
    after_id: int,
    limit: int,
) -> list[CardRow]:
    """Cards of the program with stamps unvisited since `stamps_before` or rewards due since
    `rewards_before`, by id after `after_id`, locked; on PostgreSQL rows another worker
    holds are skipped (it is expiring them)."""
    due: list[ColumnElement[bool]] = []
    if stamps_before is not None:
        due.append((cards.c.stamps > 0) & (cards.c.last_visit_at <= stamps_before))
    if rewards_before is not None:
        due.append(cards.c.rewards_due_since <= rewards_before)
    if not due:
        return []
    query = (
        select(*_CARD_COLUMNS)
        .where(cards.c.program_id == program_id, cards.c.id > after_id, ~cards.c.voided)
        .where(or_(*due))
        .order_by(cards.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [card_from(row) for row in (await conn.execute(query)).mappings()]


async def mark_referral_rewarded(conn: AsyncConnection, card_id: int) -> None:
    """The referral bonus for this card has been given."""
    await conn.execute(update(cards).where(cards.c.id == card_id).values(referral_rewarded=True))


async def mark_long_standing(conn: AsyncConnection, card_id: int, now: datetime) -> bool:
    """The card is long-standing from now on; False when it already was (the bonus comes once)."""
    marked = await conn.execute(
        update(cards)
        .where(cards.c.id == card_id, cards.c.loyal_since.is_(None))
        .values(loyal_since=now)
    )
    return bool(marked.rowcount)


async def events_at(
    conn: AsyncConnection, card_id: int, at: datetime
) -> list[tuple[LedgerEntry, str]]:
    """The card's events of one moment (a stamp and the bonus it earned share it), with actors."""
    undo = card_events.alias("undo")
    query = (
        select(card_events, undo.c.id.label("undo_id"))
        .outerjoin(undo, undo.c.undoes_event_id == card_events.c.id)
        .where(card_events.c.card_id == card_id, card_events.c.created_at == at)
        .order_by(card_events.c.id)
    )
    return [
        (
            LedgerEntry(
                row["id"], row["kind"], row["count"], row["created_at"], row["undo_id"] is not None
            ),
            row["actor"],
        )
        for row in (await conn.execute(query)).mappings()
    ]


async def cards_for_goal(conn: AsyncConnection, shop_id: int, goal: int) -> list[CardRow]:
    """The shop's cards a new goal of `goal` stamps may change (stamps at or past it, or a
    reward due), locked in id order."""
    query = (
        select(*_CARD_COLUMNS)
        .where(cards.c.shop_id == shop_id, ~cards.c.voided)
        .where((cards.c.stamps >= goal) | (cards.c.rewards_available > 0))
        .order_by(cards.c.id)
        .with_for_update()
    )
    return [card_from(row) for row in (await conn.execute(query)).mappings()]
