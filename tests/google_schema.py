"""Google's published walletobjects v1 schema as strict JSON Schema: unknown or misspelled
fields fail, so tests check what we send against Google's definition, not our expectations."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import googleapiclient
import jsonschema

from tests.fake_google import FakeGoogle

DISCOVERY = (
    Path(googleapiclient.__file__).parent / "discovery_cache/documents/walletobjects.v1.json"
)

Validate = Callable[[str, Any], None]


def _json_schema(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return {"$ref": f"#/$defs/{node['$ref']}"}
    kind = node.get("type")
    out: dict[str, Any] = {}
    if kind == "object" and "properties" in node:
        # Deprecated fields are left out, so using one fails too.
        props = {
            name: _json_schema(value)
            for name, value in node["properties"].items()
            if not value.get("deprecated")
        }
        out = {"type": "object", "properties": props, "additionalProperties": False}
    elif kind == "object":
        extra = node.get("additionalProperties")
        out = {"type": "object", **({"additionalProperties": _json_schema(extra)} if extra else {})}
    elif kind == "array":
        out = {"type": "array", "items": _json_schema(node["items"])}
    elif kind in ("string", "integer", "number", "boolean"):
        out = {"type": kind}
    if "enum" in node:
        out["enum"] = node["enum"]
    return out


def walletobjects_validator() -> Validate:
    """validate(schema_name, value) against the walletobjects v1 discovery document."""
    document = json.loads(DISCOVERY.read_text())
    defs = {name: _json_schema(value) for name, value in document["schemas"].items()}
    validators: dict[str, jsonschema.Draft202012Validator] = {}

    def validate(name: str, value: Any) -> None:
        if name not in validators:
            root = {"$ref": f"#/$defs/{name}", "$defs": defs}
            jsonschema.Draft202012Validator.check_schema(root)
            validators[name] = jsonschema.Draft202012Validator(root)
        validators[name].validate(value)

    return validate


def check_everything_sent(fake: FakeGoogle, schema: Validate) -> None:
    """Every class, object and message we sent follows Google's published schema."""
    for method in ("POST", "PATCH"):
        for body in fake.bodies(method, "loyaltyClass"):
            schema("LoyaltyClass", body)
        for body in fake.bodies(method, "loyaltyObject"):
            schema("LoyaltyObject", body)
    for sent in fake.requests:
        if sent.path.endswith("/addMessage"):
            schema("AddMessageRequest", sent.body)
