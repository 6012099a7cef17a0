"""The dashboard's figures for the whole shop or one branch (`?branch=ID`), and the branches
side by side: what `DashboardPages.show` asks before it renders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from passes.errors import RefusedInput
from passes.service import Service
from passes.stats import BranchLine, Stats, branch_lines
from passes.store.branches import Location
from passes.store.shops import ShopRow
from passes.store.stats import load_stats


@dataclass(frozen=True)
class BranchFigures:
    """The figures shown, the branch chosen (None: the whole shop), the shop's branches for
    the select, the comparison's rows, and whether the branch asked for is unknown."""

    stats: Stats
    chosen: int | None
    places: list[Location]
    lines: list[BranchLine]
    unknown: bool = False

    def status(self, status: int) -> int:
        """The page's status: a 422 for a branch the shop does not have."""
        return 422 if self.unknown and status == 200 else status

    @property
    def compared(self) -> bool:
        """Whether there is anything to compare: a branch, or a removed one's changes."""
        return any(line.branch_id is not None for line in self.lines)


async def branch_figures(service: Service, shop: ShopRow, asked: str | None) -> BranchFigures:
    """The figures of the branch `asked` (its id as the select sends it; empty or None: the
    whole shop). One of another shop, a removed or a made-up one shows the whole shop's,
    marked unknown (the page answers 422 and says so)."""
    chosen, unknown = None, False
    if asked and asked.strip():
        try:
            chosen = await service.shops.branch(shop, asked.strip())
        except RefusedInput:
            unknown = True
    stats = await load_stats(service.store, shop.id, datetime.now(UTC).date(), chosen)
    places = await service.shops.locations(shop)
    names = {place.id: place.label for place in places if place.id is not None}
    return BranchFigures(stats, chosen, places, branch_lines(stats, names), unknown)
