"""The `passes` command line: the same service functions the API and pages use."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from passes import cli_import
from passes.answers import card_json, deliveries_json
from passes.apple.devcerts import create_dev_identity
from passes.apple.identity import describe, load_identity
from passes.campaigns import Campaigns, GoogleReach, PromotionRequest, counts, nobody_reason
from passes.cards import CardView
from passes.cli_texts import cli_language, say, say_counted
from passes.clock import system_clock
from passes.config import Settings
from passes.design import ShopLogos, change_design
from passes.errors import FAILURES, cli_message
from passes.inputs import whole_number
from passes.keys import ShopKeys
from passes.links import shop_links
from passes.loyalty import MAX_CAMPAIGN_BONUS, MAX_MULTIPLIER, SEGMENTS, Audience
from passes.program import ProgramChange
from passes.render import SYMBOLS
from passes.service import Service
from passes.serving import refuse_accidental_dev_identity
from passes.shops import ProgramChanged
from passes.staff import StaffPins, check_pin_format
from passes.store import Store
from passes.store.apple import Deliveries
from passes.store.instance import single_instance
from passes.store.shops import Location, ShopRow, ShopSummary

P = ParamSpec("P")
T = TypeVar("T")
DEV_WARNING = (
    "note: this is a DEV signing identity (a local CA stands in for Apple WWDR). "
    "Passes signed with it are valid by structure but will NOT install on a real iPhone; "
    "see certs.example/README.md for the real certificate."
)


def _settings() -> Settings:
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


def _with_service(work: Callable[[Service], Awaitable[T]]) -> T:
    async def run() -> T:
        service = Service.open(_settings())
        try:
            await service.store.migrate()
            return await work(service)
        finally:
            await service.aclose()

    return asyncio.run(run())


@click.group()
def cli() -> None:
    """Loyalty stamp cards in Apple Wallet and Google Wallet."""


@cli.command()
@clear_errors
def init() -> None:
    """Create the data dir, migrate the database, make a dev identity if none exists."""
    settings = _settings()
    _ensure_identity(settings)
    asyncio.run(_migrate(settings))
    click.echo(f"database ready: {settings.database_url}")


def _ensure_identity(settings: Settings) -> bool:
    """Make a dev identity when there is none; True when one was made (and said so)."""
    certs = settings.certs_dir
    if any((certs / name).exists() for name in ("pass.p12", "pass.pem")):
        return False
    refuse_accidental_dev_identity(settings)
    create_dev_identity(certs)
    click.echo(f"made a dev signing identity in {certs}/")
    click.echo(DEV_WARNING, err=True)
    return True


async def _migrate(settings: Settings) -> None:
    store = Store(settings.database_url)
    try:
        await store.migrate()
    finally:
        await store.close()


@cli.command()
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

    settings = _settings()
    if not settings.base_url_set:
        # Without PASSES_BASE_URL, passes point at where this server really listens.
        settings = replace(settings, base_url=serving.local_base_url(host, port))
    with single_instance(settings.database_url, server=True, worker=not no_worker):
        sock = serving.bind(host, port)
        made = _ensure_identity(settings)
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


@cli.group()
def shop() -> None:
    """Shops and their programs."""


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
        created = await service.create_shop(name=name, stamps=stamps, reward=reward, slug=slug)
        if pin is not None:
            await StaffPins(service.store).set_pin(created[0], pin)
        return created

    created, key = _with_service(work)
    click.echo(say("cli_shop", slug=created.slug, name=created.name))
    click.echo(say_counted("cli_program", stamps, stamps=stamps, reward=reward))
    click.echo(say("cli_api_key", key=key))
    if pin is not None:
        click.echo(say("cli_pin_set", url=f"{_settings().base_url}/staff/{created.slug}"))
    _print_links(created.slug)
    click.echo(say("cli_keep_key"), err=True)


def _print_links(slug: str) -> None:
    for name, url in shop_links(_settings().base_url, slug).items():
        click.echo(f"  {name + ':':<11}{url}")


@shop.command("list")
@clear_errors
def shop_list() -> None:
    """Every shop: slug, name, cards, and the links to its pages."""

    async def work(service: Service) -> list[ShopSummary]:
        return await service.shops()

    found = _with_service(work)
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
        await StaffPins(service.store).set_pin(await service.shop(slug), pin)

    _with_service(work)
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
        return await ShopKeys(service.store).rotate(await service.shop(slug))

    key = _with_service(work)
    click.echo(f"api key: {key}")
    click.echo(
        "The old key no longer works and dashboard sign-ins with it have ended. Keep the new "
        "key safe: it is stored hashed and cannot be shown again.",
        err=True,
    )


@shop.command("settings")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@click.option("--daily-cap", type=int, help="Most stamps per card and day (anti-fraud).")
@click.option("--no-daily-cap", is_flag=True, help="Remove the daily cap.")
@click.option("--messages-per-week", type=int, help="Most campaign messages per card and week.")
@click.option("--holdout", type=int, help="Percent of a segment held out of campaigns.")
@click.option("--welcome", type=int, help="Bonus stamps on joining (0 to 3).")
@click.option(
    "--loyal-after-cards", type=int, help="A regular after N full cards (rewards earned; 0 off)."
)
@click.option("--loyal-after-months", type=int, help="A regular N months after joining (0 off).")
@click.option("--loyal-bonus", type=int, help="Bonus stamps, once, when a card becomes a regular.")
@click.option("--loyal-perk", help='A regular\'s standing perk on the pass ("" removes it).')
@click.option(
    "--tier",
    "tiers",
    multiple=True,
    metavar='AT="REWARD"',
    help='An intermediate reward, e.g. --tier 5="1 Cookie" (repeat; replaces all tiers).',
)
@click.option("--no-tiers", is_flag=True, help="Remove the intermediate rewards.")
@click.option(
    "--stamp-expiry", type=int, help="Stamps expire after this many days without a visit."
)
@click.option("--no-stamp-expiry", is_flag=True, help="Stamps never expire.")
@click.option("--reward-expiry", type=int, help="A due reward expires after this many days.")
@click.option("--no-reward-expiry", is_flag=True, help="Rewards never expire.")
@click.option("--name", help="The shop's name on passes and pages (the slug stays).")
@click.option(
    "--stamps",
    type=int,
    help="Stamps for the main reward. Cards keep their stamps; at or past the new number, "
    "the reward is due at once.",
)
@click.option("--reward", help='The main reward, e.g. "1 Vita Mix gratis".')
@click.option("--background", help="The pass's background colour, e.g. '#3B2A20'.")
@click.option("--foreground", help="The pass's text colour, e.g. '#FFFFFF'.")
@click.option("--label", help="The pass's label colour, e.g. '#F2C879'.")
@click.option("--stamp-colour", help="The colour of the stamps on the strip, e.g. '#F2C879'.")
@click.option("--stamp-symbol", type=click.Choice(SYMBOLS), help="What a stamp on the strip shows.")
@clear_errors
def shop_settings(
    slug: str,
    daily_cap: int | None,
    no_daily_cap: bool,
    messages_per_week: int | None,
    holdout: int | None,
    welcome: int | None,
    loyal_after_cards: int | None,
    loyal_after_months: int | None,
    loyal_bonus: int | None,
    loyal_perk: str | None,
    tiers: tuple[str, ...],
    no_tiers: bool,
    stamp_expiry: int | None,
    no_stamp_expiry: bool,
    reward_expiry: int | None,
    no_reward_expiry: bool,
    name: str | None,
    background: str | None,
    foreground: str | None,
    label: str | None,
    stamp_colour: str | None,
    stamps: int | None,
    reward: str | None,
    stamp_symbol: str | None,
) -> None:
    """Change the program's main reward, limits, reward tiers, expiry, name and colours;
    prints them.

    A change of what passes show (tiers, expiry, perk, name, colours) updates every pass
    in a wallet: the command says how many, with progress for a large shop."""
    changes: dict[str, int | None] = {}
    if stamp_expiry is not None or no_stamp_expiry:
        changes["stamp_expiry_days"] = None if no_stamp_expiry else stamp_expiry
    if reward_expiry is not None or no_reward_expiry:
        changes["reward_expiry_days"] = None if no_reward_expiry else reward_expiry
    new_tiers = [] if no_tiers else [parse_tier(tier) for tier in tiers]
    if daily_cap is not None or no_daily_cap:
        changes["daily_cap"] = None if no_daily_cap else daily_cap
    if messages_per_week is not None:
        changes["messages_per_week"] = messages_per_week
    if holdout is not None:
        changes["holdout_percent"] = holdout
    if welcome is not None:
        changes["welcome_stamps"] = welcome

    standing = {
        name: value
        for name, value in (
            ("loyal_after_cards", loyal_after_cards),
            ("loyal_after_months", loyal_after_months),
            ("loyal_bonus_stamps", loyal_bonus),
        )
        if value is not None
    }

    given = (
        ("background_color", background),
        ("foreground_color", foreground),
        ("label_color", label),
        ("stamp_color", stamp_colour),
    )
    change = ProgramChange(
        limits=changes,
        standing=standing,
        perk=loyal_perk,
        tiers=new_tiers if tiers or no_tiers else None,
        name=name,
        colours={key: value for key, value in given if value is not None},
        stamps_required=stamps,
        reward=reward,
        symbol=stamp_symbol,
    )

    async def work(service: Service) -> ProgramChanged:
        return await service.change_program(await service.shop(slug), change, _progress())

    changed = _with_service(work)
    shop, program = changed.shop, changed.shop.program
    click.echo(f"name:              {shop.name}")
    click.echo(
        f"colours:           background {program.background_color}, "
        f"text {program.foreground_color}, labels {program.label_color}, "
        f"stamps {program.stamp_color}"
    )
    click.echo(f"stamp symbol:      {program.stamp_symbol}")
    click.echo(f"daily cap:         {program.daily_cap or 'none'}")
    click.echo(f"messages per week: {program.messages_per_week}")
    click.echo(f"hold-out:          {program.holdout_percent}%")
    click.echo(f"welcome stamps:    {program.welcome_stamps}")
    click.echo(
        f"regulars:          after {program.loyal_after_cards or '-'} cards / "
        f"{program.loyal_after_months or '-'} months, bonus {program.loyal_bonus_stamps}, "
        f"perk {program.loyal_perk or 'none'}"
    )
    for at, reward in (*program.tiers, (program.stamps_required, program.reward)):
        click.echo(f"reward at {at:>2}:      {reward}")
    days = program.stamp_expiry_days
    click.echo(f"stamps expire:     {f'after {days} days without a visit' if days else 'never'}")
    days = program.reward_expiry_days
    click.echo(f"rewards expire:    {f'{days} days after they fall due' if days else 'never'}")
    if stamps is not None:
        due = changed.rewards_due_now
        click.echo(
            "cards in progress: keep their stamps; at or past the new number the reward is due "
            f"at once: {due} card{'' if due == 1 else 's'} got it now"
        )
    click.echo(f"passes refreshed:  {changed.refreshed}")


def _progress() -> Callable[[int, int], None]:
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


def parse_tier(raw: str) -> tuple[int, str]:
    """'5=1 Cookie' as (5, "1 Cookie")."""
    at, sep, reward = raw.partition("=")
    stamps = whole_number(at.strip(), 9)
    if not sep or stamps is None or not reward.strip():
        raise click.BadParameter(f'{raw!r}: write a tier as 5="1 Cookie"', param_hint="--tier")
    return stamps, reward.strip()


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
        found = await service.shop(slug)
        logos = ShopLogos(service.store)
        if upload is None:
            return await service.change_program(found, ProgramChange(logo=""), _progress())
        return await change_design(service, logos, found, ProgramChange(), upload, _progress())

    changed = _with_service(work)
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
        return await service.refresh_passes(await service.shop(slug), progress=_progress())

    click.echo(f"passes refreshed: {_with_service(work)}")


@shop.command("location")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@click.option("--address", help='e.g. "Sonnenallee 1, Berlin".')
@click.option("--lat", "latitude", type=float, help="Latitude, e.g. 52.4862.")
@click.option("--lon", "longitude", type=float, help="Longitude, e.g. 13.4319.")
@click.option("--delete", "position", type=int, help="Remove the place numbered N in the list.")
@clear_errors
def shop_location(
    slug: str,
    address: str | None,
    latitude: float | None,
    longitude: float | None,
    position: int | None,
) -> None:
    """The shop's places, where passes surface on the lock screen (up to 10): with --address,
    --lat and --lon add one, with --delete N remove one, with neither list them."""
    place_given = [value is not None for value in (address, latitude, longitude)]
    if any(place_given) and not all(place_given):
        raise click.UsageError("a place needs --address, --lat and --lon")
    if all(place_given) and position is not None:
        raise click.UsageError("add a place or --delete one, not both")

    async def work(service: Service) -> tuple[list[Location], int | None]:
        found = await service.shop(slug)
        refreshed = None
        if address is not None and latitude is not None and longitude is not None:
            place = Location(address.strip(), latitude, longitude)
            refreshed = await service.add_location(found, place, _progress())
        elif position is not None:
            _, refreshed = await service.remove_location(found, position, progress=_progress())
        return await service.locations(found), refreshed

    places, refreshed = _with_service(work)
    for number, place in enumerate(places, 1):
        click.echo(f"{number:>2}. {place.latitude:.5f}, {place.longitude:.5f}  {place.address}")
    if not places:
        click.echo("no locations")
    if refreshed is not None:
        click.echo(f"passes refreshed: {refreshed}")


@cli.group()
def card() -> None:
    """Cards: issue, import, stamp, redeem, show."""


def _print_card(view: CardView, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(card_json(view), indent=2))
        return
    counters = view.card.counters
    click.echo(say("cli_serial", serial=view.card.serial))
    required = view.shop.program.stamps_required
    click.echo(say("cli_stamps", stamps=counters.stamps, required=required))
    due, redeemed = counters.rewards_available, counters.rewards_redeemed
    click.echo(say("cli_rewards", due=due, redeemed=redeemed))
    for line in card_json(view)["rewards"]:
        if line["due"]:
            click.echo(
                say_counted(
                    "cli_due", line["at"], due=line["due"], reward=line["reward"], at=line["at"]
                )
            )
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
        return await service.issue_card(await service.shop(slug), "cli")

    _print_card(_with_service(work), as_json)


@card.command("import")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@click.option("--dry-run", is_flag=True, help="Check every row and say what would happen.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write cards.csv and qr-codes.pdf (the QR codes to hand out) into this folder.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@clear_errors
def card_import(slug: str, dry_run: bool, out: Path | None, file: Path) -> None:
    """Import paper cards from a CSV file with the columns id,stamps: a card per row, all or
    nothing; rows imported before are skipped. See README "Importing paper cards"."""
    data = cli_import.read_file(file)
    shop, report = _with_service(
        lambda service: cli_import.import_file(service, slug, data, dry_run=dry_run)
    )
    cli_import.tell(shop, report, dry_run=dry_run, out=out)


def _card_change(
    serial: str, change: Callable[[Service, Any], Awaitable[CardView]], as_json: bool
) -> None:
    async def work(service: Service) -> CardView:
        found = await service.find_card(serial)
        return await change(service, found.shop)

    _print_card(_with_service(work), as_json)


@card.command("stamp")
@click.argument("serial")
@click.option("--count", default=1, show_default=True, type=int)
@_json_option
@clear_errors
def card_stamp(serial: str, count: int, as_json: bool) -> None:
    """Add stamps to a card."""
    _card_change(
        serial,
        lambda service, shop: service.stamp(shop, serial, count, actor="cli", idempotency_key=None),
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
        lambda service, shop: service.redeem(
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
        found = await service.find_card(serial)
        return await service.deliveries(found.shop, found.card.serial)

    view, found = _with_service(work)
    if as_json:
        click.echo(json.dumps({"card": card_json(view), **deliveries_json(view, found)}, indent=2))
        return
    _print_card(view, False)
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


@cli.command()
@clear_errors
def worker() -> None:
    """Run only the push worker (start several for more throughput)."""
    from passes.jobs import worker_jobs
    from passes.push import push_worker

    settings = _settings()
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
            jobs = worker_jobs(store, Campaigns(store, lambda: None), system_clock)
            async with push_worker(settings, identity, store, jobs=jobs) as pusher:
                click.echo("push worker running (Ctrl-C to stop)", err=True)
                await pusher.run(stop)
        finally:
            await store.close()

    with single_instance(settings.database_url, server=False, worker=True):
        asyncio.run(run())


# CLI times are this machine's local time, as people type them.
_LOCAL_TIME = click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone()


@cli.group()
def message() -> None:
    """Campaign messages to a segment of a shop's cards."""


