"""Scale-out on PostgreSQL: two `passes serve --no-worker` and two `passes worker` behave as one.

Twenty clients stamp thirty cards, each with a registered iPhone, through both servers in turn;
a fifth of the stamps are retried with the same Idempotency-Key, on the other server and at the
same time. Afterwards every card holds exactly the stamps of its distinct keys, no answer was a
5xx, the outbox holds nothing for these cards, and each phone, fetching its card whenever a push
arrives, ends up showing the final count (so a push came after its last stamp).
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from tests.fake_apns import FakeApns
from tests.live import create_shop, live_env, process, server
from tests.phones import Phone, new_phone

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`

CARDS = 30
CLIENTS = 20
STAMPS_PER_CLIENT = 25
RETRY_SHARE = 0.2


class Ledger:
    """What the clients were told: per card, the count of every distinct key answered 200."""

    def __init__(self) -> None:
        self.by_key: dict[str, tuple[str, int, int]] = {}
        self.statuses: list[int] = []

    def answered(self, serial: str, key: str, count: int, response: httpx.Response) -> None:
        self.statuses.append(response.status_code)
        if response.status_code != 200:
            return
        total = int(response.json()["total_stamps"])
        first = self.by_key.setdefault(key, (serial, count, total))
        assert first == (serial, count, total), "a retry answers the first result"

    def expected(self) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for serial, count, _ in self.by_key.values():
            totals[serial] += count
        return totals


async def _post(
    client: httpx.AsyncClient, key: str, serial: str, count: int, idempotency_key: str
) -> httpx.Response:
    """One stamp; a dropped connection is retried with the same key, like a careful client."""
    for attempt in range(5):
        try:
            return await client.post(
                f"/api/v1/cards/{serial}/stamps",
                json={"count": count},
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": idempotency_key},
            )
        except httpx.TransportError:
            await asyncio.sleep(0.1 * (attempt + 1))
    raise AssertionError(f"stamping {serial} kept failing")


async def _stamping_client(
    number: int, servers: list[httpx.AsyncClient], key: str, serials: list[str], ledger: Ledger
) -> None:
    rng = random.Random(number)
    for turn in range(STAMPS_PER_CLIENT):
        serial = rng.choice(serials)
        count = rng.choice((1, 1, 1, 2))
        idempotency_key = f"client-{number}-{turn}-{secrets.token_hex(4)}"
        first, other = servers[turn % 2], servers[(turn + 1) % 2]
        if rng.random() < RETRY_SHARE:
            # The client gave up waiting and asked the other server while the first still works.
            answers = list(
                await asyncio.gather(
                    _post(first, key, serial, count, idempotency_key),
                    _post(other, key, serial, count, idempotency_key),
                )
            )
        else:
            answers = [await _post(first, key, serial, count, idempotency_key)]
        for response in answers:
            ledger.answered(serial, idempotency_key, count, response)


async def _watch_phones(
    apns: FakeApns,
    phones: dict[str, Phone],
    client: httpx.AsyncClient,
    key: str,
    stop: asyncio.Event,
) -> dict[str, int]:
    """Each delivered push makes its phone fetch the card; returns what each phone saw last."""
    seen: dict[str, int] = {}
    by_token = {phone.push_token: phone.serial for phone in phones.values()}
    done = 0
    while not stop.is_set() or done < len(apns.requests):
        pushes = apns.requests[done:]
        done += len(pushes)
        for push in pushes:
            serial = by_token.get(push.token or "")
            if serial is None or push.status != 200:
                continue
            card = await client.get(
                f"/api/v1/cards/{serial}", headers={"Authorization": f"Bearer {key}"}
            )
            assert card.status_code == 200
            seen[serial] = int(card.json()["total_stamps"])
        await asyncio.sleep(0.02)
    return seen


async def _outbox_rows(database_url: str, serials: list[str]) -> int:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM push_outbox o JOIN cards c ON c.id = o.card_id "
                "WHERE c.serial = ANY($1::text[])",
                serials,
            )
        )
    finally:
        await conn.close()


async def test_two_servers_and_two_workers_act_as_one(
    postgres_url: str, certs_dir: Path, apns: FakeApns
) -> None:
    started = time.monotonic()
    env = live_env(postgres_url, certs_dir, apns, PASSES_PUSH_BATCH="10")
    key = create_shop(env)  # migrates once, before the processes start
    ca = certs_dir / "wwdr.pem"
    with (
        server(env, "--no-worker") as (base_a, _),
        server(env, "--no-worker") as (base_b, _),
        process(env, "worker"),
        process(env, "worker"),
    ):
        async with (
            httpx.AsyncClient(base_url=base_a, timeout=30) as a,
            httpx.AsyncClient(base_url=base_b, timeout=30) as b,
        ):
            phones: dict[str, Phone] = {}
            for number in range(CARDS):
                phone = await new_phone((a, b)[number % 2], key, ca)
                phones[phone.serial] = phone
            serials = list(phones)
            ledger = Ledger()
            stop = asyncio.Event()
            watcher = asyncio.create_task(_watch_phones(apns, phones, b, key, stop))
            await asyncio.gather(
                *(_stamping_client(n, [a, b], key, serials, ledger) for n in range(CLIENTS))
            )
            assert not [s for s in ledger.statuses if s >= 500], "no 5xx"
            assert set(ledger.statuses) == {200}, sorted(set(ledger.statuses))

            expected = ledger.expected()
            for serial in serials:
                card = await a.get(
                    f"/api/v1/cards/{serial}", headers={"Authorization": f"Bearer {key}"}
                )
                assert card.json()["total_stamps"] == expected.get(serial, 0), serial

            stamped = [serial for serial in serials if expected.get(serial)]
            deadline = time.monotonic() + 20
            while await _outbox_rows(postgres_url, serials):
                assert time.monotonic() < deadline, "the outbox did not drain"
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.5)  # the last pushes' fetches
            stop.set()
            seen = await watcher
            for serial in stamped:
                assert seen.get(serial) == expected[serial], f"{serial}: the phone shows old stamps"
    tokens = {phones[s].push_token for s in stamped}
    assert {r.token for r in apns.requests if r.status == 200} >= tokens
    assert len(ledger.by_key) == CLIENTS * STAMPS_PER_CLIENT
    assert time.monotonic() - started < 60
