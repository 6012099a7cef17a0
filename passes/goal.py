"""A new goal for cards in progress: when the stamps required change, every card keeps its
stamps; a card at or past the new goal has the main reward due at once (extra stamps carry
over), and a main reward already due stays the main reward (as it reads now). Each card so
changed gets a `goal` ledger event (its count: rewards made due) and a push, in the same
transaction as the program's change, so no card is ever read with stamps past its goal.

The rules are loyalty.move_goal; this module records what it decides.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from passes import loyalty, notices
from passes.store.card_changes import apply_changes
from passes.store.cards import cards_for_goal
from passes.store.ledger import Change
from passes.store.shops import ShopRow

ACTOR = "program"


async def move_goal(conn: AsyncConnection, shop: ShopRow, old_goal: int, now: datetime) -> int:
    """Move the shop's cards (`shop` as changed) from `old_goal`; returns how many cards had
    a reward made due by it."""
    program = shop.program.rules()
    if program.stamps_required == old_goal:
        return 0
    changes, rewarded = [], 0
    for card in await cards_for_goal(conn, shop.id, program.stamps_required):
        before = card.counters
        after = loyalty.move_goal(program, before, old_goal)
        if after is before:
            continue
        made_due = after.rewards_available - before.rewards_available
        rewarded += made_due > 0
        notice = notices.goal_moved(program, before, after)
        changes.append((card, Change("goal", made_due, ACTOR, after, notice=notice)))
    await apply_changes(conn, changes, now)
    return rewarded
