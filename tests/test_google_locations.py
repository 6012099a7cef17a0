"""Google Wallet for reaching customers: the shop's places as the class's merchantLocations,
a long-standing customer's perk on the object; checked against Google's published schema and
end to end with a real `passes serve` and a local Google."""

from __future__ import annotations

import pytest

from passes.google.objects import (
    GoogleCardContent,
    GoogleProgramContent,
    loyalty_class,
    loyalty_object,
)
from tests.api_calls import change, new_card
from tests.fake_google import ISSUER, FakeGoogle
from tests.google_schema import Validate, check_everything_sent
from tests.live import create_shop, run, server, until

BASE = "https://stempel.example.com"
PLACES = tuple((52.0 + i / 100, 13.0 + i / 100) for i in range(12))


def _program(**changes: object) -> GoogleProgramContent:
    values: dict[str, object] = {
        "shop_slug": "cafe-sonne",
        "shop_name": "Café Sonne",
        "stamps_required": 10,
        "reward": "1 Vita Mix gratis",
        "background_color": "#3B2A20",
        "logo_url": f"{BASE}/img/logo@2x.png",
    }
    return GoogleProgramContent(**{**values, **changes})  # type: ignore[arg-type]


def test_places_go_to_the_class_as_merchant_locations(schema: Validate) -> None:
    made = loyalty_class(ISSUER, _program(locations=PLACES))
    schema("LoyaltyClass", made)
    assert "locations" not in made, "the deprecated LatLongPoint list is not used"
    assert len(made["merchantLocations"]) == 10, "Google takes at most ten"
    assert made["merchantLocations"][0] == {"latitude": 52.0, "longitude": 13.0}
    assert "merchantLocations" not in loyalty_class(ISSUER, _program())


def test_the_deprecated_locations_field_fails_the_schema_check(schema: Validate) -> None:
    made = {**loyalty_class(ISSUER, _program()), "locations": [{"latitude": 1, "longitude": 2}]}
    with pytest.raises(Exception, match="locations"):
        schema("LoyaltyClass", made)


def test_the_perk_is_a_text_module_of_the_object(schema: Validate) -> None:
    content = GoogleCardContent(
        serial="7K3M9QW2XR4T",
        shop_slug="cafe-sonne",
        shop_name="Café Sonne",
        stamps=4,
        stamps_required=10,
        rewards_available=0,
        reward="1 Vita Mix gratis",
        background_color="#3B2A20",
        card_url=f"{BASE}/c/s3cr3t",
        strip_image_url=f"{BASE}/img/strip/4.png",
        logo_url=f"{BASE}/img/logo@2x.png",
        perk="Immer 10 % auf Kuchen",
    )
    made = loyalty_object(ISSUER, content)
    schema("LoyaltyObject", made)
    perk = next(m for m in made["textModulesData"] if m["id"] == "perk")
    assert perk["header"] == "Ihr Stammkunden-Vorteil" and perk["body"] == "Immer 10 % auf Kuchen"


@pytest.mark.slow
async def test_a_new_location_and_a_perk_reach_google(
    google_env: dict[str, str], fake: FakeGoogle, schema: Validate
) -> None:
    import httpx

    key = create_shop(google_env, stamps=2, slug="sonne-google")
    settings = run(
        google_env,
        "shop",
        "settings",
        "--shop",
        "sonne-google",
        "--loyal-after-cards",
        "1",
        "--loyal-bonus",
        "1",
        "--loyal-perk",
        "Immer 10 % auf Kuchen",
    )
    assert "perk Immer 10 % auf Kuchen" in settings.stdout
    with server(google_env) as (base, _):
        async with httpx.AsyncClient(base_url=base) as client:
            card = await new_card(client, key)
            object_id = f"{ISSUER}.{card['serial']}"
            class_id = fake.resources["loyaltyObject"][object_id]["classId"]
            assert "merchantLocations" not in fake.resources["loyaltyClass"][class_id]
            added = run(
                google_env,
                "shop",
                "location",
                "--shop",
                "sonne-google",
                "--address",
                "Sonnenallee 1, Berlin",
                "--lat",
                "52.4862",
                "--lon",
                "13.4319",
            )
            assert "Sonnenallee 1" in added.stdout

            def located() -> bool:
                shown = fake.resources["loyaltyClass"][class_id].get("merchantLocations")
                return shown == [{"latitude": 52.4862, "longitude": 13.4319}]

            await until(located)

            stamped = await change(client, key, f"/api/v1/cards/{card['serial']}/stamps", count=2)
            assert stamped["rewards_available"] == 1

            def perk_shown() -> bool:
                stored = fake.resources["loyaltyObject"][object_id]
                return "perk" in {m["id"] for m in stored.get("textModulesData", [])}

            await until(perk_shown)
            stored = fake.resources["loyaltyObject"][object_id]
            assert stored["loyaltyPoints"]["balance"] == {"string": "1 / 2"}, "bonus stamp given"
    check_everything_sent(fake, schema)
