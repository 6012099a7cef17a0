"""`passes staff`: the shop's people, each with a name, their own PIN, a role and optionally
a branch. Once a shop has people, the shared staff PIN (`passes shop pin`) stops signing in."""

from __future__ import annotations

import click

from passes.cli.running import clear_errors, env_settings, with_service
from passes.cli_texts import say
from passes.people import ROLES, STAFF_ROLE, Person
from passes.service import Service
from passes.staff import check_pin_format


@click.group()
def staff() -> None:
    """The shop's people: staff and managers with their own PINs."""


@staff.command("add")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@click.option("--name", required=True, help='The name they sign in with, e.g. "Ana".')
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default=STAFF_ROLE,
    show_default=True,
    help="staff: stamp, redeem, undo; manager: also rules, figures, people.",
)
@click.option("--branch", default=None, help="Their branch: a location's name, address or id.")
@click.option(
    "--pin",
    prompt="Their PIN",
    hide_input=True,
    confirmation_prompt=True,
    help="4-12 digits; asked for (hidden, twice) when omitted.",
)
@clear_errors
def staff_add(slug: str, name: str, role: str, branch: str | None, pin: str) -> None:
    """Add a person with their own PIN (asked for twice, hidden)."""
    check_pin_format(pin)

    async def work(service: Service) -> tuple[Person, bool]:
        shop = await service.shops.shop(slug)
        first = not await service.people.any(shop)
        branch_id = None if branch is None else await service.shops.branch(shop, branch)
        return await service.people.add(shop, name, pin, role, branch_id), first

    person, first = with_service(work)
    where = person.branch_name or "-"
    click.echo(say("cli_person_added", name=person.name, role=person.role, branch=where))
    click.echo(say("cli_person_signs_in", url=f"{env_settings().base_url}/staff/{slug}"))
    if first:
        click.echo(say("cli_shared_pin_ends"), err=True)
    if person.role == STAFF_ROLE and first:
        click.echo(say("cli_add_a_manager", slug=slug), err=True)


@staff.command("list")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@clear_errors
def staff_list(slug: str) -> None:
    """The shop's people: name, role, branch."""

    async def work(service: Service) -> list[Person]:
        return await service.people.list(await service.shops.shop(slug))

    people = with_service(work)
    if not people:
        click.echo(say("cli_no_people"))
        return
    width = max(len(person.name) for person in people)
    for person in people:
        click.echo(f"{person.name:<{width}}  {person.role:<7}  {person.branch_name or '-'}")


@staff.command("remove")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@click.option("--name", required=True, help="The person's name (any case).")
@clear_errors
def staff_remove(slug: str, name: str) -> None:
    """Remove a person: their devices are signed out at once; the ledger keeps their name."""

    async def work(service: Service) -> tuple[Person, bool]:
        shop = await service.shops.shop(slug)
        removed = await service.people.remove(shop, name)
        return removed, await service.people.any(shop)

    person, left = with_service(work)
    click.echo(say("cli_person_removed", name=person.name))
    if not left:
        click.echo(say("cli_no_people_left", slug=slug), err=True)
