"""What serving a pass needs, in one round trip: the card, its shop and program, its places.

A phone fetching its pass after a push, and the Add-to-Wallet link, used to read the card,
the shop and the locations in three statements, each a transaction through SQLAlchemy (on
PostgreSQL also a pool ping): the round trips and their overhead cost far more than the
pass's signature. Here one statement answers all of it, the places as a JSON array, and
the fetches that arrive while one is being read share the next statement (store/batches.py):
pass_reads_sqlite.py and pass_reads_pg.py run it.

The shop API's key lookup, on every request, is read the same way: the shop and program
behind a live key, the requests of a moment in one statement. It asks the database each
time, so a rotated or revoked key is refused at once by every process, and a changed
program shows at once too.

The shop part of a row is kept, keyed by its own values: equal values give the same ShopRow,
whose program rules are then worked out once, and a changed program or place is a new key,
so it shows at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Join,
    Text,
    func,
    select,
    type_coerce,
)

from passes.store.branches import Location
from passes.store.cards import _CARD_COLUMNS, CardRow, card_from
from passes.store.shops import _SHOP_COLUMNS, ShopRow, _shop
from passes.store.tables import cards, programs, shop_locations, shops

# Fetches read in one statement at most, and how long one may take before another starts.
BATCH_SIZE = 64
BATCH_PATIENCE_SECONDS = 0.02
SHOP_PREFIX = "s_"
PLACES = "places"
# Distinct shop parts kept; a process serves a few shops, each changing now and then.
SHOPS_KEPT = 256


@dataclass(frozen=True)
class PassRow:
    """A card with everything its pass shows of the shop."""

    card: CardRow
    shop: ShopRow
    places: tuple[Location, ...]


class PassReads(Protocol):
    """Cards with shop, program and places, by serial (web service) or page secret (urls.apple)."""

    async def by_serial(self, serial: str) -> PassRow | None:
        """The card `serial` (any shop), or None."""

    async def by_secret(self, page_secret: str) -> PassRow | None:
        """The card behind a card-page secret, or None."""

    async def shop_by_key_hash(self, key_hash: str) -> ShopRow | None:
        """The shop owning the live (unrevoked) API key with this hash, or None."""

    async def close(self) -> None:
        """Let go of connections (they open again when asked)."""


def _places_json(postgres: bool) -> ColumnElement[str]:
    """The shop's places as one JSON array of [id, address, latitude, longitude]."""
    place = shop_locations.c
    if postgres:
        entry = func.json_build_array(place.id, place.address, place.latitude, place.longitude)
        array = func.json_agg(entry)
    else:
        array = func.json_group_array(
            func.json_array(place.id, place.address, place.latitude, place.longitude)
        )
    found = select(array).where(place.shop_id == cards.c.shop_id).scalar_subquery()
    return type_coerce(found, Text).label(PLACES)


def shop_columns() -> list[ColumnElement[Any]]:
    """The shop's and program's columns, prefixed (ShopParts.shop reads them)."""
    return [column.label(SHOP_PREFIX + column.name) for column in _SHOP_COLUMNS]


def pass_columns(postgres: bool) -> list[ColumnElement[Any]]:
    """The card's columns, the shop's and program's (prefixed) and the places."""
    return [*_CARD_COLUMNS, *shop_columns(), _places_json(postgres)]


def with_shop(cards_joined: FromClause) -> Join:
    """`cards_joined` (cards, or cards joined to something) joined to the shop and program."""
    return cards_joined.join(shops, shops.c.id == cards.c.shop_id).join(
        programs, programs.c.shop_id == cards.c.shop_id
    )


def with_key_holder(keys: FromClause, shop_id: ColumnElement[int]) -> Join:
    """`keys` (the live keys asked for, with their `shop_id`) joined to the shop and program."""
    return keys.join(shops, shops.c.id == shop_id).join(programs, programs.c.shop_id == shop_id)


SHOP_NAMES = tuple(SHOP_PREFIX + column.name for column in _SHOP_COLUMNS)
SHOP_KEYS = (*SHOP_NAMES, PLACES)


class ShopParts:
    """Shop, program and places of a row, made once per distinct value (see the module)."""

    def __init__(self) -> None:
        self._kept: dict[tuple[Any, ...], tuple[ShopRow, tuple[Location, ...]]] = {}
        self._shops: dict[tuple[Any, ...], ShopRow] = {}

    def of(self, row: Mapping[str, Any]) -> tuple[ShopRow, tuple[Location, ...]]:
        """The shop and places of a row of pass_columns."""
        key = tuple([row[name] for name in SHOP_KEYS])
        found = self._kept.get(key)
        if found is None:
            if len(self._kept) >= SHOPS_KEPT:
                self._kept.clear()
            found = self._kept[key] = (self.shop(row), _places(row[PLACES]))
        return found

    def shop(self, row: Mapping[str, Any]) -> ShopRow:
        """The shop of a row with shop_columns."""
        key = tuple([row[name] for name in SHOP_NAMES])
        found = self._shops.get(key)
        if found is None:
            if len(self._shops) >= SHOPS_KEPT:
                self._shops.clear()
            shop = _shop({name: row[SHOP_PREFIX + name] for name in _shop_names()})
            found = self._shops[key] = shop
        return found


def pass_row(shops: ShopParts, row: Mapping[str, Any]) -> PassRow:
    """A row of pass_columns as the card with its (kept) shop and places."""
    return PassRow(card_from(row), *shops.of(row))


def _shop_names() -> list[str]:
    return [column.name for column in _SHOP_COLUMNS]


def _places(stored: str | None) -> tuple[Location, ...]:
    """The JSON array back as places, in the order they were added."""
    if not stored:
        return ()
    entries = sorted(orjson.loads(stored))
    return tuple(Location(address, float(lat), float(lon)) for _, address, lat, lon in entries)
