"""The `--scale` parts of stamp_api.py: a big shop bulk-loaded into PostgreSQL, and the server
hooks that count the queries each request makes and EXPLAIN ANALYZE the stamp path.

The loaded shop gets 99,500 cards with a year of history (issue, stamp and redeem events whose
"after" counters add up, cards whose counters equal their last event), so that with the 500
benchmark cards issued over the API it holds 100,000 cards and 1,000,000 ledger events; plus
20,000 registered Apple devices, a Google Wallet object for every third card, 200,000 delivery
attempts, an outbox of 5,000 deliveries backing off and 15,000 campaign messages waiting for a
worker, and 2,000 other shops with their keys. Everything is INSERT ... SELECT generate_series
inside PostgreSQL.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from passes.store.optimistic import SNAPSHOTS, WRITES
from passes.store.pass_reads_pg import BY_KEY

BULK_CARDS = 99_500
BULK_EVENTS = 900_000  # besides one `issue` per card: 99,500 + 900,000 + 500 API cards = 1M
DEVICES = 20_000
ATTEMPTS = 200_000
OUTBOX_BACKOFF = 5_000  # deliveries backing off after APNs errors
OUTBOX_WAITING = 15_000  # a campaign's messages still waiting for a worker
GOOGLE_EVERY = 3  # one card in three also lives in Google Wallet
OTHER_SHOPS = 2_000  # the database serves other shops too (their keys, programs)
# One in this many benchmark cards has a registered iPhone, in both databases alike, so each
# stamp on it also queues a push (and looks for one already waiting).
DEVICE_EVERY = 5
COUNT_ENV = "PASSES_BENCH_COUNT_QUERIES"


@dataclass(frozen=True)
class Loaded:
    """What the bulk load wrote, and how long it took."""

    cards: int
    events: int
    registrations: int
    attempts: int
    outbox: int
    google: int
    shops: int
    seconds: float
    database_mb: float


async def bulk_load(database_url: str) -> Loaded:
    """Fill the database's only shop with a year of realistic history."""
    import asyncpg  # type: ignore[import-untyped]

    started = time.perf_counter()
    conn = await asyncpg.connect(database_url)
    try:
        shop_id, program_id, required = await conn.fetchrow(
            "SELECT s.id, p.id, p.stamps_required FROM shops s JOIN programs p ON p.shop_id = s.id"
        )
        async with conn.transaction():
            await _other_shops(conn)
            await _cards(conn, shop_id, program_id)
            await _events(conn, shop_id, required)
            await _counters(conn, shop_id)
            await _devices(conn, shop_id)
            await _outbox(conn, shop_id)
        await conn.execute("VACUUM ANALYZE")
        return Loaded(
            cards=await conn.fetchval("SELECT count(*) FROM cards"),
            events=await conn.fetchval("SELECT count(*) FROM card_events"),
            registrations=await conn.fetchval("SELECT count(*) FROM apple_registrations"),
            attempts=await conn.fetchval("SELECT count(*) FROM push_attempts"),
            outbox=await conn.fetchval("SELECT count(*) FROM push_outbox"),
            google=await conn.fetchval("SELECT count(*) FROM google_objects"),
            shops=await conn.fetchval("SELECT count(*) FROM shops"),
            seconds=time.perf_counter() - started,
            database_mb=await conn.fetchval("SELECT pg_database_size(current_database())") / 2**20,
        )
    finally:
        await conn.close()


async def _other_shops(conn: Any) -> None:
    await conn.execute(
        """
        WITH s AS (
            INSERT INTO shops (slug, name, created_at)
            SELECT 'other-' || g, 'Other shop ' || g, now() - interval '2 years' * random()
            FROM generate_series(1, $1) AS g
            RETURNING id, created_at
        ), p AS (
            INSERT INTO programs (shop_id, stamps_required, reward, background_color,
                foreground_color, label_color, stamp_color, created_at, updated_at)
            SELECT id, 10, 'a coffee', '#3B2A20', '#FFFFFF', '#F2C879', '#F2C879',
                created_at, created_at
            FROM s
        )
        INSERT INTO api_keys (shop_id, key_hash, prefix, created_at)
        SELECT id, encode(sha256(('other-key-' || id)::bytea), 'hex'), 'psk_othe', created_at
        FROM s
        """,
        OTHER_SHOPS,
    )


