"""`passes card`: issue, stamp, redeem, show a card and its history (import: card_import.py)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import click
import msgspec

from passes.answers import card_json, deliveries_json
from passes.answers_history import history_answer
from passes.card_facts import CardFacts
from passes.card_history import HistoryEntry
from passes.cards import CardView
from passes.cli.card_import import card_import
from passes.cli.running import clear_errors, with_service
from passes.cli_texts import say, say_counted
from passes.service import Service
from passes.store.apple import Deliveries


@click.group()
def card() -> None:
    """Cards: issue, import, stamp, redeem, show, history."""


card.add_command(card_import)


def _print_card(view: CardView, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(card_json(view), indent=2))
        return
    facts = CardFacts.of(view.shop.program, view.card)
    click.echo(say("cli_serial", serial=view.card.serial))
    click.echo(say("cli_stamps", stamps=facts.stamps, required=facts.stamps_required))
    click.echo(say("cli_rewards", due=facts.rewards_available, redeemed=facts.rewards_redeemed))
    for line in facts.due:
        click.echo(say_counted("cli_due", line.at, due=line.due, reward=line.reward, at=line.at))
    click.echo(say("cli_card", url=view.urls["card"]))
    click.echo(f"apple:   {view.urls['apple']}")


_json_option = click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")


@card.command("issue")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@_json_option
@clear_errors
def card_issue(slug: str, as_json: bool) -> None:
    """Issue a new card; prints its page URL and serial."""

    async def work(service: Service) -> CardView:
        return await service.issuing.issue_card(await service.shops.shop(slug), "cli")

    _print_card(with_service(work), as_json)


def _card_change(
    serial: str, change: Callable[[Service, Any], Awaitable[CardView]], as_json: bool
) -> None:
    async def work(service: Service) -> CardView:
        found = await service.cards.find_card(serial)
        return await change(service, found.shop)

    _print_card(with_service(work), as_json)


@card.command("stamp")
@click.argument("serial")
@click.option("--count", default=1, show_default=True, type=int)
@_json_option
@clear_errors
def card_stamp(serial: str, count: int, as_json: bool) -> None:
    """Add stamps to a card."""
    _card_change(
        serial,
        lambda service, shop: service.changes.stamp(
            shop, serial, count, actor="cli", idempotency_key=None
        ),
        as_json,
    )


@card.command("redeem")
@click.argument("serial")
@click.option("--tier", type=int, help="The reward's stamp count (default: the oldest due).")
@_json_option
@clear_errors
def card_redeem(serial: str, tier: int | None, as_json: bool) -> None:
    """Redeem one due reward."""
    _card_change(
        serial,
        lambda service, shop: service.changes.redeem(
            shop, serial, actor="cli", idempotency_key=None, tier=tier
        ),
        as_json,
    )


@card.command("show")
@click.argument("serial")
@_json_option
@clear_errors
def card_show(serial: str, as_json: bool) -> None:
    """Show a card and how its updates reach phones (devices, pushes, device logs)."""

    async def work(service: Service) -> tuple[CardView, Deliveries]:
        found = await service.cards.find_card(serial)
        return await service.cards.deliveries(found.shop, found.card.serial)

    view, found = with_service(work)
    if as_json:
        click.echo(json.dumps({"card": card_json(view), **deliveries_json(view, found)}, indent=2))
        return
    _print_card(view, False)
    _print_deliveries(view, found)


def _print_deliveries(view: CardView, found: Deliveries) -> None:
    """When the phone last fetched the pass, its devices, the latest pushes and device logs."""
    fetched = view.card.last_fetched_at
    click.echo(f"fetched: {fetched:%Y-%m-%d %H:%M:%S} UTC" if fetched else "fetched: never")
    click.echo(f"pending: {found.pending} push(es) waiting")
    click.echo(f"devices: {len(found.devices)}")
    for device in found.devices:
        click.echo(
            f"  {device['device']} token {device['push_token']} since {device['registered_at']}"
        )
    for attempt in found.attempts[:10]:
        click.echo(
            f"  push {attempt['at']} {attempt['target']} {attempt['device'] or ''} "
            f"{attempt['status'] or '-'} {attempt['reason'] or ''} -> {attempt['outcome']}"
        )
    for line in found.logs[:5]:
        click.echo(f"  device log {line['at']}: {line['message']}")
    for line in found.unverified_logs[:5]:
        click.echo(f"  unverified device log {line['at']}: {line['message']}")


@card.command("history")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@click.argument("serial")
@_json_option
@clear_errors
def card_history(slug: str, serial: str, as_json: bool) -> None:
    """The card's changes, newest first (at most 100): when, what, and who made them where."""

    async def work(service: Service) -> tuple[str, list[HistoryEntry]]:
        return await service.history.of(await service.shops.shop(slug), serial)

    found, entries = with_service(work)
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(history_answer(found, entries)), indent=2))
        return
    click.echo(say("cli_serial", serial=found))
    for entry in entries:
        who = " ".join(
            part for part in (entry.person, entry.branch and f"({entry.branch})") if part
        )
        click.echo(
            f"{entry.at:%Y-%m-%d %H:%M:%S}  #{entry.id}  {entry.kind} {entry.count}  "
            f"{entry.actor}  {who}".rstrip()
        )
