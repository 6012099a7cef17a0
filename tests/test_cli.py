"""The `passes` command line, run as a user runs it: a subprocess with env settings."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.live import create_shop, free_port, passes_env, process, run, server, wait_for
from tests.pkpass_check import verify_pkpass

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return passes_env(f"sqlite:///{tmp_path / 'data' / 'passes.db'}", tmp_path / "certs")


def test_init_shop_card_stamp_and_certs(cli_env: dict[str, str], tmp_path: Path) -> None:
    init = run(cli_env, "init")
    assert "dev signing identity" in init.stdout
    assert "will NOT install on a real iPhone" in init.stderr
    assert (tmp_path / "certs" / "wwdr.pem").exists()
    assert (tmp_path / "data" / "passes.db").exists()

    created = run(
        cli_env,
        "shop",
        "create",
        "--name",
        "Café Sonne",
        "--stamps",
        "10",
        "--reward",
        "1 Vita Mix gratis",
    )
    assert "cafe-sonne" in created.stdout
    key = re.search(r"api key: (psk_\S+)", created.stdout)
    assert key, created.stdout
    assert "cannot be shown again" in created.stderr

    issued = run(cli_env, "card", "issue", "--shop", "cafe-sonne")
    serial = re.search(r"serial:\s+(\S+)", issued.stdout)
    assert serial and "/c/" in issued.stdout

    stamped = run(cli_env, "card", "stamp", serial.group(1), "--count", "3")
    assert "stamps:  3 / 10" in stamped.stdout
    refused = run(cli_env, "card", "redeem", serial.group(1), ok=False)
    assert refused.returncode == 1 and "no reward is due" in refused.stderr

    check = run(cli_env, "certs", "check")
    assert "pass.dev.passes.local" in check.stdout
    assert "google:  off" in check.stdout


def test_clear_errors_instead_of_tracebacks(cli_env: dict[str, str]) -> None:
    run(cli_env, "init")
    missing = run(cli_env, "card", "issue", "--shop", "nope", ok=False)
    assert missing.returncode == 1 and "no shop 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = run(cli_env, "shop", "create", "--name", "X", "--stamps", "0", "--reward", "r", ok=False)
    assert "stamps required must be 1 to 30" in bad.stderr
    run(cli_env, "shop", "create", "--name", "Dup", "--reward", "r")
    dup = run(cli_env, "shop", "create", "--name", "Dup", "--reward", "r", ok=False)
    assert "exists already" in dup.stderr
    again = run(cli_env, "certs", "dev", ok=False)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    https = run({**cli_env, "PASSES_BASE_URL": "http://shop.example"}, "certs", "check", ok=False)
    assert "PASSES_BASE_URL" in https.stderr and "https" in https.stderr


def test_serve_refuses_to_start_with_broken_certificates(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    run(cli_env, "init")
    (tmp_path / "certs" / "wwdr.pem").unlink()
    refused = run(cli_env, "serve", "--port", str(free_port()), ok=False)
    assert refused.returncode == 1
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "wwdr.pem" in lines[0], refused.stderr


def test_serve_runs_the_real_server(cli_env: dict[str, str], tmp_path: Path) -> None:
    run(cli_env, "init")
    key = create_shop(cli_env)
    with server(cli_env) as (base, proc):
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
            card = client.post("/api/v1/cards").json()
            client.post(f"/api/v1/cards/{card['serial']}/stamps", json={"count": 2})
            pkpass = client.get(card["urls"]["apple"])
            client.get("/static/site.css")
        verify_pkpass(pkpass.content, tmp_path / "certs" / "wwdr.pem")
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert card["serial"] in pkpass.content.decode("latin-1")
    assert key not in stderr, "API keys never appear in logs"
    assert card["urls"]["card"].rsplit("/", 1)[1] not in stderr, "card secrets never appear in logs"
    assert "POST /api/v1/cards/{serial}/stamps 200" in stderr, "the mount prefix once"
    assert "GET /static/site.css 200" in stderr
    assert "/api/v1/api/" not in stderr and "/static/static/" not in stderr


def test_python_server_py_is_importable(cli_env: dict[str, str], tmp_path: Path) -> None:
    run(cli_env, "init")
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", "import server; print(type(server.app).__name__)"],
        cwd=root,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.strip() == "Starlette", result.stderr
    assert shutil.which("openssl")


def test_serve_without_a_base_url_points_passes_at_its_own_port(cli_env: dict[str, str]) -> None:
    run(cli_env, "init")
    key = create_shop(cli_env)
    port = free_port()
    with process(cli_env, "serve", "--port", str(port)) as proc:
        wait_for(f"http://127.0.0.1:{port}/healthz", proc)
        card = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/cards", headers={"Authorization": f"Bearer {key}"}
        ).json()
    assert card["urls"]["card"].startswith(f"http://127.0.0.1:{port}/c/")


def test_shop_settings_set_tiers_and_expiry_and_redeem_takes_a_tier(
    cli_env: dict[str, str],
) -> None:
    run(cli_env, "shop", "create", "--name", "Saftladen", "--reward", "1 Vita Mix gratis")
    bad = run(cli_env, "shop", "settings", "--shop", "saftladen", "--tier", "12=x", ok=False)
    assert bad.returncode == 1 and "tiers must be distinct stamp counts from 1 to 9" in bad.stderr
    typo = run(cli_env, "shop", "settings", "--shop", "saftladen", "--tier", "Cookie", ok=False)
    assert typo.returncode == 2 and 'write a tier as 5="1 Cookie"' in typo.stderr
    settings = run(
        cli_env,
        "shop",
        "settings",
        "--shop",
        "saftladen",
        "--tier",
        "5=1 Cookie",
        "--stamp-expiry",
        "180",
    )
    assert "reward at  5:      1 Cookie" in settings.stdout
    assert "reward at 10:      1 Vita Mix gratis" in settings.stdout
    assert "stamps expire:     after 180 days without a visit" in settings.stdout
    assert "rewards expire:    never" in settings.stdout
    serial = re.search(
        r"serial:\s+(\S+)", run(cli_env, "card", "issue", "--shop", "saftladen").stdout
    )
    assert serial
    stamped = run(cli_env, "card", "stamp", serial.group(1), "--count", "6")
    assert "due:   1 × 1 Cookie (5 stamps)" in stamped.stdout
    refused = run(cli_env, "card", "redeem", serial.group(1), "--tier", "10", ok=False)
    assert refused.returncode == 1 and "no reward of 10 stamps is due" in refused.stderr
    redeemed = run(cli_env, "card", "redeem", serial.group(1), "--tier", "5", "--json")
    card = json.loads(redeemed.stdout)
    assert card["rewards"][0] == {"at": 5, "reward": "1 Cookie", "due": 0}
    assert card["stamps_expire_at"] is not None
    cleared = run(
        cli_env, "shop", "settings", "--shop", "saftladen", "--no-tiers", "--no-stamp-expiry"
    )
    assert "reward at  5" not in cleared.stdout and "stamps expire:     never" in cleared.stdout


def test_the_embedded_default_needs_no_postgresql_driver(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    # `pip install -e .` (README's first command) brings no asyncpg: it comes with [postgres].
    blocked = tmp_path / "no-asyncpg" / "asyncpg"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text('raise ImportError("asyncpg is not installed")\n')
    env = {**cli_env, "PYTHONPATH": str(blocked.parent)}
    run(env, "init")
    created = run(env, "shop", "create", "--name", "Ohne PG", "--stamps", "5", "--reward", "Tee")
    assert "psk_" in created.stdout
    issued = run(env, "card", "issue", "--shop", "ohne-pg")
    serial = re.search(r"serial:\s+(\S+)", issued.stdout)
    assert serial, issued.stdout
    stamped = run(env, "card", "stamp", serial.group(1), "--count", "2")
    assert "stamps:  2 / 5" in stamped.stdout


def test_a_missed_serial_says_how_typed_letters_were_read(cli_env: dict[str, str]) -> None:
    run(cli_env, "init")
    run(cli_env, "shop", "create", "--name", "Eck", "--reward", "r")
    folded = run(cli_env, "card", "stamp", "nope-123", ok=False)
    assert folded.returncode == 1 and "Traceback" not in folded.stderr
    assert "no card 'N0PE123' (typed 'nope-123'" in folded.stderr
    assert "O as 0" in folded.stderr
    shown = run(cli_env, "card", "show", "LIO9", ok=False)
    assert "I as 1, L as 1, O as 0" in shown.stderr
    plain = run(cli_env, "card", "redeem", "ABC234", ok=False)
    assert plain.stderr.strip().endswith("no card 'ABC234'")


def test_shop_settings_set_the_birthday_bonus(cli_env: dict[str, str]) -> None:
    run(cli_env, "shop", "create", "--name", "Kuchenhaus", "--reward", "1 Kuchen")
    settings = run(
        cli_env,
        "shop",
        "settings",
        "--shop",
        "kuchenhaus",
        "--birthday-bonus",
        "2",
        "--birthday-days-before",
        "3",
    )
    assert "birthday bonus:    2, from 3 days before" in settings.stdout
    bad = run(
        cli_env, "shop", "settings", "--shop", "kuchenhaus", "--birthday-bonus", "9", ok=False
    )
    assert bad.returncode == 1 and "birthday_bonus_stamps must be 0 to 5" in bad.stderr
    settings = run(cli_env, "shop", "settings", "--shop", "kuchenhaus", "--birthday-reward")
    assert "birthday bonus:    the next reward, from 3 days before" in settings.stdout
    both = ("--birthday-reward", "--birthday-bonus", "1")
    bad = run(cli_env, "shop", "settings", "--shop", "kuchenhaus", *both, ok=False)
    assert bad.returncode != 0 and "either bonus stamps or the next reward" in bad.stderr
    settings = run(cli_env, "shop", "settings", "--shop", "kuchenhaus", "--birthday-bonus", "1")
    assert "birthday bonus:    1, from 3 days before" in settings.stdout


def test_shop_settings_sets_and_removes_the_purchase_rule(cli_env: dict[str, str]) -> None:
    run(cli_env, "shop", "create", "--name", "Kiosk", "--slug", "kiosk-till", "--reward", "1 Tee")
    typo = run(
        cli_env, "shop", "settings", "--shop", "kiosk-till", "--purchase-rule", "every 5", ok=False
    )
    assert typo.returncode == 2 and 'write a purchase rule as "per 5.00 EUR"' in typo.stderr
    rule = ("shop", "settings", "--shop", "kiosk-till", "--purchase-rule", "per 5.00 eur")
    assert "purchase rule:     per 5.00 EUR" in run(cli_env, *rule).stdout
    shown = run(cli_env, "shop", "settings", "--shop", "kiosk-till", "--daily-cap", "3").stdout
    assert "purchase rule:     per 5.00 EUR" in shown, "other settings keep the rule"
    cleared = run(cli_env, "shop", "settings", "--shop", "kiosk-till", "--no-purchase-rule")
    assert "purchase rule:     none" in cleared.stdout