async def _cards(conn: Any, shop_id: int, program_id: int) -> None:
    # Issued at random moments over the past year.
    await conn.execute(
        """
        INSERT INTO cards (shop_id, program_id, serial, auth_token, page_secret, stamps,
            rewards_available, total_stamps, rewards_redeemed, voided, version, update_tag,
            pass_modified_at, referral_rewarded, created_at, updated_at)
        SELECT $1, $2, upper(substr(md5('bulk-serial-' || g), 1, 12)),
            md5(random()::text) || md5(random()::text),
            md5('bulk-page-' || g) || md5(random()::text),
            0, 0, 0, 0, false, 1, 0, date_trunc('second', t), false, t, t
        FROM (SELECT g, now() - interval '365 days' * random() AS t
              FROM generate_series(1, $3) AS g) AS s
        """,
        shop_id,
        program_id,
        BULK_CARDS,
    )


async def _events(conn: Any, shop_id: int, required: int) -> None:
    """One `issue` per card, then stamps with a redeem after every `required` of them.

    Events go to cards unevenly (a few regulars, many one-time visitors) and are spread
    between the card's issue and now; ids follow time, as they would have been written.
    """
    await conn.execute(
        """
        CREATE TEMP TABLE bulk_events ON COMMIT DROP AS
        WITH picked AS (
            SELECT j, (SELECT min(id) FROM cards) + floor($1 * power(random(), 1.5))::bigint
                AS card_id
            FROM generate_series(1, $2) AS j
        ), numbered AS (
            SELECT card_id, j, row_number() OVER (PARTITION BY card_id ORDER BY j) AS p,
                count(*) OVER (PARTITION BY card_id) AS n
            FROM picked
        )
        SELECT n.card_id, n.j, n.p,
            c.created_at + (now() - c.created_at) * n.p / (n.n + 1) AS created_at,
            c.created_at AS issued_at
        FROM numbered n JOIN cards c ON c.id = n.card_id
        """,
        BULK_CARDS,
        BULK_EVENTS,
    )
    cycle = required + 1
    await conn.execute(
        f"""
        INSERT INTO card_events (card_id, shop_id, kind, count, idempotency_key, actor,
            stamps_after, rewards_after, total_after, redeemed_after, version_after, created_at)
        SELECT card_id, $1, kind, count, key, actor, stamps_after, rewards_after, total_after,
            redeemed_after, version_after, created_at
        FROM (
            SELECT id AS card_id, 'issue' AS kind, 0 AS count, NULL AS key,
                'api:psk_bulk' AS actor, 0 AS stamps_after, 0 AS rewards_after, 0 AS total_after,
                0 AS redeemed_after, 1 AS version_after, created_at
            FROM cards WHERE shop_id = $1
            UNION ALL
            SELECT card_id,
                CASE WHEN p % {cycle} = 0 THEN 'redeem' ELSE 'stamp' END,
                1,
                CASE WHEN j % 4 = 0 THEN NULL ELSE 'bulk-' || md5(j::text) END,
                CASE WHEN j % 4 = 0 THEN 'staff' ELSE 'api:psk_bulk' END,
                (p - p / {cycle}) % {required},
                (p - p / {cycle}) / {required} - p / {cycle},
                p - p / {cycle},
                p / {cycle},
                p + 1,
                created_at
            FROM bulk_events
        ) AS e
        ORDER BY created_at
        """,
        shop_id,
    )


async def _counters(conn: Any, shop_id: int) -> None:
    # Each card as its last event left it.
    await conn.execute(
        """
        UPDATE cards c SET stamps = e.stamps_after, rewards_available = e.rewards_after,
            total_stamps = e.total_after, rewards_redeemed = e.redeemed_after,
            version = e.version_after, last_event_id = e.id,
            update_tag = pg_current_xact_id()::text::bigint,
            pass_modified_at = date_trunc('second', e.created_at), updated_at = e.created_at
        FROM (SELECT DISTINCT ON (card_id) * FROM card_events WHERE shop_id = $1
              ORDER BY card_id, id DESC) AS e
        WHERE c.id = e.card_id
        """,
        shop_id,
    )


