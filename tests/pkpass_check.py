"""Independent checks of a .pkpass archive: zipfile, hashlib and the openssl command line only.

Deliberately imports nothing of passes' signing code, so a bug there cannot hide itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

REQUIRED_KEYS = (
    "formatVersion",
    "passTypeIdentifier",
    "serialNumber",
    "teamIdentifier",
    "organizationName",
    "description",
    "storeCard",
)
STRINGS_FILES = ("de.lproj/pass.strings", "en.lproj/pass.strings")
UNSIGNED = ("manifest.json", "signature")


def verify_pkpass(data: bytes, ca_file: Path) -> dict[str, Any]:
    """Check archive, manifest, signature and pass.json; return the parsed pass.json."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    _check_manifest(files)
    _check_signature(files["manifest.json"], files["signature"], ca_file)
    pass_json: dict[str, Any] = json.loads(files["pass.json"])
    _check_pass_json(pass_json)
    for name in STRINGS_FILES:
        assert name in files, f"{name} missing"
        assert files[name].strip(), f"{name} is empty"
    return pass_json


def _check_manifest(files: dict[str, bytes]) -> None:
    manifest = json.loads(files["manifest.json"])
    listed, present = set(manifest), set(files) - set(UNSIGNED)
    assert listed == present, f"manifest lists {sorted(listed ^ present)} wrongly"
    for name, digest in manifest.items():
        actual = hashlib.sha1(files[name]).hexdigest()
        assert actual == digest, f"{name}: SHA-1 {actual} != manifest {digest}"


def _check_signature(manifest: bytes, signature: bytes, ca_file: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        manifest_file, signature_file = Path(tmp) / "manifest.json", Path(tmp) / "signature"
        manifest_file.write_bytes(manifest)
        signature_file.write_bytes(signature)
        _openssl(
            "cms", "-verify", "-binary", "-inform", "DER", "-in", signature_file,
            "-content", manifest_file, "-CAfile", ca_file, "-out", "/dev/null",
        )  # fmt: skip
        certs = _openssl("pkcs7", "-inform", "DER", "-print_certs", "-in", signature_file)
        printed = _openssl("cms", "-cmsout", "-print", "-inform", "DER", "-in", signature_file)
    count = certs.count("-----BEGIN CERTIFICATE-----")
    assert count == 2, f"signature embeds {count} certificates, expected signer + WWDR"
    assert "signingTime" in printed, "signature has no signingTime attribute"


def _openssl(*args: object) -> str:
    result = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, f"openssl {args[0]} failed: {result.stderr.strip()}"
    return result.stdout


def _check_pass_json(pass_json: dict[str, Any]) -> None:
    missing = [key for key in REQUIRED_KEYS if key not in pass_json]
    assert not missing, f"pass.json lacks {missing}"
    assert pass_json["formatVersion"] == 1
    empty = list(_empty_paths(pass_json, "pass.json"))
    assert not empty, f"empty strings at {empty}"
    if "webServiceURL" in pass_json:
        assert len(pass_json.get("authenticationToken", "")) >= 16, "authenticationToken too short"


def _empty_paths(value: Any, path: str) -> list[str]:
    if value == "" or value is None:
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _empty_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _empty_paths(v, f"{path}[{i}]")]
    return []
