"""`passes shop`: create and list shops, their staff PIN and API key, logo, places, and a
refresh of their passes (`shop settings`, the program, lives in shop_settings.py)."""

from __future__ import annotations

from pathlib import Path

import click

from passes.cli.running import clear_errors, env_settings, refresh_progress, with_service
from passes.cli.shop_settings import shop_settings
from passes.cli_texts import say, say_counted
from passes.design import ShopLogos, change_design
from passes.keys import ShopKeys
from passes.links import shop_links
from passes.program import ProgramChange
from passes.service import Service
from passes.shops import ProgramChanged
from passes.staff import StaffPins, check_pin_format
from passes.store.branches import Location
from passes.store.shops import ShopRow, ShopSummary


@click.group()
def shop() -> None:
    """Shops and their programs."""


shop.add_command(shop_settings)


@shop.command("create")
@click.option("--name", required=True, help='The shop\'s name, e.g. "Café Sonne".')
@click.option("--stamps", default=10, show_default=True, type=int, help="Stamps per reward.")
@click.option("--reward", required=True, help='What a full card gives, e.g. "1 Vita Mix gratis".')
@click.option("--slug", default=None, help="URL name; made from the name when omitted.")
@click.option("--pin", default=None, help="Staff PIN (4-12 digits) for the stamping page.")
@clear_errors
def shop_create(name: str, stamps: int, reward: str, slug: str | None, pin: str | None) -> None:
    """Create a shop with its program; prints the API key once."""
    if pin is not None:
        check_pin_format(pin)

    async def work(service: Service) -> tuple[ShopRow, str]:
        created = await service.shops.create_shop(
            name=name, stamps=stamps, reward=reward, slug=slug
        )
        if pin is not None:
            await StaffPins(service.store).set_pin(created[0], pin)
        return created

    created, key = with_service(work)
    click.echo(say("cli_shop", slug=created.slug, name=created.name))
    click.echo(say_counted("cli_program", stamps, stamps=stamps, reward=reward))
    click.echo(say("cli_api_key", key=key))
    if pin is not None:
        click.echo(say("cli_pin_set", url=f"{env_settings().base_url}/staff/{created.slug}"))
    _print_links(created.slug)
    click.echo(say("cli_keep_key"), err=True)


def _print_links(slug: str) -> None:
    for name, url in shop_links(env_settings().base_url, slug).items():
        click.echo(f"  {name + ':':<11}{url}")


@shop.command("list")
@clear_errors
def shop_list() -> None:
    """Every shop: slug, name, cards, and the links to its pages."""

    async def work(service: Service) -> list[ShopSummary]:
        return await service.shops.shops()

    found = with_service(work)
    if not found:
        click.echo(say("cli_no_shops"))
    for summary in found:
        cards = say_counted("cli_cards", summary.cards, n=summary.cards)
        click.echo(f"{summary.slug}  {summary.name}  ({cards})")
        _print_links(summary.slug)


@shop.command("pin")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@click.option(
    "--pin",
    prompt="New staff PIN",
    hide_input=True,
    confirmation_prompt=True,
    help="4-12 digits; asked for (hidden) when omitted.",
)
@clear_errors
def shop_pin(slug: str, pin: str) -> None:
    """Set or reset the staff PIN (signs every staff device out)."""
    check_pin_format(pin)

    async def work(service: Service) -> None:
        await StaffPins(service.store).set_pin(await service.shops.shop(slug), pin)

    with_service(work)
    click.echo(
        f"staff PIN set for {slug}; staff devices signed in before must sign in again "
        "(any sign-in lock is lifted)"
    )


@shop.command("key")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@clear_errors
def shop_key(slug: str) -> None:
    """A new API key for a lost or leaked one: the old key stops at once (every server)."""

    async def work(service: Service) -> str:
        return await ShopKeys(service.store).rotate(await service.shops.shop(slug))

    key = with_service(work)
    click.echo(f"api key: {key}")
    click.echo(
        "The old key no longer works and dashboard sign-ins with it have ended. Keep the new "
        "key safe: it is stored hashed and cannot be shown again.",
        err=True,
    )


