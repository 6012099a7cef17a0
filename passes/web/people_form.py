"""The dashboard's People section: the shop's staff and managers listed, added (name, own PIN,
role, branch) and removed (their devices are signed out at once), and a manager's sign-in
with name and PIN. The same service calls as `passes staff`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from passes.errors import Conflict, InvalidInput, NotFound, RefusedInput
from passes.lockout import Client
from passes.people import ROLES, STAFF_ROLE, check_name, check_role
from passes.service import Service
from passes.sessions import OWNER
from passes.staff import NotManager, check_pin_format
from passes.store.sessions import SessionRow
from passes.store.shops import ShopRow
from passes.text_keys import N_
from passes.web.sign_in_refusals import SIGN_IN_REFUSALS, sign_in_refusal

if TYPE_CHECKING:
    from passes.web.dashboard import DashboardPages

# What the add and remove forms' answers say (?people=...), in the section's notice.
OUTCOMES = {
    "added": N_("person_added"),
    "removed": N_("person_removed"),
    "gone": N_("person_gone"),
}
# The add form's fields, typed back on a refusal (never the PIN).
DRAFT_FIELDS = ("name", "role", "branch")


def new_person() -> dict[str, str]:
    """The empty add form."""
    return {"name": "", "role": STAFF_ROLE, "branch": ""}


async def people_context(
    service: Service, shop: ShopRow, session: SessionRow | None
) -> dict[str, object]:
    """What the dashboard shows of the shop's people and of who is signed in."""
    return {
        "people": await service.people.list(shop),
        "branches": await service.shops.branches(shop),
        "roles": ROLES,
        "person_draft": new_person(),
        # None: the API key's holder; else the manager's name.
        "signed_in_person": None if session is None else session.name,
        "is_manager": session is not None and session.staff_id is not None,
    }


def people_notice(request: Request) -> str | None:
    """The text key of what the add or remove form did, from the redirect's query."""
    return OUTCOMES.get(request.query_params.get("people", ""))


async def manager_sign_in(
    dashboard: DashboardPages, request: Request, shop: ShopRow, fields: dict[str, str]
) -> Response:
    """A manager signs in with name and PIN, within the staff PINs' lock-out limits; staff
    get a 403 page saying the dashboard is for managers."""
    site = dashboard.site
    client = Client(request.client.host if request.client else "unknown", None)
    name, pin = fields.get("name", ""), fields.get("pin", "")
    try:
        token = await dashboard.pins.sign_in(shop, pin, client, name=name, kind=OWNER)
    except NotManager:
        return site.message(request, 403, N_("only_managers"))
    except SIGN_IN_REFUSALS as exc:
        refusal = sign_in_refusal(exc, site.language(request), shop.slug)
        refused = await dashboard.login_page(request, shop, refusal.status, refusal.said)
        if refusal.retry_after is not None:
            refused.headers["Retry-After"] = str(refusal.retry_after)
        return refused
    return dashboard.signed_in_as(shop, token)


class PeopleForm:
    """`POST /dashboard/{shop}/people` adds a person; `…/people/remove` removes one by name."""

    def __init__(self, dashboard: DashboardPages) -> None:
        self.dashboard = dashboard
        self.site = dashboard.site
        self.people = dashboard.service.people
        self.shops = dashboard.service.shops

    def routes(self) -> list[Route]:
        """The form's routes."""
        under = "/dashboard/{shop}/people"
        return [
            Route(under, self.add, methods=["POST"]),
            Route(f"{under}/remove", self.remove, methods=["POST"]),
        ]

    async def _signed_in(self, request: Request) -> tuple[ShopRow, dict[str, str]] | None:
        shop = await self.dashboard.owner(request)
        fields = await self.site.form(request)
        return None if shop is None or fields is None else (shop, fields)

    async def add(self, request: Request) -> Response:
        found = await self._signed_in(request)
        if found is None:
            return self.site.message(request, 403, "form_expired")
        shop, fields = found
        draft = {name: fields.get(name, "").strip() for name in DRAFT_FIELDS}
        pin = fields.get("pin", "")
        status, key = 422, _bad_field(draft, pin)
        try:
            if key is None:
                branch = draft["branch"]
                branch_id = await self.shops.branch(shop, branch) if branch else None
                await self.people.add(shop, draft["name"], pin, draft["role"], branch_id)
        except Conflict:
            status, key = 409, N_("person_name_taken")
        except RefusedInput:
            key = N_("person_no_branch")
        if key is not None:
            said = self.site.translator(request)(key)
            return await self.dashboard.show(
                request, shop, status, person_draft=draft, person_error=said
            )
        return _back(shop, "added")

    async def remove(self, request: Request) -> Response:
        found = await self._signed_in(request)
        if found is None:
            return self.site.message(request, 403, "form_expired")
        shop, fields = found
        try:
            await self.people.remove(shop, fields.get("name", ""))
        except NotFound:
            return _back(shop, "gone")
        return _back(shop, "removed")


def _bad_field(draft: dict[str, str], pin: str) -> str | None:
    """The text key of the add form's first wrong field, or None."""
    checks = (
        (check_name, draft["name"], N_("person_bad_name")),
        (check_pin_format, pin, N_("person_bad_pin")),
        (check_role, draft["role"], N_("person_bad_role")),
    )
    for check, value, key in checks:
        try:
            check(value)
        except InvalidInput:
            return key
    return None


def _back(shop: ShopRow, outcome: str) -> Response:
    return RedirectResponse(f"/dashboard/{shop.slug}?people={outcome}#people", status_code=303)
