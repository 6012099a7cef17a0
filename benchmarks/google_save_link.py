"""Google save links signed per second: our SaveLinkSigner vs google-auth's generic JWT path.

Run: .venv/bin/python benchmarks/google_save_link.py
Rounds are interleaved and medians reported. Contenders build the same claims:
  ours        SaveLinkSigner.save_url (key parsed once at start-up, header encoded once)
  google-auth signer from the key file's info per call + google.auth.jwt.encode (the common
              copy-paste from Google's samples: the PEM is parsed on every link)
  google-auth signer reused, jwt.encode per call (google-auth at its best)
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from passes.google.config import load_google
from passes.google.savelink import SAVE_URL, SaveLinkSigner

ROUNDS = 9
PER_ROUND = 200
SLOW_PER_ROUND = 40
ISSUER = "3388000000022222222"
OBJECT_IDS = [f"{ISSUER}.7K3M9QW2XR4T"]


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


def claims(info: dict[str, str]) -> dict[str, Any]:
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
        return SAVE_URL + jwt.encode(signer, claims(info)).decode()

    return build


def google_auth_reused(info: dict[str, str]) -> Callable[[], str]:
    signer = crypt.RSASigner.from_service_account_info(info)

    def build() -> str:
        return SAVE_URL + jwt.encode(signer, claims(info)).decode()

    return build


def per_op(run: Callable[[], str], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        run()
    return (time.perf_counter() - start) / count


def main() -> None:
    info = service_account_info()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sa.json"
        path.write_text(json.dumps(info))
        account = load_google(ISSUER, path, "https://x", "https://stempel.example")
    assert account is not None
    ours = SaveLinkSigner(account)
    contenders: dict[str, tuple[Callable[[], str], int]] = {
        "ours         SaveLinkSigner": (lambda: ours.save_url(OBJECT_IDS), PER_ROUND),
        "google-auth  signer per call": (google_auth_per_call(info), SLOW_PER_ROUND),
        "google-auth  signer reused": (google_auth_reused(info), PER_ROUND),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for run, _ in contenders.values():
        run()
    for _ in range(ROUNDS):
        for name, (run, count) in contenders.items():
            times[name].append(per_op(run, count))
    report(times, len(ours.save_url(OBJECT_IDS)))


def report(times: dict[str, list[float]], length: int) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"save links per second (median of {ROUNDS} interleaved rounds; link {length} chars)")
    for name, seconds in medians.items():
        print(f"  {name:30} {1 / seconds:9.1f}/s   {seconds * 1e6:9.0f} µs/link")
    ours, per_call, reused = medians.values()
    print(f"  ours vs google-auth per call = {per_call / ours:6.1f}x")
    print(f"  ours vs google-auth reused   = {reused / ours:6.2f}x")


if __name__ == "__main__":
    main()
