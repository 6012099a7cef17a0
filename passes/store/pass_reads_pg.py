"""Pass reads and key lookups (store/pass_reads.py) on PostgreSQL: one statement on a raw
asyncpg pool.

Through SQLAlchemy a read was a pool ping, the statement and a rollback: three round trips
where one will do. Requests that arrive while a read is in flight share the next statement
(store/batches.py), so under load a fetch costs a fraction of a round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, select, true

from passes.errors import Unavailable
from passes.store.batches import Batcher
from passes.store.optimistic import CONNECTION_LOST, RawPool, Statement, _unnest
from passes.store.pass_reads import (
    BATCH_PATIENCE_SECONDS,
    BATCH_SIZE,
    PassRow,
    ShopParts,
    pass_columns,
    pass_row,
    shop_columns,
    with_key_holder,
    with_shop,
)
from passes.store.shops import ShopRow
from passes.store.tables import api_keys, cards

# Batches in flight at once, one pool connection each.
BATCH_LANES = 4


def _batch_statement(by: str) -> Statement:
    """Many cards at once by serial or page secret, each row numbered `i` as asked."""
    asked = _unnest("asked", {"value": String()})
    joined = with_shop(asked.join(cards, cards.c[by] == asked.c.value))
    return Statement.of(select(asked.c.i, *pass_columns(postgres=True)).select_from(joined))


def _key_statement() -> Statement:
    """The shops holding many live keys at once by hash, each row numbered `i` as asked."""
    asked = _unnest("asked", {"value": String()})
    # LATERAL with LIMIT (the hash is unique anyway) keeps the generic plan from hashing
    # every key of every shop to join the few asked for: it looks each one up by index.
    live = (
        select(api_keys.c.shop_id)
        .where(api_keys.c.key_hash == asked.c.value, api_keys.c.revoked_at.is_(None))
        .limit(1)
        .lateral("live")
    )
    joined = with_key_holder(asked.join(live, true()), live.c.shop_id)
    return Statement.of(select(asked.c.i, *shop_columns()).select_from(joined))


class PostgresPassReads:
    """Cards with shop, program and places by serial or page secret, and shops by API key,
    batched, on asyncpg."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool = RawPool(dsn, BATCH_LANES)
        self._shops = ShopParts()
        self._by_serial = self._batcher(BY_SERIAL)
        self._by_secret = self._batcher(BY_SECRET)
        self._by_key = self._batcher(BY_KEY)

    async def by_serial(self, serial: str) -> PassRow | None:
        """The card `serial` (any shop) with its shop and places, or None."""
        row = await self._one(self._by_serial, serial)
        return None if row is None else pass_row(self._shops, row)

    async def by_secret(self, page_secret: str) -> PassRow | None:
        """The card behind a card-page secret with its shop and places, or None."""
        row = await self._one(self._by_secret, page_secret)
        return None if row is None else pass_row(self._shops, row)

    async def shop_by_key_hash(self, key_hash: str) -> ShopRow | None:
        """The shop owning the live API key with this hash, or None."""
        row = await self._one(self._by_key, key_hash)
        return None if row is None else self._shops.shop(row)

    async def _one(self, batcher: Batcher[str, Any], value: str) -> Any:
        # Reading changes nothing: a connection found dead is replaced and the read asked again.
        try:
            return await batcher(value)
        except CONNECTION_LOST:
            try:
                return await batcher(value)
            except CONNECTION_LOST as exc:
                raise Unavailable("the database is briefly unavailable; retry") from exc

    def _batcher(self, statement: Statement) -> Batcher[str, Any]:
        async def run(values: Sequence[str]) -> list[Any]:
            pool = await self._pool.get()
            async with pool.acquire() as conn:
                try:
                    rows = await conn.fetch(statement.sql, *statement.args({"value": values}))
                except CONNECTION_LOST:
                    conn.terminate()
                    raise
            found = {row["i"]: row for row in rows}
            return [found.get(number) for number in range(1, len(values) + 1)]

        return Batcher(run, size=BATCH_SIZE, lanes=BATCH_LANES, patience=BATCH_PATIENCE_SECONDS)

    async def close(self) -> None:
        """Close the pool's connections."""
        await self._pool.close()


BY_SERIAL = _batch_statement("serial")
BY_SECRET = _batch_statement("page_secret")
BY_KEY = _key_statement()
