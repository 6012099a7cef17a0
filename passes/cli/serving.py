"""`passes init`, `passes serve` and `passes worker`: set up, serve, deliver pushes."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import replace

import click

from passes.apple.identity import load_identity
from passes.campaigns import Campaigns
from passes.cli.certs import DEV_WARNING, ensure_identity
from passes.cli.running import clear_errors, env_settings
from passes.clock import system_clock
from passes.config import Settings
from passes.store import Store
from passes.store.instance import single_instance


@click.command()
@clear_errors
def init() -> None:
    """Create the data dir, migrate the database, make a dev identity if none exists."""
    settings = env_settings()
    ensure_identity(settings)
    asyncio.run(_migrate(settings))
    click.echo(f"database ready: {settings.database_url}")


async def _migrate(settings: Settings) -> None:
    store = Store(settings.database_url)
    try:
        await store.migrate()
    finally:
        await store.close()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--no-worker", is_flag=True, help="Serve only; deliver pushes with `passes worker` instead."
)
@clear_errors
def serve(host: str, port: int, no_worker: bool) -> None:
    """Run the server with its push worker (init first when needed)."""
    from passes import serving
    from passes.app import create_app

    settings = env_settings()
    if not settings.base_url_set:
        # Without PASSES_BASE_URL, passes point at where this server really listens.
        settings = replace(settings, base_url=serving.local_base_url(host, port))
    with single_instance(settings.database_url, server=True, worker=not no_worker):
        sock = serving.bind(host, port)
        made = ensure_identity(settings)
        asyncio.run(_migrate(settings))
        identity = load_identity(settings.certs_dir, settings.cert_password)
        if identity.is_dev and not made:
            click.echo(DEV_WARNING, err=True)
        for line in serving.base_url_notes(settings, host):
            click.echo(line, err=True)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        app = create_app(replace(settings, run_worker=not no_worker), identity)
        where = f"[{host}]" if ":" in host else host
        serving.run(
            app,
            sock,
            lambda: click.echo(
                f"serving on http://{where}:{port}  (public URL {settings.base_url})"
            ),
        )


@click.command()
@clear_errors
def worker() -> None:
    """Run only the push worker (start several for more throughput)."""
    from passes.jobs import worker_jobs
    from passes.push import push_worker

    settings = env_settings()
    identity = load_identity(settings.certs_dir, settings.cert_password)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    async def run() -> None:
        store = Store(settings.database_url)
        await store.migrate()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        try:
            jobs = worker_jobs(
                store,
                Campaigns(store, lambda: None),
                system_clock,
                webhooks_allow_private=settings.webhooks_allow_private,
            )
            async with push_worker(settings, identity, store, jobs=jobs) as pusher:
                click.echo("push worker running (Ctrl-C to stop)", err=True)
                await pusher.run(stop)
        finally:
            await store.close()

    with single_instance(settings.database_url, server=False, worker=True):
        asyncio.run(run())