async def _devices(conn: Any, shop_id: int) -> None:
    """iPhones on every fifth card, a year of delivery attempts, and a backlog backing off."""
    await conn.execute(
        """
        INSERT INTO apple_devices (library_id, push_token, created_at)
        SELECT md5('bulk-device-' || g), md5(random()::text) || md5(random()::text), now()
        FROM generate_series(1, $1) AS g
        """,
        DEVICES,
    )
    await conn.execute(
        """
        INSERT INTO apple_registrations (device_id, card_id, created_at, last_pushed_at)
        SELECT d.id, c.id, c.created_at, c.updated_at
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM apple_devices) AS d
        JOIN (SELECT id, created_at, updated_at, row_number() OVER (ORDER BY id) AS k
              FROM cards WHERE shop_id = $1) AS c ON c.k = d.k * 5
        """,
        shop_id,
    )
    await conn.execute(
        """
        INSERT INTO push_attempts (card_id, target, device, status, outcome, created_at)
        SELECT r.card_id, 'apple', substr(md5(r.device_id::text), 1, 16), 200, 'delivered',
            now() - interval '365 days' * random()
        FROM generate_series(1, $1::int / $2::int) AS g CROSS JOIN apple_registrations AS r
        """,
        ATTEMPTS,
        DEVICES,
    )
    await conn.execute(
        """
        INSERT INTO google_objects (card_id, object_id, saved, created_at, updated_at)
        SELECT id, 'bulk.' || serial, true, created_at, updated_at
        FROM cards WHERE shop_id = $1 AND id % $2 = 0
        """,
        shop_id,
        GOOGLE_EVERY,
    )


async def _outbox(conn: Any, shop_id: int) -> None:
    """Deliveries backing off after APNs errors, and a campaign half delivered."""
    await conn.execute(
        """
        INSERT INTO push_outbox (card_id, target, device_id, attempts, claimed_until, created_at)
        SELECT card_id, 'apple', device_id, 3, now() + interval '1 day',
            now() - interval '1 hour' * random()
        FROM apple_registrations ORDER BY card_id LIMIT $1
        """,
        OUTBOX_BACKOFF,
    )
    campaign = await conn.fetchval(
        """
        INSERT INTO campaigns (shop_id, text, segment, recipients, created_at)
        VALUES ($1, 'Double stamps this weekend', 'all', $2, now()) RETURNING id
        """,
        shop_id,
        OUTBOX_WAITING,
    )
    await conn.execute(
        """
        INSERT INTO push_outbox (card_id, target, device_id, campaign_id, attempts, created_at)
        SELECT card_id, 'apple', device_id, $1, 0, now()
        FROM apple_registrations ORDER BY card_id DESC LIMIT $2
        """,
        campaign,
        OUTBOX_WAITING,
    )


async def register_devices(database_url: str, serials: list[str]) -> int:
    """Give every DEVICE_EVERY-th benchmark card an iPhone (same in both databases)."""
    import asyncpg

    chosen = serials[::DEVICE_EVERY]
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await conn.execute(
                """
                WITH d AS (
                    INSERT INTO apple_devices (library_id, push_token, created_at)
                    SELECT md5('bench-device-' || s), md5(random()::text), now()
                    FROM unnest($1::text[]) AS s
                    RETURNING id, library_id
                )
                INSERT INTO apple_registrations (device_id, card_id, created_at)
                SELECT d.id, c.id, now() FROM d
                JOIN cards c ON md5('bench-device-' || c.serial) = d.library_id
                """,
                chosen,
            )
    finally:
        await conn.close()
    return len(chosen)


# --- hooks inside the server process (stamp_api.py --serve with COUNT_ENV set) ---------------


@dataclass
class QueryLog:
    """Every statement the server ran: a running count, and the latest parameters of each.

    `latest` holds statements run through SQLAlchemy, `latest_raw` those run on the stamp
    pool of `store.optimistic` (raw asyncpg); `rows` adds up the requests that each batched
    statement carried.
    """

    total: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    rows: Counter[str] = field(default_factory=Counter)
    latest: dict[str, Any] = field(default_factory=dict)
    latest_raw: dict[str, Any] = field(default_factory=dict)


