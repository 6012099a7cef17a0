"""Signed passes per second, Apple and Google.

Run: .venv/bin/python benchmarks/pass_build.py
Apple: our PassBuilder vs stock py-pkpass vs a bare PKCS#7 signature.
Google: save links ("Add to Google Wallet") signed per second, our SaveLinkSigner vs
  google-auth signer per call: the signer is made from the key file's info for every link
  (the common copy-paste from Google's samples: the PEM is parsed every time), then jwt.encode
  google-auth signer reused: jwt.encode per call (google-auth at its best)
Rounds are interleaved and the median time of each contender is reported, so a noisy
machine slows all of them alike.
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from google.auth import crypt, jwt
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from passes.apple.devcerts import create_dev_identity
from passes.apple.identity import SigningIdentity, load_identity
from passes.apple.pkpass import (
    PassBuilder,
    PassContent,
    pass_model,
    strings_file,
)
from passes.google.config import load_google
from passes.google.savelink import SAVE_URL, SaveLinkSigner
from passes.texts import LANGUAGES

ROUNDS = 9
FAST_PER_ROUND = 150
STOCK_PER_ROUND = 8
LINKS_PER_ROUND = 200
SLOW_LINKS_PER_ROUND = 40
ISSUER = "3388000000022222222"
OBJECT_IDS = [f"{ISSUER}.7K3M9QW2XR4T"]


def _png(width: int, height: int) -> bytes:
    """Artwork-like PNG: flat colour with a row of stamp circles (random noise would not compress)."""
    image = Image.new("RGB", (width, height), (250, 240, 225))
    draw = ImageDraw.Draw(image)
    step = max(height, 8)
    for left in range(0, width - step + 1, step):
        draw.ellipse((left + 2, 2, left + step - 3, step - 3), outline=(150, 60, 20), width=3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def make_content() -> PassContent:
    sizes = {"icon": (29, 29), "logo": (160, 50), "strip": (375, 123)}
    images = {
        f"{name}{suffix}.png": _png(w * scale, h * scale)
        for name, (w, h) in sizes.items()
        for scale, suffix in ((1, ""), (2, "@2x"), (3, "@3x"))
    }
    return PassContent(
        serial="BENCH-000001",
        authentication_token="0123456789abcdef0123456789abcdef",
        organization_name="Saftladen am Markt",
        stamps=4,
        stamps_required=10,
        rewards_available=1,
        total_stamps=14,
        reward="1 Vita Mix gratis",
        background_color="rgb(255, 250, 240)",
        foreground_color="rgb(20, 20, 20)",
        label_color="rgb(120, 60, 20)",
        web_service_url="https://stempel.example/wallet",
        card_url="https://stempel.example/c/0123456789abcdef",
        images=images,
    )


def stock_builder(
    content: PassContent, identity: SigningIdentity, certs: Path
) -> Callable[[], bytes]:
    """py-pkpass's own Pass.create(): re-reads and re-parses the PEM files on every pass."""
    files = {
        **content.images,
        **{f"{lang}.lproj/pass.strings": strings_file(lang) for lang in LANGUAGES},
    }

    def build() -> bytes:
        model = pass_model(content, identity)
        for name, data in files.items():
            model.addFile(name, io.BytesIO(data))
        zipped = model.create(
            str(certs / "pass.pem"), str(certs / "pass.key"), str(certs / "wwdr.pem"), None
        )
        return bytes(zipped.getvalue())

    return build


def floor_signer(manifest: bytes, identity: SigningIdentity) -> Callable[[], bytes]:
    """Only the detached PKCS#7 signature over a manifest like ours; key already loaded."""
    options = [
        pkcs7.PKCS7Options.DetachedSignature,
        pkcs7.PKCS7Options.Binary,
        pkcs7.PKCS7Options.NoCapabilities,
    ]

    def sign() -> bytes:
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(identity.certificate, identity.private_key, hashes.SHA256())
            .add_certificate(identity.wwdr)
            .sign(serialization.Encoding.DER, options)
        )

    return sign


def service_account_info() -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "bench",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": "wallet@bench.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def save_claims(info: dict[str, str]) -> dict[str, object]:
    return {
        "iss": info["client_email"],
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(time.time()),
        "origins": ["https://stempel.example"],
        "payload": {"loyaltyObjects": [{"id": object_id} for object_id in OBJECT_IDS]},
    }


