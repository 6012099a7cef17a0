"""What the customer is told about a change of their card: one notice per update, or none.

Wallet shows a field's `changeMessage` when its value changes, and falls back to a generic
"Store card changed" when two such fields change at once. So the pass carries exactly one
field with a change message, the notice, and each change decides here what it says:

- a stamp: the new count ("Neuer Stempel: 4 / 10"), or the reward it made due;
- bonus stamps (referral, welcome, promotion, long-standing): the same, as bonus stamps;
  becoming long-standing announces the perk; a promotion's extra stamps that follow a stamp
  which made a reward due keep announcing the reward;
- a birthday gift: a greeting with the new count ("Alles Gute zum Geburtstag! Jetzt 6 / 10"),
  or, when it made a reward due (the owner's gift may be the next reward itself), the greeting
  with that reward in the same one field (the reward is what the customer can act on);
- a campaign: its text (its surprise stamps come quietly, before it);
- undo, redeem, expiry and void announce nothing: their notice says what happened without a
  change message, so the next real notice has a new value to announce (the same reward
  twice in a row would otherwise change nothing Wallet can see);
- refreshes (the program changed) keep the notice, and with it no change message
  (see `Notice.current`).

Pure: no I/O. Google reads the same notices to decide which updates notify (push.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from passes import loyalty
from passes.card_facts import reward_summary

# Kinds that announce, each with its label and change message in texts.py (notice_<kind>_...),
# and kinds that only record what happened (label notice_latest_label, value notice_<kind>).
ANNOUNCING = ("stamp", "bonus", "reward", "news", "perk", "birthday", "birthday_reward")
SILENT = ("redeemed", "undone", "expired", "voided")
KINDS = ANNOUNCING + SILENT
_SEPARATOR = "|"


@dataclass(frozen=True)
class Notice:
    """The latest thing a card announced: its kind, what the pass shows, and the card
    version whose change set it (0 until the store writes it)."""

    kind: str
    value: str
    version: int = 0

    @property
    def announces(self) -> bool:
        """Whether this kind of notice is meant to reach the lock screen."""
        return self.kind in ANNOUNCING

    def current(self, card_version: int) -> bool:
        """Whether the card's latest change set this notice, so that it notifies now."""
        return self.announces and self.version == card_version


def encode(notice: Notice | None) -> str | None:
    """A notice as stored on the card: "kind|version|value"."""
    if notice is None:
        return None
    return _SEPARATOR.join((notice.kind, str(notice.version), notice.value))


def decode(stored: str | None) -> Notice | None:
    """A stored notice back (None for none, or for a kind this version does not know)."""
    if not stored:
        return None
    kind, version, value = stored.split(_SEPARATOR, 2)
    return Notice(kind, value, int(version)) if kind in KINDS else None


def stamped(
    program: loyalty.Program, before: loyalty.CardState, after: loyalty.CardState
) -> Notice:
    """A stamp at the counter: the reward it made due, else the new count."""
    return _stamps("stamp", program, before, after)


def bonus(
    program: loyalty.Program,
    before: loyalty.CardState,
    after: loyalty.CardState,
    *,
    previous: Notice | None,
    card_version: int,
    perk: str | None = None,
) -> Notice:
    """Bonus stamps. A bonus straight after a change that announced a reward (a promotion's
    extra stamps in the same transaction) keeps announcing that reward; `perk` is the standing
    perk of a card that has just become long-standing."""
    made_due = _made_due(program, before, after)
    if made_due is not None:
        return Notice("reward", made_due)
    if previous is not None and previous.kind == "reward" and previous.current(card_version):
        return replace(previous, version=0)
    if perk:
        return Notice("perk", perk)
    return _stamps("bonus", program, before, after)


def birthday(
    program: loyalty.Program, before: loyalty.CardState, after: loyalty.CardState
) -> Notice:
    """The birthday gift: a greeting with the reward it made due, else with the new count."""
    made_due = _made_due(program, before, after)
    if made_due is not None:
        return Notice("birthday_reward", made_due)
    return _stamps("birthday", program, before, after)


def message(text: str) -> Notice:
    """A campaign's message."""
    return Notice("news", text)


def silent(kind: str) -> Notice:
    """What a change that announces nothing leaves on the pass (redeemed, undone, ...)."""
    if kind not in SILENT:
        raise ValueError(f"not a silent notice: {kind}")
    return Notice(kind, f"notice_{kind}")


def _stamps(
    kind: str, program: loyalty.Program, before: loyalty.CardState, after: loyalty.CardState
) -> Notice:
    made_due = _made_due(program, before, after)
    if made_due is not None:
        return Notice("reward", made_due)
    return Notice(kind, f"{after.stamps} / {program.stamps_required}")


def _made_due(
    program: loyalty.Program, before: loyalty.CardState, after: loyalty.CardState
) -> str | None:
    """The newest reward this change made due, if it made one due."""
    if after.rewards_available <= before.rewards_available:
        return None
    # What the pass's reward line shows ("2 × 1 Vita Mix" with two due), so a second
    # reward due in a row is a new value.
    summary = reward_summary(program, after)
    return summary.due_text(program.reward, after.rewards_available)


def goal_moved(
    program: loyalty.Program, before: loyalty.CardState, after: loyalty.CardState
) -> Notice | None:
    """The stamps required moved: the reward it made due at once, else nothing to announce."""
    made_due = _made_due(program, before, after)
    return None if made_due is None else Notice("reward", made_due)
