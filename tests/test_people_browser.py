"""Staff accounts in a real headless Chromium against a real `passes serve`: a manager signs in
on the dashboard and adds a staff person; that person signs in on the staff page and stamps,
and is refused on the dashboard with the 403 page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.browser import issue_card, launch, new_shop, phone, screenshot
from tests.live import passes_env, run, server

pytestmark = pytest.mark.slow  # see the README: `pytest -m "not slow"`

BRANCH = "Sonnenallee 1, Berlin"


@dataclass
class Live:
    base: str
    env: dict[str, str]
    slug: str
    key: str
    browser: Browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("people")
    env = passes_env(f"sqlite:///{root / 'passes.db'}", root / "certs")
    run(env, "init")
    slug, key = new_shop(env, "8642")
    run(
        env,
        *("shop", "location", "--shop", slug, "--address", BRANCH),
        *("--lat", "52.4862", "--lon", "13.4319"),
    )
    add = ("staff", "add", "--shop", slug, "--name", "Mara", "--role", "manager")
    run(env, *add, "--pin", "2580")
    with server(env) as (base, _), sync_playwright() as playwright:
        browser = launch(playwright)
        yield Live(base, env, slug, key, browser)
        browser.close()


def test_a_manager_adds_staff_who_stamp_and_stay_off_the_dashboard(live: Live) -> None:
    serial = issue_card(live.env, live.slug)
    dashboard = phone(live.browser, "en-US").new_page()
    dashboard.goto(f"{live.base}/dashboard/{live.slug}")
    dashboard.get_by_label("Your name").fill("Mara")
    dashboard.get_by_label("PIN", exact=True).fill("2580")
    dashboard.get_by_role("button", name="Sign in", exact=True).click()
    expect(dashboard.get_by_text("Signed in as Mara (manager)")).to_be_visible()
    expect(dashboard.locator("#webhooks")).to_have_count(0)
    people = dashboard.locator("#people")
    people.get_by_label("Name").fill("Ana")
    people.get_by_label("Their PIN (4–12 digits)").fill("1357")
    people.get_by_label("Role").select_option(label="staff")
    people.get_by_label("Branch").select_option(label=BRANCH)
    people.get_by_role("button", name="Add person").click()
    expect(people.locator("#notice")).to_have_text(re.compile("^Person added"))
    expect(people.locator(".person-name", has_text="Ana")).to_be_visible()
    assert dashboard.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(dashboard, "people-dashboard-phone")

    staff = phone(live.browser, "de-DE").new_page()
    staff.goto(f"{live.base}/staff/{live.slug}")
    staff.get_by_label("Ihr Name").fill("Ana")
    staff.get_by_label("PIN").fill("1357")
    staff.get_by_role("button", name="Anmelden").click()
    expect(staff.get_by_text(f"Angemeldet als Ana · {BRANCH}")).to_be_visible()
    staff.get_by_label("Kartennummer").fill(serial)
    staff.get_by_role("button", name="Öffnen").click()
    staff.get_by_role("button", name="+1 Stempel").click()
    expect(staff.locator("#answer")).to_have_text("1 von 10 Stempeln")
    screenshot(staff, "people-staff-phone")

    staff.goto(f"{live.base}/dashboard/{live.slug}")
    staff.get_by_label("Ihr Name").fill("Ana")
    staff.get_by_label("PIN", exact=True).fill("1357")
    with staff.expect_response(lambda answer: answer.url.endswith("/login")) as refused:
        staff.get_by_role("button", name="Anmelden", exact=True).click()
    assert refused.value.status == 403
    expect(staff.get_by_role("alert")).to_have_text(
        re.compile("^Am Dashboard melden sich nur Leitungen an")
    )

    headers = {"Authorization": f"Bearer {live.key}"}
    history = httpx.get(f"{live.base}/api/v1/cards/{serial}/history", headers=headers)
    stamp = history.json()["events"][0]
    assert (stamp["kind"], stamp["person"], stamp["branch"]) == ("stamp", "Ana", BRANCH)