def install_hooks(app: Any) -> None:
    """Count statements and add /bench/queries and /bench/explain.

    SQLAlchemy's statements (the locked path) are seen by a before_cursor_execute listener;
    the stamp pool's (snapshot read, compare-and-set write) and the pass reads' (the API key
    lookup) by an asyncpg query logger on each connection those pools hand out.
    """
    from sqlalchemy import event
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    store = app.state.service.store
    log = QueryLog()

    @event.listens_for(store.writer.sync_engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.startswith("EXPLAIN"):
            return
        log.total += 1
        log.kinds[_shape(statement)] += 1
        log.latest[statement] = params

    @event.listens_for(store.writer.sync_engine, "begin")
    def _begin(_conn: Any) -> None:
        log.kinds["BEGIN"] += 1

    @event.listens_for(store.writer.sync_engine, "commit")
    def _commit(_conn: Any) -> None:
        log.kinds["COMMIT"] += 1

    if store.optimistic is not None:
        logged = _raw_logger(log)
        _count_stamp_pool(store.optimistic, logged)
        _count_pass_reads(store.passes, logged)

    async def queries(request: Request) -> JSONResponse:
        return JSONResponse({"total": log.total, "kinds": dict(log.kinds), "rows": dict(log.rows)})

    async def explain(request: Request) -> JSONResponse:
        return JSONResponse(await _explain(store, log))

    app.router.routes.append(Route("/bench/queries", queries, methods=["GET"]))
    app.router.routes.append(Route("/bench/explain", explain, methods=["GET"]))


def _raw_logger(log: QueryLog) -> Callable[[Any], None]:
    """An asyncpg query logger noting each statement in `log` (called soon after it ends)."""

    def logged(record: Any) -> None:
        shape = _shape(record.query)
        log.total += 1
        log.kinds[shape] += 1
        if shape in BATCHED:  # whose arrays all hold one element per request
            log.rows[shape] += next(len(a) for a in record.args if isinstance(a, list))
        log.latest_raw[record.query] = record.args

    return logged


@asynccontextmanager
async def _logging(lent: Any, logged: Callable[[Any], None]) -> AsyncIterator[Any]:
    """The connection `lent` (an async context manager) with `logged` on while it is lent."""
    async with lent as conn:
        conn.add_query_logger(logged)
        try:
            yield conn
        finally:
            conn.remove_query_logger(logged)


def _count_stamp_pool(optimistic: Any, logged: Callable[[Any], None]) -> None:
    """Wrap OptimisticCards._connection: its statements go to `logged`."""
    lend = optimistic._connection
    optimistic._connection = lambda: _logging(lend(), logged)


@dataclass(frozen=True)
class _LoggedPool:
    """An asyncpg pool whose connections, while lent, log their statements."""

    pool: Any
    logged: Callable[[Any], None]

    def acquire(self) -> Any:
        return _logging(self.pool.acquire(), self.logged)


def _count_pass_reads(passes: Any, logged: Callable[[Any], None]) -> None:
    """Wrap PostgresPassReads' raw pool: its statements (the key lookup) go to `logged`."""
    raw = passes._pool
    opened = raw.get

    async def get() -> _LoggedPool:
        return _LoggedPool(await opened(), logged)

    raw.get = get


KEY_LOOKUP = "API key lookup (batched read)"
SNAPSHOT = "snapshot (batched read)"
WRITE = "compare-and-set write (batched)"
# The stamp path's statements, recognised by their text: on PostgreSQL the API key lookup
# on the pass reads' pool (every request), then a snapshot and a compare-and-set write on
# the stamp pool; the other three are the locked path (SQLite, referrals, cards that lost
# three races).
STAMP_PATH: dict[str, Callable[[str], bool]] = {
    KEY_LOOKUP: lambda s: s == BY_KEY.sql,
    SNAPSHOT: lambda s: s == SNAPSHOTS.sql,
    WRITE: lambda s: s == WRITES.sql,
    "lock card by shop+serial": lambda s: (
        s.startswith("SELECT") and "FOR UPDATE" in s and "cards.serial" in s
    ),
    "idempotency lookup": lambda s: s.startswith("SELECT") and "card_events.idempotency_key =" in s,
    "ledger+card+outbox CTE": lambda s: s.startswith("WITH appended"),
}
BATCHED = (KEY_LOOKUP, SNAPSHOT, WRITE)
NOT_RUN = "(not run)"


def _shape(statement: str) -> str:
    for name, matches in STAMP_PATH.items():
        if matches(statement):
            return name
    return " ".join(statement.split()[:4])


async def _explain(store: Any, log: QueryLog) -> dict[str, list[str]]:
    """EXPLAIN ANALYZE each stamp-path statement with its latest parameters, rolled back.

    Statements not run since the server started (the locked path, normally) are NOT_RUN.
    """
    plans: dict[str, list[str]] = {}
    for name in STAMP_PATH:
        raw = [(s, a) for s, a in log.latest_raw.items() if _shape(s) == name]
        if raw and store.optimistic is not None:
            plans[name] = await _explain_raw(store.optimistic.dsn, *raw[-1], write=name == WRITE)
        elif any(_shape(s) == name for s in log.latest):
            plans[name] = await _explain_engine(store, log, name)
        else:
            plans[name] = [NOT_RUN]
    return plans


async def _explain_engine(store: Any, log: QueryLog, name: str) -> list[str]:
    """A SQLAlchemy statement. The locked CTE's Idempotency-Key is swapped for a new one,
    or its insert would collide with the event it wrote the first time."""
    key = None
    for statement, params in log.latest.items():
        if _shape(statement) == "idempotency lookup":
            key = params[-1]
    statement, params = [(s, p) for s, p in log.latest.items() if _shape(s) == name][-1]
    params = tuple("explain-" + str(time.time_ns()) if p == key else p for p in params)
    async with store.writer.connect() as conn:
        transaction = await conn.begin()
        try:
            result = await conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, params
            )
            return [row[0] for row in result]
        finally:
            await transaction.rollback()


