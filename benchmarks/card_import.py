"""Importing paper cards on SQLite and PostgreSQL: rows per second of `passes card import`'s
bulk write, against making the same cards one at a time through the existing issue path.

Run: .venv/bin/python benchmarks/card_import.py [--rows 10000] [--sample 300]
         [--backend sqlite|postgres|both]

For each backend a fresh database (a temporary SQLite file; a new PostgreSQL database,
dropped afterwards) gets one shop, then:

- import: CardImports.run on a `--rows` file (`id,stamps`, stamps 0 to 9), as the CLI runs it:
  one transaction, a card, its `issue` and `import` events and its row id per row;
- one by one: `--sample` rows of the same kind made as a shop would without the import:
  Issuing.issue_card, then Changes.stamp with the row's stamps (when it has any), each its
  own transaction; rows/s of that, and the import's rate as a multiple of it;
- re-run: the same file again (nothing to add: every row is found).

Google Wallet is off (a Google object would be one more row per card, inserted by the worker).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stamp_api import postgres_database, postgres_unreachable

from passes.config import Settings
from passes.service import Service
from passes.store.shops import ShopRow


def paper_file(rows: int, prefix: str) -> bytes:
    return ("id,stamps\n" + "".join(f"{prefix}-{n},{n % 10}\n" for n in range(rows))).encode()


async def one_by_one(service: Service, shop: ShopRow, rows: int) -> float:
    """Seconds to make `rows` cards with their stamps through the issue and stamp paths."""
    started = time.perf_counter()
    for n in range(rows):
        view = await service.issuing.issue_card(shop, "bench")
        if n % 10:
            await service.changes.stamp(
                shop, view.card.serial, n % 10, actor="bench", idempotency_key=None
            )
    return time.perf_counter() - started


async def measure(database_url: str, certs_dir: Path, rows: int, sample: int) -> dict[str, float]:
    settings = Settings(
        database_url=database_url, base_url="http://127.0.0.1:8000", certs_dir=certs_dir
    )
    service = Service.open(settings)
    try:
        await service.store.migrate()
        shop, _ = await service.shops.create_shop(name="Bench Café", stamps=10, reward="1 Vita")
        data = paper_file(rows, "P")
        started = time.perf_counter()
        report = await service.imports.run(shop, data, "bench")
        imported = time.perf_counter() - started
        assert report.new == rows, report
        slow = await one_by_one(service, shop, sample)
        started = time.perf_counter()
        again = await service.imports.run(shop, data, "bench")
        rerun = time.perf_counter() - started
        assert again.new == 0 and again.earlier == rows, again
    finally:
        await service.aclose()
    return {
        "import_s": imported,
        "import_rows_s": rows / imported,
        "one_by_one_rows_s": sample / slow,
        "rerun_s": rerun,
    }


def report(backend: str, rows: int, figures: dict[str, float]) -> None:
    ratio = figures["import_rows_s"] / figures["one_by_one_rows_s"]
    print(
        f"{backend:<9} import {rows:,} rows: {figures['import_s']:.2f} s = "
        f"{figures['import_rows_s']:,.0f} rows/s | one by one (issue + stamp): "
        f"{figures['one_by_one_rows_s']:,.0f} rows/s | import ×{ratio:,.0f} | "
        f"re-run (adds nothing): {figures['rerun_s']:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        if args.backend in ("sqlite", "both"):
            url = f"sqlite:///{root / 'passes.db'}"
            figures = asyncio.run(measure(url, root / "certs", args.rows, args.sample))
            report("sqlite", args.rows, figures)
        if args.backend in ("postgres", "both"):
            reason = postgres_unreachable()
            if reason:
                print(f"postgres  skipped: {reason}")
                return
            with postgres_database() as url:
                figures = asyncio.run(measure(url, root / "certs", args.rows, args.sample))
            report("postgres", args.rows, figures)


if __name__ == "__main__":
    main()
