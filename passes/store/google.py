"""Queries about Google Wallet objects: which cards have one, their updates, save callbacks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.branches import Location
from passes.store.cards import _CARD_COLUMNS, CardRow, card_from
from passes.store.shops import _SHOP_COLUMNS, ShopRow, _shop
from passes.store.tables import (
    campaigns,
    cards,
    google_callback_nonces,
    google_objects,
    programs,
    push_outbox,
    shop_locations,
    shops,
)

# Google retries a callback for minutes, not days; older nonces can go.
NONCES_KEPT = timedelta(days=7)


@dataclass(frozen=True)
class NotifyState:
    """What a Google object has notified: the notice version handled last, and when its
    notifying calls went out (google/budget.py reads and writes `times`)."""

    handled_version: int = 0
    times: str = ""


@dataclass(frozen=True)
class GoogleCard:
    """A card with its shop, as the Google deliverer needs it."""

    shop: ShopRow
    card: CardRow
    locations: tuple[Location, ...] = ()
    notify: NotifyState = NotifyState()


async def add_google_object(
    conn: AsyncConnection, card_id: int, object_id: str, now: datetime
) -> None:
    """The card has a Google object from now on: its changes queue Google updates."""
    await conn.execute(
        insert(google_objects).values(
            card_id=card_id, object_id=object_id, saved=False, created_at=now, updated_at=now
        )
    )


async def hold_google_update(
    conn: AsyncConnection, card_id: int, now: datetime, until: datetime
) -> int:
    """An outbox row for the card's Google object that workers leave alone until `until`.

    The caller tries the delivery itself meanwhile and finishes the row on success; if it
    crashes or fails, the row falls due and a worker delivers it.
    """
    row = insert(push_outbox).values(
        card_id=card_id, target="google", attempts=0, claimed_until=until, created_at=now
    )
    return int((await conn.execute(row.returning(push_outbox.c.id))).scalar_one())


async def google_cards(conn: AsyncConnection, card_ids: Sequence[int]) -> dict[int, GoogleCard]:
    """The cards (by id) with their shops; cards deleted meanwhile are missing."""
    if not card_ids:
        return {}
    query = (
        select(*_CARD_COLUMNS, *_NOTIFY_COLUMNS)
        .outerjoin(google_objects, google_objects.c.card_id == cards.c.id)
        .where(cards.c.id.in_(set(card_ids)))
    )
    found = (await conn.execute(query)).mappings().all()
    rows = [card_from(row) for row in found]
    states = {row["id"]: _notify_state(row) for row in found}
    shop_query = (
        select(*_SHOP_COLUMNS)
        .join(programs, programs.c.shop_id == shops.c.id)
        .where(shops.c.id.in_({row.shop_id for row in rows}))
    )
    shop_rows = (await conn.execute(shop_query)).mappings().all() if rows else []
    by_id = {shop.id: shop for shop in map(_shop, shop_rows)}
    places = await _locations(conn, set(by_id))
    return {
        row.id: GoogleCard(by_id[row.shop_id], row, places.get(row.shop_id, ()), states[row.id])
        for row in rows
        if row.shop_id in by_id
    }


async def _locations(conn: AsyncConnection, shop_ids: set[int]) -> dict[int, tuple[Location, ...]]:
    """The shops' places, in the order they were added (the class carries them)."""
    if not shop_ids:
        return {}
    query = (
        select(
            shop_locations.c.shop_id,
            shop_locations.c.address,
            shop_locations.c.latitude,
            shop_locations.c.longitude,
        )
        .where(shop_locations.c.shop_id.in_(shop_ids))
        .order_by(shop_locations.c.id)
    )
    found: dict[int, list[Location]] = {}
    for shop_id, *place in (await conn.execute(query)).all():
        found.setdefault(shop_id, []).append(Location(*place))
    return {shop_id: tuple(places) for shop_id, places in found.items()}


_NOTIFY_COLUMNS = (google_objects.c.notified_version, google_objects.c.notify_times)


