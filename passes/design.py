"""The card designer: a shop's logo, colours and stamp symbol, changed as one, after which
every pass in a wallet shows them (Shops.change_program refreshes the passes).

The logos live in the database (store/logos.py), so every server of a shop has them; a
process keeps the few it serves in memory, found by digest (a digest never changes picture).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import OrderedDict
from datetime import UTC, datetime

from passes.logos import Logo, read_logo
from passes.program import ProgramChange, program_values
from passes.refresh import Progress
from passes.service import Service
from passes.shops import ProgramChanged
from passes.store import Store
from passes.store.logos import logo_image, save_logo
from passes.store.shops import ShopRow

# Logos kept in memory per process: each shop has one in use.
LOGOS_KEPT = 256


class ShopLogos:
    """Stored logos by digest, read once per process."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._kept: OrderedDict[str, bytes] = OrderedDict()

    async def image(self, digest: str | None) -> bytes | None:
        """The logo with this digest, or None (no logo of its own, or one long replaced)."""
        if digest is None:
            return None
        found = self._kept.get(digest)
        if found is None:
            async with self.store.reading() as conn:
                found = await logo_image(conn, digest)
            if found is None:
                return None
            self._keep(digest, found)
        return found

    async def save(self, shop: ShopRow, logo: Logo) -> None:
        """Keep the shop's new logo (the program does not use it yet)."""
        async with self.store.transaction() as conn:
            await save_logo(conn, shop.id, logo.digest, logo.png, logo.size, datetime.now(UTC))
        self._keep(logo.digest, logo.png)

    def _keep(self, digest: str, image: bytes) -> None:
        self._kept[digest] = image
        self._kept.move_to_end(digest)
        while len(self._kept) > LOGOS_KEPT:
            self._kept.popitem(last=False)


async def change_design(
    service: Service,
    logos: ShopLogos,
    shop: ShopRow,
    change: ProgramChange,
    upload: bytes | None = None,
    progress: Progress | None = None,
) -> ProgramChanged:
    """Colours, symbol and (from `upload`, a PNG or SVG) the logo at once; LogoRefused or
    BadSetting (LowContrast) refuse the whole change, and then nothing is written."""
    # Decoding and drawing a picture takes a while: not in the event loop.
    logo = None if upload is None else await asyncio.to_thread(read_logo, upload)
    program_values(shop, change)  # checked before the logo is stored
    if logo is not None:
        await logos.save(shop, logo)
        change = dataclasses.replace(change, logo=logo.digest)
    return await service.shops.change_program(shop, change, progress)
