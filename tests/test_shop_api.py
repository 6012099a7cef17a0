"""The shop API over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import secrets

import httpx
import pytest

from passes.app import create_app
from tests.api_calls import new_card
from tests.conftest import BASE_URL, Env, auth
from tests.pkpass_check import verify_pkpass


async def stamp(env: Env, key: str, serial: str, count: int = 1, **headers: str):
    return await env.client.post(
        f"/api/v1/cards/{serial}/stamps", json={"count": count}, headers={**auth(key), **headers}
    )


async def test_card_is_created_with_its_urls(env: Env) -> None:
    key = await env.new_shop()
    card = await new_card(env, key)
    assert card["stamps"] == 0 and card["stamps_required"] == 10
    assert card["rewards_available"] == 0 and card["total_stamps"] == 0
    assert card["urls"]["card"].startswith("http://127.0.0.1:8000/c/")
    assert card["serial"] not in card["urls"]["card"], (
        "the page URL carries a secret, not the serial"
    )
    assert card["urls"]["apple"].endswith("/pass.pkpass")
    assert card["urls"]["google"] is None
    fetched = await env.client.get(f"/api/v1/cards/{card['serial']}", headers=auth(key))
    assert fetched.json() == card


async def test_stamps_earn_a_reward_and_extra_stamps_carry_over(env: Env) -> None:
    key = await env.new_shop(stamps=5)
    serial = (await new_card(env, key))["serial"]
    assert (await stamp(env, key, serial, 3)).json()["stamps"] == 3
    card = (await stamp(env, key, serial, 4)).json()
    assert (card["stamps"], card["rewards_available"], card["total_stamps"]) == (2, 1, 7)
    card = (await stamp(env, key, serial, 13)).json()
    assert (card["stamps"], card["rewards_available"], card["total_stamps"]) == (0, 4, 20)


async def test_redeem_takes_one_reward_and_refuses_when_none_is_due(env: Env) -> None:
    key = await env.new_shop(stamps=2)
    serial = (await new_card(env, key))["serial"]
    refused = await env.client.post(f"/api/v1/cards/{serial}/redeem", headers=auth(key))
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "no_reward_due"
    await stamp(env, key, serial, 2)
    redeemed = await env.client.post(f"/api/v1/cards/{serial}/redeem", headers=auth(key))
    assert redeemed.status_code == 200
    assert redeemed.json()["rewards_available"] == 0
    assert redeemed.json()["rewards_redeemed"] == 1


async def test_downloaded_pass_shows_the_new_state(env: Env) -> None:
    key = await env.new_shop(stamps=4, reward="1 Vita Mix gratis")
    card = await new_card(env, key)
    first = await env.client.get(card["urls"]["apple"])
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/vnd.apple.pkpass"
    before = verify_pkpass(first.content, env.settings.certs_dir / "wwdr.pem")
    await stamp(env, key, card["serial"], 5)
    second = await env.client.get(card["urls"]["apple"])
    after = verify_pkpass(second.content, env.settings.certs_dir / "wwdr.pem")
    assert after["serialNumber"] == card["serial"]
    assert after["barcodes"][0]["message"] == card["serial"]
    assert after["webServiceURL"] == "http://127.0.0.1:8000/wallet"
    fields = {f["key"]: f for group in after["storeCard"].values() for f in group}
    assert fields["stamps"]["value"] == "1 / 4"
    # Five stamps on a card of four: the reward is what the lock screen announces, alone.
    announcing = [key for key, field in fields.items() if "changeMessage" in field]
    assert announcing == ["notice"]
    assert fields["notice"]["value"] == "1 Vita Mix gratis"
    german = _strings(second.content, "de")
    assert german[fields["notice"]["changeMessage"]] == "Ihre Prämie ist bereit: %@"
    english = _strings(second.content, "en")
    assert english[fields["notice"]["changeMessage"]] == "Your reward is ready: %@"
    before_fields = {f["key"]: f for group in before["storeCard"].values() for f in group}
    assert fields["reward"]["label"] != before_fields["reward"]["label"], (
        "reward line shows it is due"
    )
    assert _member(second.content, "strip.png") != _member(first.content, "strip.png")


def _strings(pkpass: bytes, language: str) -> dict[str, str]:
    text = _member(pkpass, f"{language}.lproj/pass.strings").decode("utf-8-sig")
    return dict(re.findall(r'^"((?:[^"\\]|\\.)*)"\s*=\s*"((?:[^"\\]|\\.)*)";', text, re.M))


def _member(pkpass: bytes, name: str) -> bytes:
    import io
    import zipfile

    return zipfile.ZipFile(io.BytesIO(pkpass)).read(name)


async def test_card_page_shows_the_count(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    card = await new_card(env, key)
    await stamp(env, key, card["serial"], 3)
    page = await env.client.get(card["urls"]["card"], headers={"Accept-Language": "de-DE"})
    assert page.status_code == 200
    assert "3 von 10 Stempeln" in page.text
    english = await env.client.get(card["urls"]["card"], headers={"Accept-Language": "en"})
    assert "3 of 10 stamps" in english.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    missing = await env.client.get("/c/not-a-secret")
    assert missing.status_code == 404


async def test_retry_with_the_same_idempotency_key_stamps_once(env: Env) -> None:
    key = await env.new_shop()
    serial = (await new_card(env, key))["serial"]
    idem = {"Idempotency-Key": secrets.token_hex(8)}
    first = await stamp(env, key, serial, 2, **idem)
    again = await stamp(env, key, serial, 2, **idem)
    assert first.status_code == again.status_code == 200
    assert first.json()["stamps"] == again.json()["stamps"] == 2
    await stamp(env, key, serial, 1)
    late_retry = await stamp(env, key, serial, 2, **idem)
    assert late_retry.json()["stamps"] == 2, "a retry answers the first result"
    now = await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))
    assert now.json()["total_stamps"] == 3
    reused = await stamp(env, key, serial, 5, **idem)
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


async def test_a_card_changed_by_another_instance_is_decided_on_its_stored_state(
    env: Env,
) -> None:
    """This instance remembers the card from its own last change (PostgreSQL skips the read
    then); another instance stamps it to a reward meanwhile. Redeeming here must not be
    refused on the remembered state, and nothing may be lost or doubled."""
    key = await env.new_shop(stamps=3)
    serial = (await new_card(env, key))["serial"]
    assert (await stamp(env, key, serial, 2)).json()["stamps"] == 2
    other_app = create_app(env.settings)
    transport = httpx.ASGITransport(app=other_app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as other:
            elsewhere = await other.post(
                f"/api/v1/cards/{serial}/stamps", json={"count": 1}, headers=auth(key)
            )
            assert elsewhere.json()["rewards_available"] == 1
            redeemed = await env.client.post(f"/api/v1/cards/{serial}/redeem", headers=auth(key))
            assert redeemed.status_code == 200, redeemed.text
            assert redeemed.json()["rewards_redeemed"] == 1
            again = await other.post(
                f"/api/v1/cards/{serial}/stamps", json={"count": 2}, headers=auth(key)
            )
            assert again.json()["stamps"] == 2
            here = await stamp(env, key, serial, 1)
            assert here.status_code == 200
            card = here.json()
            assert (card["stamps"], card["total_stamps"]) == (0, 6)
            assert (card["rewards_available"], card["rewards_redeemed"]) == (1, 1)
    finally:
        await other_app.state.service.store.close()


async def test_a_card_locked_elsewhere_holds_up_only_its_own_stamp(
    env: Env, database_url: str
) -> None:
    """Stamps share batched statements on PostgreSQL. One that waits on a row lock (a long
    transaction elsewhere holds the card) must not keep the other cards' stamps waiting."""
    if not database_url.startswith("postgresql"):
        pytest.skip("row locks and batched stamps are PostgreSQL's")
    import asyncpg  # type: ignore[import-untyped]

    key = await env.new_shop()
    locked, free = (await new_card(env, key))["serial"], (await new_card(env, key))["serial"]
    await stamp(env, key, locked)  # remembered: its next stamp goes straight to the write
    holder = await asyncpg.connect(database_url)
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT 1 FROM cards WHERE serial = $1 FOR UPDATE", locked)
        held_up = asyncio.create_task(stamp(env, key, locked))
        await asyncio.sleep(0.2)
        assert not held_up.done(), "the locked card's stamp waits for the lock"
        started = asyncio.get_running_loop().time()
        others = await asyncio.wait_for(stamp(env, key, free), timeout=5)
        assert others.status_code == 200 and others.json()["stamps"] == 1
        assert asyncio.get_running_loop().time() - started < 2
        await transaction.rollback()
        done = await asyncio.wait_for(held_up, timeout=5)
        assert done.status_code == 200 and done.json()["total_stamps"] == 2
    finally:
        await holder.close()


