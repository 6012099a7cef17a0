"""The dashboard's rules form (the main reward and its stamps, daily cap, message limit, hold-out,
welcome stamps, regulars, birthdays, reward tiers, expiry, the purchase rule for stamps from the
till, the card's name and colours) and locations. A change of what passes show refreshes every
pass in a wallet; the form says how many."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, cast

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from passes import loyalty
from passes.errors import Conflict, InvalidInput, NotFound
from passes.inputs import whole_number
from passes.loyalty import MAX_STAMPS_REQUIRED, MAX_TIERS
from passes.program import (
    BIRTHDAY_LIMITS,
    DEFAULT_COLOURS,
    FRAUD_LIMITS,
    LONG_STANDING_LIMITS,
    OPTIONAL_FRAUD_LIMITS,
    OPTIONAL_LIMITS,
    PROGRAM_LIMITS,
    BadSetting,
    ProgramChange,
)
from passes.purchase_rules import (
    DEFAULT_CURRENCY,
    KINDS,
    MAX_AMOUNT,
    Kind,
    PurchaseRule,
    parse_amount,
)
from passes.shops import check_branch_name
from passes.store.branches import Location
from passes.store.shops import ShopRow
from passes.text_keys import N_
from passes.web.dashboard import DashboardPages

# Settings that may be left empty: no daily cap, no expiry.
OPTIONAL = OPTIONAL_LIMITS
# A hidden field of the rules form's fraud controls: the form has them (empty ones are not sent).
FRAUD_MARK = "fraud_controls"
# Every setting's range fits in this many digits; longer numbers are out of range unread.
DIGITS = 9


class BadField(BadSetting):
    """A rules field that is not a whole number in its range."""

    def __init__(self, name: str) -> None:
        super().__init__(name, f"{name} is out of range")


def parse_rules(fields: dict[str, str]) -> dict[str, int | None]:
    """The form's settings as whole numbers in range; BadField names the first wrong one."""
    rules: dict[str, int | None] = {}
    for name, (low, high) in PROGRAM_LIMITS.items():
        raw = fields.get(name, "").strip()
        if not raw and name in OPTIONAL:
            rules[name] = None
        elif (value := whole_number(raw, DIGITS)) is not None and low <= value <= high:
            rules[name] = value
        else:
            raise BadField(name)
    return rules


def parse_fraud(fields: dict[str, str]) -> dict[str, int | None]:
    """The fraud controls the form sent (empty: none, where the setting may be none); a form
    without them (an older page, no FRAUD_MARK) leaves them as they are."""
    found: dict[str, int | None] = {}
    if FRAUD_MARK not in fields:
        return found
    for name, (low, high) in FRAUD_LIMITS.items():
        # An empty field is not sent at all (Site.form), so absent is empty here.
        raw = fields.get(name, "").strip()
        if not raw and name in OPTIONAL_FRAUD_LIMITS:
            found[name] = None
        elif (value := whole_number(raw, DIGITS)) is not None and low <= value <= high:
            found[name] = value
        else:
            raise BadField(name)
    return found


def parse_numbers(
    fields: dict[str, str], limits: dict[str, tuple[int, int]] = LONG_STANDING_LIMITS
) -> dict[str, int]:
    """The long-standing customer (or birthday) numbers the form sent (empty = 0); absent
    ones stay as they are."""
    found: dict[str, int] = {}
    for name, (low, high) in limits.items():
        if name not in fields:
            continue
        value = whole_number(fields[name].strip() or "0", DIGITS)
        if value is None or not low <= value <= high:
            raise BadField(name)
        found[name] = value
    return found


def parse_birthday(fields: dict[str, str]) -> tuple[dict[str, int], str | None]:
    """The birthday numbers and gift: one select, `birthday_gift`, offers none ("0"), so many
    bonus stamps ("1" to "5") or the next reward ("reward"); absent ones stay as they are."""
    numbers, gift = dict(fields), fields.get("birthday_gift")
    if gift is not None and gift != "reward":
        numbers["birthday_bonus_stamps"], gift = gift, "stamps"
    return parse_numbers(numbers, BIRTHDAY_LIMITS), gift


def tier_fields(fields: dict[str, str]) -> list[tuple[str, str]]:
    """The typed tier rows (stamp count, reward), empty rows left out."""
    rows = (
        (fields.get(f"tier_at_{i}", "").strip(), fields.get(f"tier_reward_{i}", "").strip())
        for i in range(1, MAX_TIERS + 1)
    )
    return [row for row in rows if any(row)]


def parse_tiers(rows: list[tuple[str, str]]) -> list[tuple[int, str]]:
    """Tier rows as (stamp count, reward); BadField("tiers") for a half-filled or odd row."""
    tiers = []
    for at, reward in rows:
        stamps = whole_number(at, DIGITS)
        if stamps is None or not reward:
            raise BadField("tiers")
        tiers.append((stamps, reward))
    return tiers


