"""'Add to Google Wallet' links: a signed JWT that references objects inserted beforehand."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from passes.google.config import GoogleAccount
from passes.google.jws import RS256Signer

SAVE_URL = "https://pay.google.com/gp/v/save/"
# Google refuses longer save links; objects are inserted first so the JWT only names ids.
MAX_JWT_LENGTH = 1800


class SaveLinkSigner:
    """Signs save links with the service account's key, which was parsed once at start-up."""

    def __init__(self, account: GoogleAccount, clock: Callable[[], float] = time.time) -> None:
        self._signer = RS256Signer(account.private_key, account.key_id)
        self._issuer = account.email
        self._origins = [account.config.base_url]
        self._clock = clock

    def save_url(self, object_ids: Sequence[str]) -> str:
        """`https://pay.google.com/gp/v/save/<jwt>` for the given loyalty object ids."""
        token = self.save_jwt(object_ids)
        return SAVE_URL + token

    def save_jwt(self, object_ids: Sequence[str]) -> str:
        """The signed `savetowallet` JWT; ValueError if Google would refuse its length."""
        if not object_ids:
            raise ValueError("a save link needs at least one object id")
        claims = {
            "iss": self._issuer,
            "aud": "google",
            "typ": "savetowallet",
            "iat": int(self._clock()),
            "origins": self._origins,
            "payload": {"loyaltyObjects": [{"id": object_id} for object_id in object_ids]},
        }
        token = self._signer.encode(claims)
        if len(token) >= MAX_JWT_LENGTH:
            raise ValueError(
                f"save link JWT has {len(token)} characters, Google accepts under "
                f"{MAX_JWT_LENGTH}: reference fewer objects per link"
            )
        return token