@message.command("send")
@click.option("--shop", "slug", required=True, help="The shop's slug.")
@click.option(
    "--segment",
    type=click.Choice(SEGMENTS),
    default="all",
    show_default=True,
    help="Who gets it: all, new (< 30 days), lapsed (no visit for 45 days), top (A class), …",
)
@click.option("--preview", is_flag=True, help="Only count who would receive it.")
@click.option(
    "--at",
    "send_at",
    type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]),
    help="Send later, e.g. 2026-12-05T09:00 (this machine's local time).",
)
@click.option(
    "--bonus",
    default=0,
    show_default=True,
    help=f"Surprise stamps per recipient (0-{MAX_CAMPAIGN_BONUS}).",
)
@click.option(
    "--multiplier",
    type=int,
    help=f"A promotion: each stamp on a recipient's card counts this many times (2-{MAX_MULTIPLIER}).",
)
@click.option("--from", "starts", type=_LOCAL_TIME, help="The promotion's start (default now).")
@click.option("--until", "ends", type=_LOCAL_TIME, help="The promotion's end (up to 14 days).")
@click.option("--yes", is_flag=True, help="Send even if it reaches nobody, without asking.")
@click.argument("text")
@clear_errors
def message_send(
    slug: str,
    segment: str,
    preview: bool,
    send_at: datetime | None,
    bonus: int,
    multiplier: int | None,
    starts: datetime | None,
    ends: datetime | None,
    yes: bool,
    text: str,
) -> None:
    """Send TEXT to the segment's cards (it appears on the pass and the lock screen).

    A message that would reach no card says why and asks first (without a terminal to ask
    on, it is not sent unless --yes)."""
    if multiplier is None and (starts or ends):
        raise click.UsageError("--from and --until belong to a promotion: add --multiplier")
    promotion = (
        None if multiplier is None else PromotionRequest(multiplier, _aware(starts), _aware(ends))
    )

    async def work(service: Service) -> tuple[int | None, Audience, GoogleReach | None, str]:
        shop = await service.shop(slug)
        campaigns = Campaigns(service.store, lambda: None)
        chosen = await campaigns.audience(shop, segment)
        why = (
            ""
            if chosen.recipients
            else nobody_reason(counts(segment, chosen), shop, cli_language())
        )
        if preview:
            return None, chosen, await campaigns.google_reach(shop, chosen.recipients), why
        # A scheduled campaign takes its segment when it goes out: 0 now may be more then.
        if why and send_at is None and not yes:
            campaigns.check(text, None, bonus, promotion)  # a refusal first, then the question
            await asyncio.to_thread(_confirm_nobody, why)
        sent = await campaigns.send(shop, text, segment, _aware(send_at), bonus, promotion)
        return (*sent, None, why)

    campaign_id, chosen, google, why = _with_service(work)
    click.echo(say("cli_recipients", n=len(chosen.recipients)))
    click.echo(say("cli_held_out", n=len(chosen.held_out)))
    click.echo(say("cli_at_limit", n=len(chosen.over_limit)))
    if why:
        click.echo(say("cli_why", why=why))
    if google is not None:
        click.echo(
            f"android:    {google.notified} notified, {google.silent} updated silently "
            "(Google allows 3 notifications a day per pass)"
        )
    if campaign_id is not None:
        when_text = say("cli_at_time", time=f"{send_at:%Y-%m-%d %H:%M}") if send_at else ""
        click.echo(say("cli_queued", id=campaign_id, when=when_text))
    if campaign_id is not None and multiplier is not None and ends is not None:
        click.echo(
            f"promotion: stamps count {multiplier}x until {ends:%Y-%m-%d %H:%M} "
            "(servers started elsewhere apply it within 30 s)"
        )