def parse_goal(fields: dict[str, str]) -> int | None:
    """The stamps for the main reward, when the form sent them (an older page: None)."""
    raw = fields.get("stamps_required")
    if raw is None:
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_STAMPS_REQUIRED):
        raise BadField("stamps_required")
    return int(raw)


def look_fields(fields: dict[str, str]) -> tuple[str | None, dict[str, str]]:
    """The name and colours the form sent; a form without them (an older page) changes none."""
    colours = {key: fields[key] for key in DEFAULT_COLOURS if key in fields}
    return fields.get("shop_name"), colours


# The purchase rule's fields: "none" or a kind from purchase_rules.KINDS, its amount and currency.
PURCHASE_FIELDS = ("purchase_kind", "purchase_amount", "purchase_currency")


def parse_purchase_rule(fields: dict[str, str]) -> PurchaseRule | Literal["keep"] | None:
    """The purchase rule the form sent (None: purchases earn nothing; "keep": an older page
    without it). Checked as the CLI's `--purchase-rule`, a decimal comma allowed; BadSetting
    names the wrong field."""
    kind = fields.get("purchase_kind")
    if kind is None:
        return "keep"
    if kind == "none":
        return None
    if kind not in KINDS:
        raise BadSetting("purchase_kind", "a purchase rule is none, per_amount or over_amount")
    typed = fields.get("purchase_amount", "").strip().replace(",", ".", 1)
    currency = fields.get("purchase_currency", "").strip().upper() or DEFAULT_CURRENCY
    try:
        amount = PurchaseRule(cast(Kind, kind), parse_amount(typed)).amount
    except loyalty.Refused as exc:
        raise BadSetting("purchase_amount", str(exc)) from None
    try:
        return PurchaseRule(cast(Kind, kind), amount, currency)
    except loyalty.Refused as exc:
        raise BadSetting("purchase_currency", str(exc)) from None


def parse_location(fields: dict[str, str]) -> Location:
    """An address, coordinates (a decimal comma is fine) and the branch's name, if any."""
    try:
        latitude, longitude = (
            float(fields.get(name, "").strip().replace(",", "."))
            for name in ("latitude", "longitude")
        )
    except ValueError as exc:
        raise InvalidInput("coordinates must be numbers") from exc
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise InvalidInput("coordinates must be finite")
    name = fields.get("name", "").strip() or None
    return Location(fields.get("address", "").strip(), latitude, longitude, name)


def refusal(t: Callable[[str], str], shop: ShopRow, refused: BadSetting) -> tuple[str, str]:
    """The field to mark and what to say about it."""
    limits = {**PROGRAM_LIMITS, **FRAUD_LIMITS, **LONG_STANDING_LIMITS, **BIRTHDAY_LIMITS}
    name = refused.name
    if name == "stamps_required" and not isinstance(refused, BadField):
        error = t("goal_below_tiers")
    elif name == "stamps_required":
        high = MAX_STAMPS_REQUIRED
        error = t("settings_range").format(field=t(name), low=1, high=high)
    elif name == "reward":
        error = t("reward_invalid")
    elif name == "tiers":
        high = shop.program.stamps_required - 1
        error = t("tiers_invalid").format(high=high, most=MAX_TIERS)
    elif name in limits:
        low, high = limits[name]
        error = t("settings_range").format(field=t(name), low=low, high=high)
    elif name == "name":
        name, error = "shop_name", t("shop_name_invalid")
    elif name in DEFAULT_COLOURS:
        error = t("colour_invalid").format(field=t(name))
    elif name == "purchase_amount":
        error = t("purchase_amount_invalid").format(most=MAX_AMOUNT)
    elif name == "purchase_currency":
        error = t("purchase_currency_invalid")
    elif name == "purchase_kind":
        error = t("purchase_kind_invalid")
    else:
        error = t("loyal_perk_invalid")
    return name, error