async def _explain_raw(dsn: str, statement: str, args: Any, *, write: bool) -> list[str]:
    """A stamp-pool statement, as that pool runs it: a generic plan (plan_cache_mode
    force_generic_plan), so PREPARE, then EXPLAIN EXECUTE with the arguments as literals.

    The write runs in a transaction rolled back, with fresh Idempotency-Keys (the old ones
    would collide with the events they wrote) and each card's current version as the
    expected one, so that it moves the cards, appends and queues as it did.
    """
    import asyncpg

    conn = await asyncpg.connect(dsn, server_settings={"plan_cache_mode": "force_generic_plan"})
    try:
        values = list(args)
        if write:
            values = await _fresh_write(conn, values)
        prepared = await conn.prepare(statement)
        literals = []
        for parameter, value in zip(prepared.get_parameters(), values, strict=True):
            kind = await conn.fetchval("SELECT format_type($1, NULL)", parameter.oid)
            literal = await conn.fetchval(f"SELECT quote_nullable($1::{kind})", value)
            literals.append(f"{literal}::{kind}")
        await conn.execute(f"PREPARE bench_explain AS {statement}")
        transaction = conn.transaction()
        await transaction.start()
        try:
            rows = await conn.fetch(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE bench_explain("
                + ", ".join(literals)
                + ")"
            )
        finally:
            await transaction.rollback()
        batch = next((len(v) for v in values if isinstance(v, list)), 1)
        return [f"(generic plan, batch of {batch})"] + [row[0] for row in rows]
    finally:
        await conn.close()


async def _fresh_write(conn: Any, values: list[Any]) -> list[Any]:
    keys = WRITES.names.index("e_idempotency_key")
    stamp = time.time_ns()
    values[keys] = [
        None if key is None else f"explain-{stamp}-{n}" for n, key in enumerate(values[keys])
    ]
    card_ids = values[WRITES.names.index("m_card_id")]
    rows = await conn.fetch("SELECT id, version FROM cards WHERE id = ANY($1::bigint[])", card_ids)
    now = {row["id"]: row["version"] for row in rows}
    expected = WRITES.names.index("m_expected_version")
    values[expected] = [now.get(i, v) for i, v in zip(card_ids, values[expected], strict=True)]
    return values


def plan_verdict(lines: list[str]) -> str:
    """Which indexes a plan uses, and any sequential scan of a table.

    A Function Scan (unnest of a batch's arrays) has no index to use: it is named, not
    flagged.
    """
    used = set()
    for line in lines:
        if "Index" in line and " using " in line:
            used.add(line.split(" using ")[1].split(" on ")[0])
        elif "Bitmap Index Scan on " in line:
            used.add(line.split("Bitmap Index Scan on ")[1].split()[0])
    seq = {line.split("Seq Scan on ")[1].split()[0] for line in lines if "Seq Scan on " in line}
    # The planner numbers repeated references to one alias: changes, changes_1, ...
    functions = {
        re.sub(r"_\d+$", "", line.split("Function Scan on ")[1].split()[0])
        for line in lines
        if "Function Scan on " in line
    }
    text = "indexes: " + (", ".join(sorted(used)) if used else "none")
    if functions:
        text += "; function scans (unnest, no index expected): " + ", ".join(sorted(functions))
    if seq:
        text += "; SEQ SCAN on " + ", ".join(sorted(seq))
    return text
