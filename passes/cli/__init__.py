"""The `passes` command line: the same service functions the API and pages use.

One module per command group: serving.py (init, serve, worker), shops.py and
shop_settings.py (`shop`), staff.py (`staff`), cards.py (`card`), messages.py (`message`), certs.py (`certs`);
running.py is how each command runs (settings, errors, the service, progress)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from passes.cli.cards import card
from passes.cli.certs import certs
from passes.cli.messages import message
from passes.cli.serving import init, serve, worker
from passes.cli.shops import shop
from passes.cli.staff import staff


@click.group()
def cli() -> None:
    """Loyalty stamp cards in Apple Wallet and Google Wallet."""


for command in (init, serve, shop, staff, card, worker, message, certs):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point."""
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="passes")
