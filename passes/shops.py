"""A shop's administration: creating it, changing its program and places (the passes in
wallets then refresh), and finding the shop behind a slug or an API key."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, replace

from passes import loyalty
from passes.clock import Clock
from passes.errors import InvalidInput, NotFound, RefusedInput, Unauthorized
from passes.goal import move_goal
from passes.keys import API_KEY_PREFIX, hash_api_key
from passes.program import (
    DEFAULT_COLOURS,
    ProgramChange,
    Refresh,
    check_colour,
    check_name,
    program_values,
    refresh_for,
)
from passes.refresh import Progress, Refresher
from passes.store import Store
from passes.store.branches import (
    Branch,
    Location,
    add_location,
    branch_named,
    branches_of,
    find_branch,
    locations_of,
    remove_location,
    rename_location,
)
from passes.store.shops import (
    ShopRow,
    ShopSummary,
    insert_shop,
    rename_shop,
    shop_by_id,
    shop_by_slug,
    shop_summaries,
    update_program,
)


@dataclass(frozen=True)
class ProgramChanged:
    """The shop after a program change, and how many passes in wallets were refreshed."""

    shop: ShopRow
    refreshed: int
    # Cards whose main reward fell due at once because the stamps required went down.
    rewards_due_now: int = 0


MAX_BRANCH_NAME = 100


def check_branch_name(name: str | None) -> str | None:
    """A branch's name as stored: 1 to MAX_BRANCH_NAME printable characters, or None
    (blank too) for a branch called by its address."""
    name = (name or "").strip()
    if not name:
        return None
    if len(name) > MAX_BRANCH_NAME or not name.isprintable():
        raise InvalidInput(f"a branch name must be 1 to {MAX_BRANCH_NAME} printable characters")
    return name


def slugify(name: str) -> str:
    """ "Café Sonne" -> "cafe-sonne"."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64]


