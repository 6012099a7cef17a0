"""Simulated iPhones: they know only what their pass tells them and speak Apple's Wallet web
service over HTTP, like a device does."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Env
from tests.fake_apns import FakeApns
from tests.pkpass_check import verify_pkpass


class Phone:
    """An iPhone holding one pass: it talks to the public HTTP surface only."""

    def __init__(self, client: httpx.AsyncClient, pkpass: bytes, ca: Path) -> None:
        pass_json = verify_pkpass(pkpass, ca)
        self.client = client
        self.pass_type = pass_json["passTypeIdentifier"]
        self.serial = pass_json["serialNumber"]
        self.token = pass_json["authenticationToken"]
        self.library_id = secrets.token_hex(16)
        self.push_token = secrets.token_hex(32)
        self.tag: str | None = None
        self.last_modified: str | None = None
        self.ca = ca

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"ApplePass {self.token}"}

    @property
    def registration(self) -> str:
        return f"/wallet/v1/devices/{self.library_id}/registrations/{self.pass_type}/{self.serial}"

    async def register(self) -> int:
        response = await self.client.post(
            self.registration, json={"pushToken": self.push_token}, headers=self.auth
        )
        return response.status_code

    async def unregister(self) -> int:
        return (await self.client.delete(self.registration, headers=self.auth)).status_code

    async def changed_serials(self) -> list[str]:
        params = {"passesUpdatedSince": self.tag} if self.tag else {}
        path = f"/wallet/v1/devices/{self.library_id}/registrations/{self.pass_type}"
        response = await self.client.get(path, params=params)
        if response.status_code == 204:
            return []
        assert response.status_code == 200
        self.tag = response.json()["lastUpdated"]
        return list(response.json()["serialNumbers"])

    async def refresh(self) -> httpx.Response:
        headers = dict(self.auth)
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        response = await self.client.get(
            f"/wallet/v1/passes/{self.pass_type}/{self.serial}", headers=headers
        )
        if response.status_code == 200:
            self.last_modified = response.headers["last-modified"]
        return response

    def stamps_shown(self, pkpass: bytes) -> str:
        pass_json = verify_pkpass(pkpass, self.ca)
        fields = {f["key"]: f for group in pass_json["storeCard"].values() for f in group}
        return str(fields["stamps"]["value"])


def pushes_to(fake: FakeApns, token: str) -> list:
    return [r for r in fake.requests if r.token == token]


async def new_phone(client: httpx.AsyncClient, key: str, ca: Path) -> Phone:
    card = (await client.post("/api/v1/cards", headers={"Authorization": f"Bearer {key}"})).json()
    pkpass = (await client.get(card["urls"]["apple"])).content
    phone = Phone(client, pkpass, ca)
    assert await phone.register() == 201
    return phone


async def phone_for(env: Env, card: dict[str, Any]) -> Phone:
    """A phone that holds the card's pass, registered, up to date.

    (On PostgreSQL the web service may list a card again, as Apple allows; "nothing new for
    the phone" is therefore checked with If-Modified-Since, which answers 304.)"""
    pkpass = (await env.client.get(card["urls"]["apple"])).content
    phone = Phone(env.client, pkpass, env.settings.certs_dir / "wwdr.pem")
    assert await phone.register() == 201
    assert await phone.changed_serials() == [card["serial"]]
    assert (await phone.refresh()).status_code == 200
    return phone


class Device:
    """A simulated iPhone: it knows only what the pass told it."""

    def __init__(self, env: Env, pass_json: dict) -> None:
        self.env = env
        self.library_id = secrets.token_hex(16)
        self.push_token = secrets.token_hex(32)
        self.pass_type = pass_json["passTypeIdentifier"]
        self.serial = pass_json["serialNumber"]
        self.token = pass_json["authenticationToken"]
        self.tag: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"ApplePass {self.token}"}

    def registration(self, serial: str | None = None) -> str:
        path = f"/wallet/v1/devices/{self.library_id}/registrations/{self.pass_type}"
        return f"{path}/{serial or self.serial}"

    async def register(self, **overrides: str):
        return await self.env.client.post(
            self.registration(),
            json={"pushToken": self.push_token},
            headers={**self.headers, **overrides},
        )

    async def changed(self):
        params = {} if self.tag is None else {"passesUpdatedSince": self.tag}
        path = f"/wallet/v1/devices/{self.library_id}/registrations/{self.pass_type}"
        response = await self.env.client.get(path, params=params)
        if response.status_code == 200:
            self.tag = response.json()["lastUpdated"]
        return response

    async def fetch(self, since: str | None = None, **overrides: str):
        headers = {**self.headers, **overrides}
        if since:
            headers["If-Modified-Since"] = since
        return await self.env.client.get(
            f"/wallet/v1/passes/{self.pass_type}/{self.serial}", headers=headers
        )