async def test_another_shops_card_is_not_found(env: Env) -> None:
    mine, theirs = await env.new_shop(), await env.new_shop()
    serial = (await new_card(env, theirs))["serial"]
    for response in (
        await env.client.get(f"/api/v1/cards/{serial}", headers=auth(mine)),
        await stamp(env, mine, serial),
        await env.client.post(f"/api/v1/cards/{serial}/redeem", headers=auth(mine)),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    untouched = await env.client.get(f"/api/v1/cards/{serial}", headers=auth(theirs))
    assert untouched.json()["total_stamps"] == 0


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({}, b"{not json", 400, "bad_json"),
        ({}, b'{"count": 1', 400, "bad_json"),
        ({}, b"[" * 100_000 + b"]" * 100_000, 413, "too_large"),
        ({}, b"[1]", 422, "invalid"),
        ({}, b'{"count": "3"}', 422, "invalid"),
        ({}, b'{"count": 1.5}', 422, "invalid"),
        ({}, b'{"count": true}', 422, "invalid"),
        ({}, b'{"count": 0}', 422, "invalid"),
        ({}, b'{"count": -4}', 422, "invalid"),
        ({}, b'{"count": 100000000000000000000}', 422, "invalid"),
        ({}, b'{"count": 1, "bonus": 5}', 422, "invalid"),
        ({"Content-Type": "text/plain"}, b'{"count": 1}', 415, "unsupported_media_type"),
        ({}, b'{"count": 1, "pad": "' + b"x" * 70_000 + b'"}', 413, "too_large"),
        ({"Idempotency-Key": "x" * 201}, b'{"count": 1}', 422, "invalid"),
    ],
)
async def test_bad_stamp_requests_get_a_precise_error_and_change_nothing(
    env: Env, headers: dict[str, str], body: bytes, status: int, code: str
) -> None:
    key = await env.new_shop()
    serial = (await new_card(env, key))["serial"]
    response = await env.client.post(
        f"/api/v1/cards/{serial}/stamps",
        content=body,
        headers={"Content-Type": "application/json", **auth(key), **headers},
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    card = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
    assert (card["total_stamps"], card["version"]) == (0, 1)


async def test_deeply_nested_json_within_the_limit_is_a_400(env: Env) -> None:
    key = await env.new_shop()
    serial = (await new_card(env, key))["serial"]
    body = b"[" * 30_000 + b"]" * 30_000
    response = await env.client.post(
        f"/api/v1/cards/{serial}/stamps",
        content=body,
        headers={"Content-Type": "application/json", **auth(key)},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_json"


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer psk_wrong", "bearer x y"]
)
async def test_missing_or_wrong_key_is_401(env: Env, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await env.client.post("/api/v1/cards", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_unknown_serial_and_route(env: Env) -> None:
    key = await env.new_shop()
    assert (await stamp(env, key, "NOSUCHCARD")).status_code == 404
    unknown = await env.client.get("/api/v1/nothing", headers=auth(key))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    wrong_method = await env.client.delete("/api/v1/cards", headers=auth(key))
    assert wrong_method.status_code == 405


async def test_typed_serials_are_forgiving(env: Env) -> None:
    key = await env.new_shop()
    serial = (await new_card(env, key))["serial"]
    typed = "-".join([serial[:4].lower(), serial[4:8], serial[8:]])
    response = await stamp(env, key, typed)
    assert response.status_code == 200 and response.json()["serial"] == serial


async def test_openapi_document_describes_the_api(env: Env) -> None:
    document = (await env.client.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert {"/cards", "/cards/{serial}", "/cards/{serial}/stamps", "/cards/{serial}/redeem"} <= set(
        document["paths"]
    )


async def test_concurrent_stamps_with_retries_end_with_exact_totals(env: Env) -> None:
    key = await env.new_shop(stamps=7)
    serials = [(await new_card(env, key))["serial"] for _ in range(3)]
    requests = [(serial, secrets.token_hex(8), 1 + i % 3) for serial in serials for i in range(20)]

    async def client(serial: str, idem: str, count: int) -> None:
        # Every request is sent twice at once, like a client retrying after a timeout.
        answers = await asyncio.gather(
            stamp(env, key, serial, count, **{"Idempotency-Key": idem}),
            stamp(env, key, serial, count, **{"Idempotency-Key": idem}),
        )
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert answers[0].json() == answers[1].json()

    await asyncio.gather(*(client(*r) for r in requests))
    for serial in serials:
        expected = sum(count for s, _, count in requests if s == serial)
        card = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
        assert card["total_stamps"] == expected
        assert card["stamps"] + 7 * card["rewards_available"] == expected
        assert card["version"] == 1 + 20


async def test_a_stamp_given_by_mistake_can_be_undone_once(env: Env) -> None:
    key = await env.new_shop(stamps=3)
    serial = (await new_card(env, key))["serial"]
    await stamp(env, key, serial, 2)
    mistake = (await stamp(env, key, serial, 2)).json()
    assert (mistake["stamps"], mistake["rewards_available"]) == (1, 1)
    path = f"/api/v1/cards/{serial}/stamps/{mistake['last_change_id']}"
    undone = await env.client.delete(path, headers=auth(key))
    assert undone.status_code == 200, undone.text
    card = undone.json()
    assert (card["stamps"], card["rewards_available"], card["total_stamps"]) == (2, 0, 2)
    again = await env.client.delete(path, headers=auth(key))
    assert again.status_code == 200 and again.json()["total_stamps"] == 2, "undo is idempotent"
    assert again.json()["version"] == card["version"]


async def test_undo_refuses_what_cannot_be_taken_back(env: Env) -> None:
    key = await env.new_shop(stamps=2)
    serial = (await new_card(env, key))["serial"]
    completed = (await stamp(env, key, serial, 2)).json()
    redeemed = await env.client.post(f"/api/v1/cards/{serial}/redeem", headers=auth(key))
    refused = await env.client.delete(
        f"/api/v1/cards/{serial}/stamps/{completed['last_change_id']}", headers=auth(key)
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "reward_redeemed"
    not_a_stamp = await env.client.delete(
        f"/api/v1/cards/{serial}/stamps/{redeemed.json()['last_change_id']}", headers=auth(key)
    )
    assert not_a_stamp.json()["error"]["code"] == "not_a_stamp"
    for change_id in ("999999999", "abc", "-1"):
        missing = await env.client.delete(
            f"/api/v1/cards/{serial}/stamps/{change_id}", headers=auth(key)
        )
        assert missing.status_code == 404
    other = await env.new_shop()
    foreign = await env.client.delete(
        f"/api/v1/cards/{serial}/stamps/{completed['last_change_id']}", headers=auth(other)
    )
    assert foreign.status_code == 404
    card = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
    assert (card["total_stamps"], card["rewards_redeemed"]) == (2, 1)


async def test_daily_cap_holds_when_a_card_is_stamped_many_times_at_once(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    shop = await env.service.shops.authenticate(key)
    await env.service.shops.update_program(shop, daily_cap=5)
    serial = (await new_card(env, key))["serial"]
    other = (await new_card(env, key))["serial"]
    answers = await asyncio.gather(
        *(stamp(env, key, serial, 1, **{"Idempotency-Key": f"visit-{i}"}) for i in range(20)),
        *(stamp(env, key, other, 1) for _ in range(3)),
    )
    statuses = [a.status_code for a in answers]
    assert statuses[:20].count(200) == 5 and statuses[:20].count(409) == 15, statuses
    assert statuses[20:] == [200] * 3, "the other card's stamps are its own"
    card = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
    assert (card["total_stamps"], card["version"]) == (5, 6)


async def test_cards_of_two_shops_stamped_at_once_stay_apart(env: Env) -> None:
    mine, theirs = await env.new_shop(), await env.new_shop()
    my_card = (await new_card(env, mine))["serial"]
    their_card = (await new_card(env, theirs))["serial"]
    answers = await asyncio.gather(
        *(stamp(env, mine, my_card) for _ in range(10)),
        *(stamp(env, mine, their_card) for _ in range(10)),
        *(stamp(env, theirs, their_card) for _ in range(10)),
    )
    assert [a.status_code for a in answers] == [200] * 10 + [404] * 10 + [200] * 10
    for key, serial in ((mine, my_card), (theirs, their_card)):
        card = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
        assert card["total_stamps"] == 10


async def test_daily_cap_refuses_with_the_rule_and_counts_undone_stamps_back(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    shop = await env.service.shops.authenticate(key)
    await env.service.shops.update_program(shop, daily_cap=3)
    serial = (await new_card(env, key))["serial"]
    assert (await stamp(env, key, serial, 2)).status_code == 200
    refused = await stamp(env, key, serial, 2)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "daily_cap"
    assert "1 left today" in refused.json()["error"]["message"]
    last = (await stamp(env, key, serial, 1)).json()
    undone = await env.client.delete(
        f"/api/v1/cards/{serial}/stamps/{last['last_change_id']}", headers=auth(key)
    )
    assert undone.status_code == 200
    assert (await stamp(env, key, serial, 1)).status_code == 200, "an undone stamp frees its place"
    card = (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()
    assert card["total_stamps"] == 3


async def test_welcome_stamps_and_voiding(env: Env) -> None:
    key = await env.new_shop(stamps=5)
    shop = await env.service.shops.authenticate(key)
    await env.service.shops.update_program(shop, welcome_stamps=1)
    card = await new_card(env, key)
    assert (card["stamps"], card["total_stamps"]) == (1, 1), "a welcome stamp on joining"
    voided = await env.client.post(f"/api/v1/cards/{card['serial']}/void", headers=auth(key))
    assert voided.status_code == 200 and voided.json()["voided"] is True
    again = await env.client.post(f"/api/v1/cards/{card['serial']}/void", headers=auth(key))
    assert again.json()["version"] == voided.json()["version"], "voiding twice changes nothing"
    refused = await stamp(env, key, card["serial"])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "card_voided"
    pkpass = (await env.client.get(card["urls"]["apple"])).content
    assert verify_pkpass(pkpass, env.settings.certs_dir / "wwdr.pem")["voided"] is True


async def test_a_referral_rewards_both_cards_once_at_the_first_stamp(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    referrer = await new_card(env, key)
    referred = await env.client.post(
        "/api/v1/cards", json={"referrer": referrer["serial"]}, headers=auth(key)
    )
    assert referred.status_code == 201
    serial = referred.json()["serial"]
    first = (await stamp(env, key, serial)).json()
    assert first["total_stamps"] == 2, "one stamp plus the referral bonus"
    again = (await stamp(env, key, serial)).json()
    assert again["total_stamps"] == 3, "the bonus comes once"
    recommended = (
        await env.client.get(f"/api/v1/cards/{referrer['serial']}", headers=auth(key))
    ).json()
    assert recommended["total_stamps"] == 1
    other_shop = await env.new_shop()
    foreign = await env.client.post(
        "/api/v1/cards", json={"referrer": referrer["serial"]}, headers=auth(other_shop)
    )
    foreign_serial = foreign.json()["serial"]
    await stamp(env, other_shop, foreign_serial)
    assert (await env.client.get(f"/api/v1/cards/{referrer['serial']}", headers=auth(key))).json()[
        "total_stamps"
    ] == 1, "another shop's card earns nothing"


async def test_personal_data_needs_consent_and_can_be_exported_and_erased(env: Env) -> None:
    key = await env.new_shop()
    for body in (
        {"customer": {"name": "Ada"}},
        {"customer": {"name": "Ada", "consent": "yes"}},
        {"customer": {"email": "not-an-address", "consent": True}},
        {"customer": {"consent": True}},
        {"customer": "Ada"},
    ):
        refused = await env.client.post("/api/v1/cards", json=body, headers=auth(key))
        assert refused.status_code == 422, body
    created = await env.client.post(
        "/api/v1/cards",
        json={"customer": {"name": "Ada", "email": "ada@example.org", "consent": True}},
        headers=auth(key),
    )
    serial = created.json()["serial"]
    path = f"/api/v1/cards/{serial}/personal-data"
    exported = (await env.client.get(path, headers=auth(key))).json()
    assert exported["personal_data"]["email"] == "ada@example.org"
    assert (await env.client.get(path, headers=auth(await env.new_shop()))).status_code == 404
    erased = await env.client.delete(path, headers=auth(key))
    assert erased.json()["erased"] is True
    assert (await env.client.get(path, headers=auth(key))).json()["personal_data"] is None
    assert (await stamp(env, key, serial)).status_code == 200, "the card itself stays"


async def test_locations_put_the_pass_on_the_lock_screen_nearby(env: Env) -> None:
    from passes.store.branches import Location

    key = await env.new_shop(stamps=10, reward="1 Vita Mix gratis")
    shop = await env.service.shops.authenticate(key)
    await env.service.shops.add_location(shop, Location("Sonnenallee 1, Berlin", 52.4862, 13.4319))
    card = await new_card(env, key)
    await stamp(env, key, card["serial"], 8)
    pkpass = (await env.client.get(card["urls"]["apple"])).content
    pass_json = verify_pkpass(pkpass, env.settings.certs_dir / "wwdr.pem")
    assert pass_json["locations"] == [
        {"latitude": 52.4862, "longitude": 13.4319, "relevantText": "relevant_text"}
    ]
    # The lock-screen text in the phone's language, from the pass's own strings.
    assert _strings(pkpass, "de")["relevant_text"] == "Noch 2 Stempel bis: 1 Vita Mix gratis"
    assert _strings(pkpass, "en")["relevant_text"] == "2 more stamps to: 1 Vita Mix gratis"


async def test_repeated_wrong_keys_are_slowed_down(env: Env) -> None:
    # A client address of its own, so other tests' clients keep their budget.
    transport = httpx.ASGITransport(app=env.app, client=("192.0.2.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        statuses = [
            (await client.get("/api/v1/stats", headers=auth(f"psk_wrong{i}"))).status_code
            for i in range(40)
        ]
        assert statuses[0] == 401 and 429 in statuses
        key = await env.new_shop()
        assert (await client.get("/api/v1/stats", headers=auth(key))).status_code == 200
    assert (await env.client.get("/api/v1/stats", headers=auth("psk_x"))).status_code == 401


async def test_surprise_stamps_go_to_the_segment_but_not_the_hold_out(env: Env) -> None:
    key = await env.new_shop(stamps=10)
    serials = [(await new_card(env, key))["serial"] for _ in range(10)]
    for body in ({"text": "x", "bonus_stamps": 4}, {"text": "x", "bonus_stamps": "1"}):
        refused = await env.client.post("/api/v1/messages", json=body, headers=auth(key))
        assert refused.status_code == 422
    later = await env.client.post(
        "/api/v1/messages",
        json={"text": "x", "bonus_stamps": 1, "send_at": "2099-01-01T00:00:00+00:00"},
        headers=auth(key),
    )
    assert later.status_code == 422, "surprise stamps are given at once"
    sent = await env.client.post(
        "/api/v1/messages",
        json={"text": "Ein Stempel extra für Sie!", "segment": "all", "bonus_stamps": 1},
        headers=auth(key),
    )
    assert sent.status_code == 202 and sent.json()["recipients"] == 9
    totals = sorted(
        [
            (await env.client.get(f"/api/v1/cards/{serial}", headers=auth(key))).json()[
                "total_stamps"
            ]
            for serial in serials
        ]
    )
    assert totals == [0] + [1] * 9
