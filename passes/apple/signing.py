"""Detached PKCS#7 (CMS SignedData) signatures over pass manifests."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from passes.apple.identity import SigningIdentity

_OPTIONS = [
    pkcs7.PKCS7Options.DetachedSignature,
    pkcs7.PKCS7Options.Binary,
    pkcs7.PKCS7Options.NoCapabilities,
]


class ManifestSigner:
    """Signs manifests with one identity, loaded once per process."""

    def __init__(self, identity: SigningIdentity) -> None:
        self._certificate = identity.certificate
        self._key = identity.private_key
        self._wwdr = identity.wwdr

    def sign(self, manifest: bytes) -> bytes:
        """Detached DER PKCS#7 (SHA-256, signing time, signer cert + WWDR) over `manifest`."""
        # set_data must come first: in cryptography 50 it drops certificates added before it.
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(self._certificate, self._key, hashes.SHA256())
            .add_certificate(self._wwdr)
            .sign(serialization.Encoding.DER, _OPTIONS)
        )