class Shops:
    """The shops over one store, and the shop behind an API key."""

    def __init__(self, store: Store, clock: Clock, refresher: Refresher) -> None:
        self.store = store
        self.clock = clock
        self.refresher = refresher

    async def create_shop(
        self,
        *,
        name: str,
        stamps: int,
        reward: str,
        slug: str | None = None,
        colours: dict[str, str] | None = None,
    ) -> tuple[ShopRow, str]:
        """Create a shop with its program; returns the shop and its API key (shown once)."""
        name = check_name(name)
        slug = slugify(slug or name)
        if not slug:
            raise InvalidInput("the shop needs a slug of letters or digits (use --slug)")
        loyalty.Program(stamps, reward.strip())  # refuses a program the rules cannot keep
        given = {**DEFAULT_COLOURS, **(colours or {})}
        program = {key: check_colour(key, value) for key, value in given.items()}
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        async with self.store.transaction() as conn:
            await insert_shop(
                conn,
                slug=slug,
                name=name,
                program={**program, "stamps_required": stamps, "reward": reward.strip()},
                key_hash=hash_api_key(key),
                key_prefix=key[:8],
                now=self.clock(),
            )
            shop = await shop_by_slug(conn, slug)
        return shop, key

    async def change_program(
        self, shop: ShopRow, change: ProgramChange, progress: Progress | None = None
    ) -> ProgramChanged:
        """Change the program as a whole (every value checked first: a refusal, BadSetting,
        changes nothing), then refresh the passes in wallets if what they show changed."""
        values = program_values(shop, change)
        name = None if change.name is None else check_name(change.name)
        async with self.store.transaction() as conn:
            before = await shop_by_id(conn, shop.id)
            if values:
                await update_program(conn, shop.id, values)
            if name is not None and name != before.name:
                await rename_shop(conn, shop.id, name)
            updated = await shop_by_id(conn, shop.id)
            goal = before.program.stamps_required
            rewarded = await move_goal(conn, updated, goal, self.clock())
        scope = refresh_for(before, updated)
        if scope is Refresh.NONE:
            return ProgramChanged(updated, 0)
        refreshed = await self.refresher.refresh_passes(updated, scope is Refresh.LOYAL, progress)
        return ProgramChanged(updated, refreshed, rewarded)

    async def update_program(self, shop: ShopRow, **changes: int | None) -> ShopRow:
        """Change the program's limits and expiry (see PROGRAM_LIMITS)."""
        return (await self.change_program(shop, ProgramChange(limits=changes))).shop

    async def set_tiers(self, shop: ShopRow, tiers: list[tuple[int, str]]) -> ShopRow:
        """Replace the program's intermediate rewards (stamp count, reward), e.g. [(5, "1 Cookie")]."""
        return (await self.change_program(shop, ProgramChange(tiers=tiers))).shop

    async def shop(self, slug: str) -> ShopRow:
        """The shop called `slug`."""
        async with self.store.reading() as conn:
            return await shop_by_slug(conn, slug)

    async def authenticate(self, api_key: str) -> ShopRow:
        """The shop owning this API key, or Unauthorized.

        The lookup is by SHA-256 of the key, so timing reveals nothing about
        stored keys. It asks the database on every request, nothing is remembered,
        so a rotated or revoked key is refused at once by every process; the
        requests of a moment share one statement (store/pass_reads.py).
        """
        shop = await self.store.passes.shop_by_key_hash(hash_api_key(api_key))
        if shop is None:
            raise Unauthorized("unknown or revoked API key")
        return shop

    async def add_location(
        self, shop: ShopRow, location: Location, progress: Progress | None = None
    ) -> int:
        """A place where the pass should surface on the lock screen; every pass in a wallet
        gets it. Returns how many passes were refreshed."""
        if not (-90 <= location.latitude <= 90 and -180 <= location.longitude <= 180):
            raise InvalidInput("latitude must be -90 to 90 and longitude -180 to 180")
        if not 1 <= len(location.address.strip()) <= 200:
            raise InvalidInput("the address must be 1 to 200 characters")
        location = replace(location, name=check_branch_name(location.name), id=None)
        async with self.store.transaction() as conn:
            await add_location(conn, shop.id, location)
        return await self.refresher.refresh_passes(shop, progress=progress)

    async def rename_branch(self, shop: ShopRow, branch: str, name: str | None) -> Location:
        """Call the shop's branch (by id, name or address) `name`; None or blank: by its
        address again. Passes show no names, so none is refreshed."""
        name = check_branch_name(name)
        async with self.store.transaction() as conn:
            branch_id = await find_branch(conn, shop.id, branch)
            await rename_location(conn, shop.id, branch_id, name)
            places = await locations_of(conn, shop.id)
        return next(place for place in places if place.id == branch_id)

    async def branch(self, shop: ShopRow, given: int | str) -> int:
        """The id of the shop's branch given by id (a number) or by name or address;
        RefusedInput `unknown_branch` (a 422) when the shop has none such."""
        async with self.store.reading() as conn:
            places = await locations_of(conn, shop.id)
            if isinstance(given, int):
                if any(place.id == given for place in places):
                    return given
            else:
                try:
                    return await find_branch(conn, shop.id, given)
                except NotFound:
                    pass
        raise RefusedInput(f"no branch {given!r} at this shop", "unknown_branch")

    async def branches(self, shop: ShopRow) -> list[Branch]:
        """The shop's branches (its locations) with the names shown, in the order added."""
        async with self.store.reading() as conn:
            return await branches_of(conn, shop.id)

    async def branch_name(self, shop: ShopRow, branch_id: int | None) -> str | None:
        """The shown name of one of the shop's branches (None: no branch, or one removed)."""
        async with self.store.reading() as conn:
            return await branch_named(conn, shop.id, branch_id)

    async def remove_location(
        self,
        shop: ShopRow,
        position: int,
        address: str | None = None,
        progress: Progress | None = None,
    ) -> tuple[Location, int]:
        """Remove the shop's place at `position` (1-based, as listed); every pass in a wallet
        loses it. Returns the place and how many passes were refreshed."""
        async with self.store.transaction() as conn:
            removed = await remove_location(conn, shop.id, position, address)
        return removed, await self.refresher.refresh_passes(shop, progress=progress)

    async def shops(self) -> list[ShopSummary]:
        """Every shop with its number of cards (the operator's list)."""
        async with self.store.reading() as conn:
            return await shop_summaries(conn)

    async def locations(self, shop: ShopRow) -> list[Location]:
        """The shop's places."""
        async with self.store.reading() as conn:
            return await locations_of(conn, shop.id)

    async def update_long_standing(
        self, shop: ShopRow, *, perk: str | None = None, **changes: int
    ) -> ShopRow:
        """Set when cards become long-standing, their one-time bonus and their perk
        (see LONG_STANDING_LIMITS; `perk` "" removes it, None leaves it). A changed perk
        refreshes the passes of the cards already long-standing."""
        change = ProgramChange(standing=changes, perk=perk)
        return (await self.change_program(shop, change)).shop