def _notify_state(row: Any) -> NotifyState:
    return NotifyState(row["notified_version"] or 0, row["notify_times"] or "")


async def notify_state(conn: AsyncConnection, card_id: int) -> NotifyState | None:
    """The object's notify state as stored now (None: the card has no Google object)."""
    query = select(*_NOTIFY_COLUMNS).where(google_objects.c.card_id == card_id)
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else _notify_state(row)


async def swap_notify_state(
    conn: AsyncConnection, card_id: int, seen: NotifyState, new: NotifyState
) -> bool:
    """Compare-and-set: store `new` if the object still holds `seen`; False if another
    worker changed it first (read it again and decide anew)."""
    changed = await conn.execute(
        update(google_objects)
        .where(
            google_objects.c.card_id == card_id,
            google_objects.c.notified_version == seen.handled_version,
            google_objects.c.notify_times == seen.times,
        )
        .values(notified_version=new.handled_version, notify_times=new.times)
    )
    return bool(changed.rowcount)


async def set_notify_times(conn: AsyncConnection, card_id: int, times: str) -> None:
    """Overwrite the object's notifying calls' times (Google said its budget is used up)."""
    await conn.execute(
        update(google_objects).where(google_objects.c.card_id == card_id).values(notify_times=times)
    )


async def saved_notify_times(conn: AsyncConnection, shop_id: int) -> dict[int, str]:
    """The shop's cards saved in a Google Wallet (by card id), with their notifying calls'
    times (a campaign preview counts who can still be notified)."""
    query = (
        select(google_objects.c.card_id, google_objects.c.notify_times)
        .join(cards, cards.c.id == google_objects.c.card_id)
        .where(cards.c.shop_id == shop_id, google_objects.c.saved.is_(True))
    )
    return {card_id: times for card_id, times in (await conn.execute(query)).all()}


@dataclass(frozen=True)
class CampaignMessage:
    """A campaign's message and when the pass shows it (a promotion's: until it ends)."""

    text: str
    starts: datetime
    ends: datetime


# A campaign message without a promotion stays on the pass this long, so they do not pile up.
MESSAGE_SHOWN = timedelta(days=7)


async def campaign_messages(
    conn: AsyncConnection, campaign_ids: Sequence[int]
) -> dict[int, CampaignMessage]:
    """The message of each campaign, shown from its send time for MESSAGE_SHOWN or until
    its promotion ends."""
    if not campaign_ids:
        return {}
    c = campaigns.c
    query = select(c.id, c.text, c.created_at, c.send_at, c.ends_at).where(
        c.id.in_(set(campaign_ids))
    )
    found = {}
    for row in await conn.execute(query):
        starts = row.send_at or row.created_at
        ends = max(row.ends_at, starts) if row.ends_at is not None else starts + MESSAGE_SHOWN
        found[row.id] = CampaignMessage(row.text, starts, ends)
    return found


async def record_callback(
    conn: AsyncConnection, nonce: str, object_id: str, saved: bool, now: datetime
) -> str:
    """Apply a save/delete once per nonce: "duplicate", "unknown" (not our object) or "recorded"."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    first = await conn.execute(
        dialect_insert(google_callback_nonces)
        .values(nonce=nonce, created_at=now)
        .on_conflict_do_nothing()
    )
    if not first.rowcount:
        return "duplicate"
    await conn.execute(
        delete(google_callback_nonces).where(
            google_callback_nonces.c.created_at < now - NONCES_KEPT
        )
    )
    changed = await conn.execute(
        update(google_objects)
        .where(google_objects.c.object_id == object_id)
        .values(saved=saved, updated_at=now)
    )
    return "recorded" if changed.rowcount else "unknown"


async def google_saved_count(conn: AsyncConnection, shop_id: int) -> int:
    """How many of the shop's cards live in a Google Wallet right now."""
    query = (
        select(func.count())
        .select_from(google_objects.join(cards, cards.c.id == google_objects.c.card_id))
        .where(cards.c.shop_id == shop_id, google_objects.c.saved.is_(True))
    )
    return int((await conn.execute(query)).scalar_one())
