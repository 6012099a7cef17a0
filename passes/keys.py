"""The shop's API key: rotate a lost or leaked one, and owner sign-in on the dashboard.

Owner sessions hang on the key: a rotation revokes the old key and ends every owner session
in one transaction, and the API looks keys up in the database on every request (no cache
across requests), so the old key is refused at once by every server process.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from passes.errors import Unauthorized
from passes.sessions import OWNER, open_session
from passes.store import Store
from passes.store.keys import add_key, key_holder, revoke_keys
from passes.store.sessions import end_sessions
from passes.store.shops import ShopRow

API_KEY_PREFIX = "psk_"


def hash_api_key(key: str) -> str:
    """API keys are long random strings, so one SHA-256 is the right hash."""
    return hashlib.sha256(key.encode()).hexdigest()


class ShopKeys:
    """Rotating API keys and signing owners in with them."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def rotate(self, shop: ShopRow) -> str:
        """A new API key (shown once; stored hashed); the old one and owner sessions end."""
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        async with self.store.transaction() as conn:
            await revoke_keys(conn, shop.id, now)
            await add_key(conn, shop.id, hash_api_key(key), key[:8], now)
            await end_sessions(conn, shop.id, OWNER)
        return key

    async def sign_in(self, shop: ShopRow, key: str) -> str:
        """An owner session's token for this shop's live key, or Unauthorized."""
        async with self.store.transaction() as conn:
            if await key_holder(conn, hash_api_key(key)) != shop.id:
                raise Unauthorized("this key does not belong to this shop")
            return await open_session(conn, shop.id, OWNER)
