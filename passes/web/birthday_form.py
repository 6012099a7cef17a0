"""The card page's birthday form: the holder gives the day and month of their birthday (with
consent, no year) for the shop's birthday gift, or deletes it. Shown only when the shop
gives one; the bonus itself comes from the push worker (passes/birthdays.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from babel.dates import get_month_names
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from passes.cards import CardView
from passes.errors import InvalidInput, NotFound
from passes.inputs import whole_number
from passes.service import Service
from passes.texts import local_day
from passes.web.site import Site

# What the form's answer says on the card page (?birthday=...), in a role=status line.
OUTCOMES = {"saved": "birthday_saved", "removed": "birthday_removed", "invalid": "birthday_invalid"}


@dataclass(frozen=True)
class BirthdayView:
    """What the card page shows of the birthday: the offer (bonus stamps, or the next reward
    when `reward`), the birthday given (as the page's language writes a day) and the month
    names for the form."""

    bonus: int
    reward: bool
    given: str | None
    day: int | None
    month: int | None
    months: list[tuple[int, str]]
    outcome: str | None


async def birthday_view(
    service: Service, view: CardView, language: str, outcome: str | None
) -> BirthdayView | None:
    """The birthday section of the card page; None when the shop gives no birthday gift."""
    program = view.shop.program
    if not program.gives_birthday or view.card.counters.voided:
        return None
    given = await service.privacy.birthday(view.card)
    names = get_month_names("wide", locale=language)
    shown = None if given is None else local_day(date(2000, given[1], given[0]), language)
    return BirthdayView(
        program.birthday_bonus_stamps,
        program.birthday_gift == "reward",
        shown,
        None if given is None else given[0],
        None if given is None else given[1],
        [(number, str(names[number])) for number in range(1, 13)],
        OUTCOMES.get(outcome or ""),
    )


class BirthdayForm:
    """`POST /c/{secret}/birthday`: save (with the consent box ticked) or delete."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.service = site.service

    def routes(self) -> list[Route]:
        """The form's route."""
        return [Route("/c/{secret}/birthday", self.answer, methods=["POST"])]

    async def answer(self, request: Request) -> Response:
        secret = request.path_params["secret"]
        try:
            view = await self.service.cards.card_by_secret(secret)
        except NotFound:
            return self.site.message(request, 404, "page_not_found")
        fields = await self.site.form(request)
        if fields is None:
            return self.site.message(request, 403, "form_expired")
        if fields.get("action") == "remove":
            await self.service.privacy.forget_birthday(view.card)
            return _back(secret, "removed")
        day = whole_number(fields.get("day", "").strip(), 2)
        month = whole_number(fields.get("month", "").strip(), 2)
        if day is None or month is None or fields.get("consent") != "yes":
            return _back(secret, "invalid")
        try:
            await self.service.privacy.give_birthday(view.card, day, month)
        except InvalidInput:
            return _back(secret, "invalid")
        return _back(secret, "saved")


def _back(secret: str, outcome: str) -> Response:
    """Back to the card page, at the birthday section, saying how it went."""
    return RedirectResponse(f"/c/{secret}?birthday={outcome}#birthday", status_code=303)
