"""`passes staff add|list|remove`, run as a user runs them: the PIN asked twice (hidden) or
given, clear refusals with exit status 1, and `passes card history` naming the person."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.live import PASSES, create_shop, passes_env, run

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return passes_env(f"sqlite:///{tmp_path / 'passes.db'}", tmp_path / "certs")


def typed(env: dict[str, str], *args: str, answers: str) -> subprocess.CompletedProcess[str]:
    """A command answering its prompts from stdin, without a terminal (as a script would)."""
    return subprocess.run(
        [*PASSES, *args],
        env=env,
        input=answers,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        start_new_session=True,  # no controlling terminal: the hidden prompt reads stdin
    )


def test_staff_add_list_remove(cli_env: dict[str, str]) -> None:
    slug = "cafe-people"
    create_shop(cli_env, slug=slug)
    run(
        cli_env,
        *("shop", "location", "--shop", slug, "--address", "Sonnenallee 1"),
        *("--lat", "52.4862", "--lon", "13.4319"),
    )
    manager = run(
        cli_env,
        *("staff", "add", "--shop", slug, "--name", "Mara", "--role", "manager"),
        *("--pin", "2580"),
    )
    assert "Mara added (manager, branch: -)" in manager.stdout
    assert f"/staff/{slug}" in manager.stdout
    assert "shared staff PIN no longer signs in" in manager.stderr

    asked = typed(
        cli_env,
        *("staff", "add", "--shop", slug, "--name", "Ana", "--branch", "sonnenallee 1"),
        answers="1357\n1357\n",
    )
    assert asked.returncode == 0, asked.stderr
    assert "Ana added (staff, branch: Sonnenallee 1)" in asked.stdout
    assert "1357" not in asked.stdout + asked.stderr, "the PIN is never shown"
    differ = typed(cli_env, "staff", "add", "--shop", slug, "--name", "Ben", answers="1357\n7531\n")
    assert differ.returncode != 0

    listed = run(cli_env, "staff", "list", "--shop", slug).stdout.splitlines()
    assert [line.split() for line in listed] == [
        ["Ana", "staff", "Sonnenallee", "1"],
        ["Mara", "manager", "-"],
    ]

    for args, said in [
        (("--name", "ANA", "--pin", "1111"), "someone called 'ANA' already"),
        (("--name", "Ben", "--pin", "1111", "--branch", "Mars"), "no branch 'Mars'"),
        (("--name", "Ben", "--pin", "12"), "4 to 12 digits"),
        (("--name", "Ben", "--pin", "1111", "--role", "boss"), "'boss' is not one of"),
        (("--name", "   ", "--pin", "1111"), "a name has 1 to 80"),
    ]:
        refused = run(cli_env, "staff", "add", "--shop", slug, *args, ok=False)
        assert refused.returncode != 0 and said in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr
    unknown_shop = run(cli_env, "staff", "list", "--shop", "nope", ok=False)
    assert unknown_shop.returncode == 1 and "Traceback" not in unknown_shop.stderr

    removed = run(cli_env, "staff", "remove", "--shop", slug, "--name", "ana")
    assert "Ana removed; their devices are signed out" in removed.stdout
    again = run(cli_env, "staff", "remove", "--shop", slug, "--name", "ana", ok=False)
    assert again.returncode == 1 and "no one called 'ana'" in again.stderr
    run(cli_env, "staff", "remove", "--shop", slug, "--name", "Mara")
    assert "no people yet" in run(cli_env, "staff", "list", "--shop", slug).stdout


def test_card_history_on_the_command_line(cli_env: dict[str, str]) -> None:
    slug = "cafe-history"
    create_shop(cli_env, slug=slug)
    issued = run(cli_env, "card", "issue", "--shop", slug, "--json").stdout
    serial = issued.split('"serial": "')[1].split('"')[0]
    run(cli_env, "card", "stamp", serial, "--count", "2")
    shown = run(cli_env, "card", "history", "--shop", slug, serial).stdout.splitlines()
    assert shown[0].endswith(serial)
    assert " stamp 2  cli" in shown[1] and " issue " in shown[2]
    other = "cafe-other"
    create_shop(cli_env, slug=other)
    elsewhere = run(cli_env, "card", "history", "--shop", other, serial, ok=False)
    assert elsewhere.returncode == 1 and "Traceback" not in elsewhere.stderr