@shop.command("logo")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@click.option("--remove", is_flag=True, help="Go back to the default logo.")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@clear_errors
def shop_logo(slug: str, remove: bool, file: str | None) -> None:
    """Put FILE (a PNG at least 300 px wide or tall, or an SVG; at most 2 MB) on the shop's
    passes: scaled for Apple's logo and icon and Google's 660×660 logo. Every pass in a
    wallet is updated."""
    if (file is None) == (not remove):
        raise click.UsageError("give the logo FILE, or --remove for the default logo")
    upload = None if file is None else Path(file).read_bytes()

    async def work(service: Service) -> ProgramChanged:
        found = await service.shops.shop(slug)
        logos = ShopLogos(service.store)
        progress = refresh_progress()
        if upload is None:
            return await service.shops.change_program(found, ProgramChange(logo=""), progress)
        return await change_design(service, logos, found, ProgramChange(), upload, progress)

    changed = with_service(work)
    digest = changed.shop.program.logo_digest
    click.echo(f"logo:             {digest[:12] if digest else 'default'}")
    click.echo(f"passes refreshed: {changed.refreshed}")


@shop.command("refresh")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@clear_errors
def shop_refresh(slug: str) -> None:
    """Update every pass of the shop in a wallet now, e.g. after replacing assets/logo.png
    (program changes through `shop settings` do this themselves)."""

    async def work(service: Service) -> int:
        found = await service.shops.shop(slug)
        return await service.refresher.refresh_passes(found, progress=refresh_progress())

    click.echo(f"passes refreshed: {with_service(work)}")


@shop.command("location")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@click.option("--address", help='e.g. "Sonnenallee 1, Berlin".')
@click.option("--lat", "latitude", type=float, help="Latitude, e.g. 52.4862.")
@click.option("--lon", "longitude", type=float, help="Longitude, e.g. 13.4319.")
@click.option("--name", help='The branch\'s name, e.g. "Altstadt" ("" : by its address).')
@click.option("--branch", help="Rename this branch (its id, name or address) to --name.")
@click.option("--delete", "position", type=int, help="Remove the place numbered N in the list.")
@clear_errors
def shop_location(
    slug: str,
    address: str | None,
    latitude: float | None,
    longitude: float | None,
    name: str | None,
    branch: str | None,
    position: int | None,
) -> None:
    """The shop's places, its branches, where passes surface on the lock screen (up to 10):
    with --address, --lat and --lon (and --name) add one, with --branch B --name N rename
    one, with --delete N remove one, with none of them list them."""
    place_given = [value is not None for value in (address, latitude, longitude)]
    if any(place_given) and not all(place_given):
        raise click.UsageError("a place needs --address, --lat and --lon")
    if sum((all(place_given), branch is not None, position is not None)) > 1:
        raise click.UsageError("add a place, rename a --branch or --delete one, one at a time")
    if branch is not None and name is None:
        raise click.UsageError("--branch needs the new --name")
    if name is not None and not all(place_given) and branch is None:
        raise click.UsageError("--name goes with a new place or with --branch")

    async def work(service: Service) -> tuple[list[Location], int | None]:
        shops = service.shops
        found = await shops.shop(slug)
        refreshed = None
        if address is not None and latitude is not None and longitude is not None:
            place = Location(address.strip(), latitude, longitude, name)
            refreshed = await shops.add_location(found, place, refresh_progress())
        elif branch is not None:
            await shops.rename_branch(found, branch, name)
        elif position is not None:
            _, refreshed = await shops.remove_location(found, position, progress=refresh_progress())
        return await shops.locations(found), refreshed

    places, refreshed = with_service(work)
    for number, place in enumerate(places, 1):
        named = f": {place.name}" if place.name else ""
        click.echo(
            f"{number:>2}. {place.latitude:.5f}, {place.longitude:.5f}  {place.address}"
            f"  [branch {place.id}{named}]"
        )
    if not places:
        click.echo("no locations")
    if refreshed is not None:
        click.echo(f"passes refreshed: {refreshed}")
