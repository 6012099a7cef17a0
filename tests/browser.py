"""Headless Chromium (Debian's package) for page tests, and a fake camera that shows a QR code."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import segno
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from tests.live import run

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
Y4M_SIZE = (640, 480)


def launch(playwright: Playwright, *extra: str) -> Browser:
    """Chromium from /usr/bin (browser downloads are not possible here)."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: run `apt-get install -y chromium` (see .ci/run)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*ARGS, *extra])


def phone(browser: Browser, locale: str = "de-DE") -> BrowserContext:
    """A phone-sized, touch, German (by default) browser context that accepts downloads."""
    return browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=locale,
        accept_downloads=True,
    )


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot under test-artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def fake_camera_video(text: str, path: Path, frames: int = 10) -> Path:
    """A y4m video (I420) of a QR code carrying `text`, for Chromium's fake camera."""
    width, height = Y4M_SIZE
    frame = Image.new("RGB", Y4M_SIZE, "white")
    code = segno.make_qr(text, error="m")
    scale = 300 // code.symbol_size(border=4)[0]
    path_png = path.with_suffix(".png")
    code.save(str(path_png), scale=scale, border=4)
    qr = Image.open(path_png).convert("RGB")
    frame.paste(qr, ((width - qr.width) // 2, (height - qr.height) // 2))
    y, u, v = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + u.resize(half).tobytes() + v.resize(half).tobytes()
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"".join(b"FRAME\n" + planes for _ in range(frames)))
    return path


def new_shop(env: dict[str, str], pin: str, stamps: int = 10) -> tuple[str, str]:
    """A shop made with the CLI, its staff PIN set; returns (slug, API key)."""
    slug = f"cafe-{time.monotonic_ns()}"
    out = run(
        env,
        *("shop", "create", "--name", "Café Sonne", "--slug", slug),
        *("--stamps", str(stamps), "--reward", "1 Vita Mix gratis", "--pin", pin),
    ).stdout
    found = re.search(r"api key: (\S+)", out)
    assert found and "PIN set" in out, out
    return slug, found.group(1)


def issue_card(env: dict[str, str], slug: str) -> str:
    """A card issued with the CLI; returns its serial."""
    out = run(env, "card", "issue", "--shop", slug).stdout
    found = re.search(r"serial:\s+(\S+)", out)
    assert found, out
    return found.group(1)
