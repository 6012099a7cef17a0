"""Writing a change: its ledger event, the card's move and its pushes, in one transaction.

change_params and moved_card are shared with the batched writers (store/optimistic.py on
PostgreSQL, store/sqlite_writer.py on SQLite), so every path writes a change the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Update, bindparam, insert, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from passes import notices
from passes.store.cards import CardRow, Counters, card_from, encode_dues, whole_second
from passes.store.ledger import Change
from passes.store.outbox import (
    ENQUEUE,
    ENQUEUE_LOCKING,
    ENQUEUE_LOCKING_MANY,
    ENQUEUE_MANY,
    enqueue_params,
)
from passes.store.tables import card_events, cards

# Wallets ask "what changed since tag". SQLite runs one writer at a time, so
# ledger ids appear in commit order and serve as tags. On PostgreSQL they do
# not; there the writing transaction's id is the tag, and an answer's next tag
# is the oldest transaction still running (store/apple.py), so nothing is missed.
PG_TAG: ColumnElement[int] = literal_column("pg_current_xact_id()::text::bigint")


def _as_stored(after: Counters, now: datetime) -> Counters:
    """The counters with the times the rules left open set to this change's moment."""
    if after.last_visit is not None and all(since for _, since in after.rewards_due):
        return after
    moment = whole_second(now)
    dues = tuple((at, since or moment) for at, since in after.rewards_due)
    return replace(after, rewards_due=dues, last_visit=after.last_visit or now)


def _rule_params(after: Counters, dues: str | None) -> dict[str, Any]:
    """The card columns of tiers and expiry (see card_move); `dues` as encode_dues wrote them."""
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
        "e_staff_id": change.origin.staff_id,
        "e_branch_id": change.origin.branch_id,
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