def google_auth_per_call(info: dict[str, str]) -> Callable[[], str]:
    def build() -> str:
        signer = crypt.RSASigner.from_service_account_info(info)
        return SAVE_URL + jwt.encode(signer, save_claims(info)).decode()

    return build


def google_auth_reused(info: dict[str, str]) -> Callable[[], str]:
    signer = crypt.RSASigner.from_service_account_info(info)

    def build() -> str:
        return SAVE_URL + jwt.encode(signer, save_claims(info)).decode()

    return build


def per_op(run: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        run()
    return (time.perf_counter() - start) / count


def interleaved(contenders: dict[str, tuple[Callable[[], object], int]]) -> dict[str, float]:
    """Median seconds per operation of each contender over interleaved rounds."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for run, _ in contenders.values():
        run()  # warm caches and imports before timing
    for _ in range(ROUNDS):
        for name, (run, count) in contenders.items():
            times[name].append(per_op(run, count))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    apple = apple_figures()
    google = google_figures()
    report(*apple)
    print()
    report_google(*google)
    print()
    closing_note(apple[0], google[0])


def apple_figures() -> tuple[dict[str, float], int]:
    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp)
        create_dev_identity(certs)
        identity = load_identity(certs, None)
        content = make_content()
        builder = PassBuilder(identity)
        with zipfile.ZipFile(io.BytesIO(builder.build(content))) as archive:
            manifest = archive.read("manifest.json")
        contenders: dict[str, tuple[Callable[[], object], int]] = {
            "ours   PassBuilder.build": (lambda: builder.build(content), FAST_PER_ROUND),
            "stock  py-pkpass create()": (stock_builder(content, identity, certs), STOCK_PER_ROUND),
            "floor  bare PKCS#7 sign": (floor_signer(manifest, identity), FAST_PER_ROUND),
        }
        return interleaved(contenders), len(builder.build(content))


def google_figures() -> tuple[dict[str, float], int]:
    info = service_account_info()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sa.json"
        path.write_text(json.dumps(info))
        account = load_google(ISSUER, path, "https://x", "https://stempel.example")
    assert account is not None
    ours = SaveLinkSigner(account)
    contenders: dict[str, tuple[Callable[[], object], int]] = {
        "ours         SaveLinkSigner": (lambda: ours.save_url(OBJECT_IDS), LINKS_PER_ROUND),
        "google-auth  signer per call": (google_auth_per_call(info), SLOW_LINKS_PER_ROUND),
        "google-auth  signer reused": (google_auth_reused(info), LINKS_PER_ROUND),
    }
    return interleaved(contenders), len(ours.save_url(OBJECT_IDS))


def report(medians: dict[str, float], size: int) -> None:
    print(f"signed passes per second (median of {ROUNDS} interleaved rounds; pass {size:,} bytes)")
    for name, seconds in medians.items():
        print(f"  {name:28} {1 / seconds:9.1f}/s   {seconds * 1e6:9.0f} µs/pass")
    ours, stock, floor = medians.values()
    print(f"  ours / floor  = {floor / ours:6.2f}   (target >= 0.85)")
    print(f"  ours / stock  = {stock / ours:6.1f}x  (target >= 30x)")


def report_google(medians: dict[str, float], length: int) -> None:
    print(
        f"Google save links per second (median of {ROUNDS} interleaved rounds; link {length} chars)"
    )
    for name, seconds in medians.items():
        print(f"  {name:30} {1 / seconds:9.1f}/s   {seconds * 1e6:9.0f} µs/link")
    ours, per_call, reused = medians.values()
    print(f"  ours vs google-auth per call = {per_call / ours:6.1f}x")
    print(f"  ours vs google-auth reused   = {reused / ours:6.2f}x")


def closing_note(apple: dict[str, float], google: dict[str, float]) -> None:
    passes, links = (1 / next(iter(figures.values())) for figures in (apple, google))
    print(
        f"In short: one core signs {passes:,.0f} Apple passes/s and {links:,.0f} Google save "
        "links/s; the server also reuses a card's save link for an hour."
    )


if __name__ == "__main__":
    main()
