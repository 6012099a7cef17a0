"""How every command runs: the settings from the environment, our errors as one line, the
service around the work, and progress while many passes are refreshed."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import click

from passes.config import Settings
from passes.errors import FAILURES, cli_message
from passes.service import Service

P = ParamSpec("P")
T = TypeVar("T")


def env_settings() -> Settings:
    """The settings from the environment (and .env), read where a command needs them."""
    return Settings.from_env()


def clear_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Turn our errors into one line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except FAILURES as exc:
            raise click.ClickException(cli_message(exc)) from exc

    return wrapper


def with_service(work: Callable[[Service], Awaitable[T]]) -> T:
    """Run `work` with the service over the migrated database, then close it."""

    async def run() -> T:
        service = Service.open(env_settings())
        try:
            await service.store.migrate()
            return await work(service)
        finally:
            await service.aclose()

    return asyncio.run(run())


def refresh_progress() -> Callable[[int, int], None]:
    """Reports a refresh of many passes on stderr: one updating line on a terminal, else a
    line per tenth."""
    terminal = sys.stderr.isatty()
    shown = -1

    def report(done: int, total: int) -> None:
        nonlocal shown
        tenth = done * 10 // total
        if terminal:
            click.echo(f"\rrefreshing passes: {done} of {total}", err=True, nl=done >= total)
        elif tenth > shown:
            shown = tenth
            click.echo(f"refreshing passes: {done} of {total}", err=True)

    return report
