"""`passes message send`: a campaign message (with surprise stamps or a promotion) to a
segment of a shop's cards, now or later."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

import click

from passes.bonus_rules import MAX_MULTIPLIER
from passes.campaign_rules import MAX_CAMPAIGN_BONUS, SEGMENTS, Audience
from passes.campaigns import Campaigns, GoogleReach, PromotionRequest, counts, nobody_reason
from passes.cli.running import clear_errors, with_service
from passes.cli_texts import cli_language, say
from passes.service import Service

# CLI times are this machine's local time, as people type them.
_LOCAL_TIME = click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone()


@click.group()
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
    type=_LOCAL_TIME,
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
        shop = await service.shops.shop(slug)
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

    campaign_id, chosen, google, why = with_service(work)
    _print_audience(chosen, why, google)
    if campaign_id is not None:
        when_text = say("cli_at_time", time=f"{send_at:%Y-%m-%d %H:%M}") if send_at else ""
        click.echo(say("cli_queued", id=campaign_id, when=when_text))
    if campaign_id is not None and multiplier is not None and ends is not None:
        click.echo(
            f"promotion: stamps count {multiplier}x until {ends:%Y-%m-%d %H:%M} "
            "(servers started elsewhere apply it within 30 s)"
        )


def _print_audience(chosen: Audience, why: str, google: GoogleReach | None) -> None:
    """Who gets the message, who not and why; on a preview, how Android phones hear of it."""
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


def _confirm_nobody(why: str) -> None:
    """Ask before sending a campaign that reaches no card; ClickException when not confirmed."""
    if not sys.stdin.isatty():
        raise click.ClickException(f"not sent: {why} Add --yes to send it anyway.")
    click.echo(why, err=True)
    if not click.confirm("Send it anyway, to nobody?", default=False, err=True):
        raise click.ClickException("not sent")
