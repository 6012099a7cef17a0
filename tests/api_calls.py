"""Calls to the shop API that many tests make: issue a card, stamp it, read it back.

Each takes the in-process app (`Env`) or an HTTP client to a real `passes serve`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import Env, auth


def _client(target: Env | httpx.AsyncClient) -> httpx.AsyncClient:
    return target.client if isinstance(target, Env) else target


async def new_card(target: Env | httpx.AsyncClient, key: str) -> dict[str, Any]:
    """A new card of the key's shop, as the API answers it."""
    response = await _client(target).post("/api/v1/cards", headers=auth(key))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def stamp(
    target: Env | httpx.AsyncClient, key: str, serial: str, count: int = 1, idem: str | None = None
) -> dict[str, Any]:
    """Stamps given (a fresh Idempotency-Key unless one is named); the card after them."""
    return await change(target, key, f"/api/v1/cards/{serial}/stamps", idem=idem, count=count)


async def change(
    target: Env | httpx.AsyncClient, key: str, path: str, idem: str | None = None, **body: int
) -> dict[str, Any]:
    """A card change (stamps, redeem, undo) that must succeed; the card after it."""
    headers = {**auth(key), "Idempotency-Key": idem or secrets.token_hex(8)}
    response = await _client(target).post(path, json=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def message(env: Env, key: str, **body: Any) -> httpx.Response:
    """A campaign message or promotion sent; the answer as it came."""
    return await env.client.post("/api/v1/messages", json=body, headers=auth(key))


async def get_card(client: httpx.AsyncClient, key: str, serial: str) -> dict[str, Any]:
    """The card as the API shows it now."""
    response = await client.get(f"/api/v1/cards/{serial}", headers=auth(key))
    assert response.status_code == 200, response.text
    return dict(response.json())


@dataclass(frozen=True)
class Visit:
    """One stamp request a client wants applied exactly once."""

    serial: str
    count: int
    key: str


async def send_stamp(client: httpx.AsyncClient, api_key: str, visit: Visit) -> httpx.Response:
    """The visit's stamps, sent with its Idempotency-Key; the answer as it came."""
    return await client.post(
        f"/api/v1/cards/{visit.serial}/stamps",
        json={"count": visit.count},
        headers={**auth(api_key), "Idempotency-Key": visit.key},
    )
