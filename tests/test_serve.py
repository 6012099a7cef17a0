"""`passes serve` starting as it says: the port, one server per SQLite file, the signing
identity behind a public URL, and the address passes carry when listening on every interface."""

from __future__ import annotations

import io
import json
import socket
import time
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.live import create_shop, free_port, passes_env, process, run, server, wait_for

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return passes_env(f"sqlite:///{tmp_path / 'data' / 'passes.db'}", tmp_path / "certs")


def test_a_port_in_use_is_one_clear_line_and_a_failed_exit(cli_env: dict[str, str]) -> None:
    run(cli_env, "init")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        refused = run(cli_env, "serve", "--port", str(port), ok=False)
    assert refused.returncode != 0
    assert "serving on" not in refused.stdout, "nothing is announced before the port is bound"
    assert f"127.0.0.1:{port} is already in use" in refused.stderr
    assert "Traceback" not in refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, refused.stderr


def test_serving_on_is_said_once_the_server_answers(cli_env: dict[str, str]) -> None:
    run(cli_env, "init")
    with server(cli_env) as (base, proc):
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"serving on {base}" in out


def test_a_second_server_on_the_same_sqlite_file_is_refused(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    run(cli_env, "init")
    database = tmp_path / "data" / "passes.db"
    with server(cli_env) as (base, _):
        second = run(cli_env, "serve", "--port", str(free_port()), ok=False)
        worker = run(cli_env, "worker", ok=False)
        assert httpx.get(f"{base}/healthz").status_code == 200, "the first one serves on"
    assert second.returncode == 1 and "Traceback" not in second.stderr
    assert f"{database}: another `passes serve` is using it" in second.stderr
    assert "use PostgreSQL" in second.stderr
    assert worker.returncode == 1 and "a push worker" in worker.stderr
    # Once the first has stopped, the file is free again; a server without its worker
    # leaves the pushes to one `passes worker`.
    with server(cli_env, "--no-worker"), process(cli_env, "worker") as pusher:
        time.sleep(3)
        running = pusher.poll() is None
        pusher.terminate()
        _, err = pusher.communicate(timeout=30)
    assert running and "push worker running" in err, err


def test_a_public_https_url_without_an_identity_refuses_to_start(tmp_path: Path) -> None:
    certs = tmp_path / "certz"  # the mistyped directory
    env = passes_env(
        f"sqlite:///{tmp_path / 'passes.db'}", certs, PASSES_BASE_URL="https://shop.example.com"
    )
    for command in (("serve", "--port", str(free_port())), ("init",)):
        refused = run(env, *command, ok=False)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert str(certs) in refused.stderr and "`passes certs dev`" in refused.stderr
        assert "would not install" in refused.stderr
        assert not certs.exists(), "no dev identity made by accident"
    certs.mkdir()
    empty = run(env, "init", ok=False)
    assert "no signing identity there" in empty.stderr and not any(certs.iterdir())
    # Made on purpose, a dev identity is used (and warned about).
    run(env, "certs", "dev")
    assert "database ready" in run(env, "init").stdout


def test_every_interface_points_passes_at_the_local_network(cli_env: dict[str, str]) -> None:
    run(cli_env, "init")
    key = create_shop(cli_env)
    port = free_port()
    with process(cli_env, "serve", "--host", "0.0.0.0", "--port", str(port)) as proc:
        wait_for(f"http://127.0.0.1:{port}/healthz", proc)
        auth = {"Authorization": f"Bearer {key}"}
        card = httpx.post(f"http://127.0.0.1:{port}/api/v1/cards", headers=auth).json()
        page = urlsplit(card["urls"]["card"])
        local = f"http://127.0.0.1:{port}{page.path}"
        pkpass = httpx.get(f"{local}/pass.pkpass")
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    if page.hostname == "127.0.0.1":
        assert "no local network address was found" in err, "then a warning says so"
        return
    assert page.scheme == "http" and page.port == port
    assert page.hostname is not None and page.hostname.split(".")[0] in ("10", "172", "192")
    assert f"public URL http://{page.hostname}:{port}" in out
    assert "Wallets need https" in err
    # Wallets take no plain-http web service off loopback: the pass carries none.
    assert pkpass.status_code == 200, pkpass.text
    assert "webServiceURL" not in _pass_json(pkpass.content)


def test_a_private_address_base_url_serves_pages_to_phones_on_the_network(
    cli_env: dict[str, str],
) -> None:
    run(cli_env, "init")
    port = free_port()
    lan = {**cli_env, "PASSES_BASE_URL": f"http://192.168.1.20:{port}"}
    with process(lan, "serve", "--port", str(port)) as proc:
        wait_for(f"http://127.0.0.1:{port}/healthz", proc)
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "phones on this network open the pages at http://192.168.1.20" in err
    public = run({**cli_env, "PASSES_BASE_URL": "http://shop.example.com"}, "init", ok=False)
    assert "wallets only talk to https" in public.stderr


def _pass_json(pkpass: bytes) -> dict[str, object]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as archive:
        found: dict[str, object] = json.loads(archive.read("pass.json"))
    return found