def _confirm_nobody(why: str) -> None:
    """Ask before sending a campaign that reaches no card; ClickException when not confirmed."""
    if not sys.stdin.isatty():
        raise click.ClickException(f"not sent: {why} Add --yes to send it anyway.")
    click.echo(why, err=True)
    if not click.confirm("Send it anyway, to nobody?", default=False, err=True):
        raise click.ClickException("not sent")


@cli.group()
def certs() -> None:
    """The Apple signing identity."""


@certs.command("dev")
@click.option("--force", is_flag=True, help="Replace an existing identity in the certs dir.")
@clear_errors
def certs_dev(force: bool) -> None:
    """Make a dev identity: a local CA in WWDR's place and a pass certificate."""
    settings = _settings()
    create_dev_identity(settings.certs_dir, force=force)
    click.echo(f"made a dev signing identity in {settings.certs_dir}/")
    click.echo(DEV_WARNING, err=True)


@certs.command("check")
@clear_errors
def certs_check() -> None:
    """Explain the signing identity in use (and what is missing)."""
    settings = _settings()
    identity = load_identity(settings.certs_dir, settings.cert_password)
    for line in describe(identity):
        click.echo(line)
    for line in _google_state(settings):
        click.echo(line)


def _google_state(settings: Settings) -> list[str]:
    """Google Wallet: on or off, as whom, what is missing; ConfigError for a broken key."""
    from passes.google.config import load_google, public_base_warning

    missing = [
        name
        for name, value in (
            ("PASSES_GOOGLE_ISSUER_ID", settings.google_issuer_id),
            ("PASSES_GOOGLE_SERVICE_ACCOUNT", settings.google_service_account),
        )
        if not value
    ]
    if missing:
        return [f"google:  off ({' and '.join(missing)} not set; set both to enable)"]
    account = load_google(
        settings.google_issuer_id,
        settings.google_service_account,
        settings.google_api_url,
        settings.base_url,
    )
    assert account is not None
    lines = [
        f"google:  on, issuer {account.config.issuer_id}",
        f"         service account {account.email} (key {account.key_id[:8]}…)",
        f"         API {account.config.api_url}",
    ]
    warning = public_base_warning(settings.base_url)
    if warning:
        lines.append(f"warning: {warning}")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point."""
    cli.main(args=list(argv) if argv is not None else sys.argv[1:], prog_name="passes")
