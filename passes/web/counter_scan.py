"""A counter code scanned on the customer's phone: `/counter/{shop}/s/{code}`.

GET checks the code and the card cookie and answers a page whose form (sent at once by a
small script, or by its button) carries a claim: the code signed together with this card,
so a form made for one card stamps no other. POST checks all again and stamps the card once
per code, under the program's daily cap and every other rule of a stamp.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from passes import fraud_rules
from passes.card_facts import CardFacts
from passes.cards import CardView
from passes.counter_codes import CodeRefused, CounterCode, CounterCodes, is_current
from passes.errors import FAILURES, Failure, NotFound, http_answer
from passes.store.cards import CardRow, card_by_serial
from passes.store.counter import counter_open
from passes.store.ledger import COUNTER_ACTOR, Origin, change_by_key
from passes.store.shops import ShopRow
from passes.text_keys import N_
from passes.texts import counted, refusal_text
from passes.web.card_cookie import CardCookie, KnownCard, counter_path
from passes.web.pages import stamps_svg
from passes.web.site import Site

CLAIM_FIELD = "claim"


class Refusal(Exception):
    """A scan that stamps nothing: the status, what the page says, and where it points."""

    def __init__(
        self, status: int, key: str, link: tuple[str, str] | None = None, said: str = ""
    ) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        # The link's address and text key; `said`: words already in the visitor's language.
        self.link = link
        self.said = said


class CounterScan:
    """The customer's side of the counter page."""

    def __init__(self, site: Site, codes: CounterCodes, cookie: CardCookie) -> None:
        self.site = site
        self.service = site.service
        self.codes = codes
        self.cookie = cookie

    def routes(self) -> list[Route]:
        """The scanned link: the claim page and its form's target."""
        path = "/counter/{shop}/s/{code}"
        return [
            Route(path, self.claim_page, methods=["GET"]),
            Route(path, self.stamp, methods=["POST"]),
        ]

    async def claim_page(self, request: Request) -> Response:
        shop = await self.site.shop(request)
        if shop is None:
            return self.site.no_shop(request)
        text_code = request.path_params["code"]
        try:
            code, card = await self._check(request, shop, text_code)
            await self._unused(shop, card, code)
        except Refusal as refusal:
            return self._refused(request, shop, refusal)
        return self.site.render(
            request,
            "counter_claim.html",
            shop=shop,
            action=f"{counter_path(shop.slug)}/s/{text_code}",
            claim=self.codes.claim(text_code, card.serial),
            card_end=card.serial[-4:],
        )

    async def stamp(self, request: Request) -> Response:
        shop = await self.site.shop(request)
        if shop is None:
            return self.site.no_shop(request)
        fields = await self.site.form(request)
        if fields is None:
            return self.site.message(request, 403, "form_expired")
        text_code = request.path_params["code"]
        try:
            code, known = await self._check(request, shop, text_code)
            if not self.codes.claim_matches(text_code, known.serial, fields.get(CLAIM_FIELD, "")):
                raise Refusal(403, N_("counter_other_card"))
            card = await self._unused(shop, known, code)
        except Refusal as refusal:
            return self._refused(request, shop, refusal)
        origin = Origin(code.staff_id, code.branch_id or None)
        try:
            view = await self.service.changes.stamp(
                shop,
                card.serial,
                1,
                actor=COUNTER_ACTOR,
                idempotency_key=code.idempotency_key,
                origin=origin,
                cooldown=fraud_rules.counter_cooldown(shop.program.stamp_cooldown_minutes),
            )
        except FAILURES as exc:
            return self._refused(request, shop, self._rule_refusal(request, exc, card))
        return self._stamped(request, view)

    async def _check(
        self, request: Request, shop: ShopRow, text_code: str
    ) -> tuple[CounterCode, KnownCard]:
        """The code (ours, this shop's, current, its counter still signed in) and the card
        this phone named; Refusal otherwise."""
        try:
            code = self.codes.verify(text_code)
        except CodeRefused:
            raise Refusal(400, N_("counter_code_forged")) from None
        if code.shop_id != shop.id:
            raise Refusal(403, N_("counter_code_other_shop"))
        now = self.service.clock()
        if not is_current(code, now):
            raise Refusal(410, N_("counter_code_expired"))
        branch_id = code.branch_id or None
        async with self.service.store.reading() as conn:
            # Sessions run on the wall clock (passes/sessions.py), codes on the service's.
            if not await counter_open(conn, shop.id, code.staff_id, branch_id, datetime.now(UTC)):
                raise Refusal(410, N_("counter_code_closed"))
        card = self.cookie.read(request)
        if card is None:
            raise Refusal(403, N_("counter_no_card"), _join_link(shop))
        if card.shop_id != shop.id:
            raise Refusal(403, N_("counter_card_other_shop"), _join_link(shop))
        return code, card

    async def _unused(self, shop: ShopRow, known: KnownCard, code: CounterCode) -> CardRow:
        """The card, if this code has not stamped it yet (a race of two sends still stamps
        once: the ledger takes the code's key once per card)."""
        async with self.service.store.reading() as conn:
            try:
                card = await card_by_serial(conn, shop.id, known.serial)
            except NotFound:
                raise Refusal(404, N_("counter_no_card"), _join_link(shop)) from None
            used = await change_by_key(conn, card.id, code.idempotency_key)
        if used is not None:
            raise Refusal(409, N_("counter_used"), _card_link(card))
        return card

    def _rule_refusal(self, request: Request, exc: Failure, card: CardRow) -> Refusal:
        """What the rules refused (daily cap, a voided card…), in the customer's language
        where the pages have words for it, else the rule's own message."""
        answer = http_answer(exc)
        said = refusal_text(answer.code, answer.params, self.site.language(request))
        key = f"refusal_{answer.code}"
        return Refusal(answer.status, key, _card_link(card), said=said or answer.message)

    def _refused(self, request: Request, shop: ShopRow, refusal: Refusal) -> Response:
        t = self.site.translator(request)
        said = refusal.said or t(refusal.key)
        link = None if refusal.link is None else (refusal.link[0], t(refusal.link[1]))
        return self.site.render(
            request, "counter_refused.html", refusal.status, shop=shop, message=said, link=link
        )

    def _stamped(self, request: Request, view: CardView) -> Response:
        lang = self.site.language(request)
        facts = CardFacts.of(view.shop.program, view.card)
        label = counted("page_stamps", facts.stamps_required, lang).format(
            stamps=facts.stamps, required=facts.stamps_required
        )
        return self.site.render(
            request,
            "counter_stamped.html",
            shop=view.shop,
            label=label,
            picture=stamps_svg(view.shop.program, facts.stamps, label),
            due=[line for line in facts.lines if line.due],
            card_url=f"/c/{view.card.page_secret}",
        )


def _card_link(card: CardRow) -> tuple[str, str]:
    return (f"/c/{card.page_secret}", N_("counter_open_card"))


def _join_link(shop: ShopRow) -> tuple[str, str]:
    return (f"/join/{shop.slug}", N_("counter_join_link"))
