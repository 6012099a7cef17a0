"""Detached PKCS#7 (CMS SignedData) signatures over pass manifests.

Everything but the signed attributes is the same for every pass, so it is encoded once
per identity; a signature then costs one hash, one private-key operation and a few joins.
cryptography's PKCS7SignatureBuilder re-encodes the certificates on every call, and it
drops certificates added before `set_data` (cryptography 50), which cost us the WWDR cert.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from passes.apple.identity import SigningIdentity


def _der(tag: int, body: bytes) -> bytes:
    """One DER TLV."""
    size = len(body)
    if size < 0x80:
        return bytes((tag, size)) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + body


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytearray([first * 40 + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        while arc := arc >> 7:
            chunk.append(0x80 | (arc & 0x7F))
        body += bytes(reversed(chunk))
    return _der(0x06, bytes(body))


def _integer(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _seq(*parts: bytes) -> bytes:
    return _der(0x30, b"".join(parts))


def _set(*parts: bytes) -> bytes:
    # DER orders SET OF members by their encodings.
    return _der(0x31, b"".join(sorted(parts)))


_NULL = b"\x05\x00"
_SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
_DATA = _oid("1.2.840.113549.1.7.1")
_SHA256 = _seq(_oid("2.16.840.1.101.3.4.2.1"), _NULL)
_RSA = _seq(_oid("1.2.840.113549.1.1.1"), _NULL)
_ECDSA_SHA256 = _seq(_oid("1.2.840.10045.4.3.2"))
_CONTENT_TYPE_ATTR = _seq(_oid("1.2.840.113549.1.9.3"), _set(_DATA))
_MESSAGE_DIGEST = _oid("1.2.840.113549.1.9.4")
_SIGNING_TIME = _oid("1.2.840.113549.1.9.5")


def _time(moment: datetime) -> bytes:
    if moment.year < 2050:
        return _der(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())
    return _der(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode())


class ManifestSigner:
    """Signs manifests with one identity; certificates and signer id are encoded once."""

    def __init__(self, identity: SigningIdentity) -> None:
        der = serialization.Encoding.DER
        certificate = identity.certificate
        self._key = identity.private_key
        self._certificates = _der(
            0xA0, certificate.public_bytes(der) + identity.wwdr.public_bytes(der)
        )
        self._signer_id = _seq(
            certificate.issuer.public_bytes(), _integer(certificate.serial_number)
        )
        self._algorithm = _RSA if isinstance(self._key, rsa.RSAPrivateKey) else _ECDSA_SHA256

    def sign(self, manifest: bytes) -> bytes:
        """Detached DER PKCS#7 (SHA-256, signing time, signer cert + WWDR) over `manifest`."""
        digest = hashlib.sha256(manifest).digest()
        attributes = _set(
            _CONTENT_TYPE_ATTR,
            _seq(_SIGNING_TIME, _set(_time(datetime.now(UTC)))),
            _seq(_MESSAGE_DIGEST, _set(_der(0x04, digest))),
        )
        signer_info = _seq(
            _integer(1),
            self._signer_id,
            _SHA256,
            b"\xa0" + attributes[1:],  # stored as [0] IMPLICIT, signed as SET
            self._algorithm,
            _der(0x04, self._signature(attributes)),
        )
        signed_data = _seq(
            _integer(1), _set(_SHA256), _seq(_DATA), self._certificates, _set(signer_info)
        )
        return _seq(_SIGNED_DATA, _der(0xA0, signed_data))

    def _signature(self, data: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))