class ProgramForm:
    """`POST /dashboard/{shop}/program` and `POST /dashboard/{shop}/locations`."""

    def __init__(self, dashboard: DashboardPages) -> None:
        self.dashboard = dashboard
        self.site = dashboard.site
        self.service = dashboard.service

    def routes(self) -> list[Route]:
        """The rules and locations routes."""
        return [
            Route("/dashboard/{shop}/program", self.rules, methods=["POST"]),
            Route("/dashboard/{shop}/locations", self.add_location, methods=["POST"]),
            Route("/dashboard/{shop}/locations/delete", self.remove_location, methods=["POST"]),
        ]

    async def _signed_in(self, request: Request) -> tuple[ShopRow, dict[str, str]] | None:
        shop = await self.dashboard.owner(request)
        fields = await self.site.form(request)
        return None if shop is None or fields is None else (shop, fields)

    async def rules(self, request: Request) -> Response:
        found = await self._signed_in(request)
        if found is None:
            return self.site.message(request, 403, "form_expired")
        shop, fields = found
        # A form without tier rows (an older page) leaves the tiers as they are.
        has_tiers = "tier_at_1" in fields
        rows = tier_fields(fields)
        name, colours = look_fields(fields)
        try:
            purchase_rule = parse_purchase_rule(fields)
            birthday, gift = parse_birthday(fields)
            change = ProgramChange(
                limits=parse_rules(fields) | parse_fraud(fields),
                standing=parse_numbers(fields),
                birthday=birthday,
                birthday_gift=gift,
                perk=fields.get("loyal_perk"),
                tiers=parse_tiers(rows) if has_tiers else None,
                name=name,
                colours=colours,
                stamps_required=parse_goal(fields),
                reward=fields.get("reward"),
            )
            # Checked as a whole first: a refusal leaves everything as it was.
            changed = await self.service.shops.change_program(shop, change)
        except BadSetting as exc:
            return await self._refused(request, shop, fields, rows, exc)
        if purchase_rule != "keep":
            await self.service.purchases.set_rule(shop, purchase_rule)
        saved = f"saved=settings&refreshed={changed.refreshed}"
        return RedirectResponse(f"/dashboard/{shop.slug}?{saved}#rules", status_code=303)

    async def _refused(
        self,
        request: Request,
        shop: ShopRow,
        fields: dict[str, str],
        rows: list[tuple[str, str]],
        refused: BadSetting,
    ) -> Response:
        """The form again, as typed, with what was refused marked."""
        name, error = refusal(self.site.translator(request), shop, refused)
        draft = {name: fields.get(name, "") for name in PROGRAM_LIMITS}
        fraud = {name: fields.get(name, "") for name in FRAUD_LIMITS}
        loyal = {name: fields.get(name, "") for name in (*LONG_STANDING_LIMITS, "loyal_perk")}
        birthday = {name: fields.get(name, "") for name in (*BIRTHDAY_LIMITS, "birthday_gift")}
        look = {key: fields.get(key, "") for key in ("shop_name", *DEFAULT_COLOURS)}
        look |= {key: fields[key] for key in ("stamps_required", "reward") if key in fields}
        # An older page without the purchase rule shows the stored one.
        purchase = {key: fields.get(key, "") for key in PURCHASE_FIELDS}
        extra = {"purchase": purchase} if "purchase_kind" in fields else {}
        return await self.dashboard.show(
            request,
            shop,
            422,
            rules=draft,
            fraud=fraud,
            loyal=loyal,
            birthday=birthday,
            look=look,
            tiers=rows,
            rules_error=error,
            rules_field=name,
            **extra,
        )

    async def add_location(self, request: Request) -> Response:
        found = await self._signed_in(request)
        if found is None:
            return self.site.message(request, 403, "form_expired")
        shop, fields = found
        try:
            check_branch_name(fields.get("name"))
        except InvalidInput:
            return await self._place_refused(request, shop, fields, N_("branch_name_invalid"))
        try:
            await self.service.shops.add_location(shop, parse_location(fields))
        except InvalidInput:
            return await self._place_refused(request, shop, fields, "location_invalid")
        except Conflict as exc:
            taken = exc.code == "branch_name_taken"
            key = N_("branch_name_taken") if taken else "too_many_locations"
            return await self._place_refused(request, shop, fields, key)
        return RedirectResponse(f"/dashboard/{shop.slug}?saved=location#locations", status_code=303)

    async def _place_refused(
        self, request: Request, shop: ShopRow, fields: dict[str, str], key: str
    ) -> Response:
        """The locations form again, as typed, saying what to change."""
        error = self.site.translator(request)(key)
        typed = ("name", "address", "latitude", "longitude")
        place = {name: fields.get(name, "") for name in typed}
        return await self.dashboard.show(request, shop, 422, place=place, location_error=error)

    async def remove_location(self, request: Request) -> Response:
        found = await self._signed_in(request)
        if found is None:
            return self.site.message(request, 403, "form_expired")
        shop, fields = found
        position = fields.get("position", "")
        if not (position.isascii() and position.isdigit()):
            return self.site.message(request, 422, "locations_changed")
        try:
            await self.service.shops.remove_location(shop, int(position), fields.get("address"))
        except (NotFound, Conflict):
            return self.site.message(request, 409, "locations_changed")
        target = f"/dashboard/{shop.slug}?saved=location_removed#locations"
        return RedirectResponse(target, status_code=303)
