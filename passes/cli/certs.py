"""`passes certs`: the Apple signing identity (and whether Google Wallet is on)."""

from __future__ import annotations

import click

from passes.apple.devcerts import create_dev_identity
from passes.apple.identity import describe, load_identity
from passes.cli.running import clear_errors, env_settings
from passes.config import Settings
from passes.serving import refuse_accidental_dev_identity

DEV_WARNING = (
    "note: this is a DEV signing identity (a local CA stands in for Apple WWDR). "
    "Passes signed with it are valid by structure but will NOT install on a real iPhone; "
    "see certs.example/README.md for the real certificate."
)


def ensure_identity(settings: Settings) -> bool:
    """Make a dev identity when there is none; True when one was made (and said so)."""
    certs = settings.certs_dir
    if any((certs / name).exists() for name in ("pass.p12", "pass.pem")):
        return False
    refuse_accidental_dev_identity(settings)
    create_dev_identity(certs)
    click.echo(f"made a dev signing identity in {certs}/")
    click.echo(DEV_WARNING, err=True)
    return True


@click.group()
def certs() -> None:
    """The Apple signing identity."""


@certs.command("dev")
@click.option("--force", is_flag=True, help="Replace an existing identity in the certs dir.")
@clear_errors
def certs_dev(force: bool) -> None:
    """Make a dev identity: a local CA in WWDR's place and a pass certificate."""
    settings = env_settings()
    create_dev_identity(settings.certs_dir, force=force)
    click.echo(f"made a dev signing identity in {settings.certs_dir}/")
    click.echo(DEV_WARNING, err=True)


@certs.command("check")
@clear_errors
def certs_check() -> None:
    """Explain the signing identity in use (and what is missing)."""
    settings = env_settings()
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
