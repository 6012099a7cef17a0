"""Shops' uploaded logos, kept as re-encoded PNGs and found by their SHA-256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from passes.store.tables import programs, shop_logos

# A shop's newest logos kept, besides the one its program shows: the newest may be about to
# be shown, the one before may still be on passes built a moment ago.
KEPT = 2


async def save_logo(
    conn: AsyncConnection,
    shop_id: int,
    digest: str,
    image: bytes,
    size: tuple[int, int],
    now: datetime,
) -> None:
    """Keep the logo as the shop's newest, and forget its oldest beyond KEPT."""
    # Uploading a logo again makes it the newest, so it is not the one forgotten.
    same = and_(shop_logos.c.shop_id == shop_id, shop_logos.c.digest == digest)
    await conn.execute(delete(shop_logos).where(same))
    await conn.execute(
        insert(shop_logos).values(
            shop_id=shop_id,
            digest=digest,
            image=image,
            width=size[0],
            height=size[1],
            created_at=now,
        )
    )
    newest = (
        select(shop_logos.c.id)
        .where(shop_logos.c.shop_id == shop_id)
        .order_by(shop_logos.c.id.desc())
        .limit(KEPT)
    )
    kept = [row[0] for row in (await conn.execute(newest)).all()]
    # The logo the program shows stays, however many uploads were refused after it.
    in_use = select(programs.c.logo_digest).where(programs.c.shop_id == shop_id)
    in_use_digest = (await conn.execute(in_use)).scalar()
    await conn.execute(
        delete(shop_logos).where(
            shop_logos.c.shop_id == shop_id,
            shop_logos.c.id.not_in(kept),
            shop_logos.c.digest != (in_use_digest or ""),
        )
    )


async def logo_image(conn: AsyncConnection, digest: str) -> bytes | None:
    """The logo with this digest (any shop's: the digest names the picture), or None."""
    query = select(shop_logos.c.image).where(shop_logos.c.digest == digest).limit(1)
    found = (await conn.execute(query)).first()
    return None if found is None else bytes(found[0])
