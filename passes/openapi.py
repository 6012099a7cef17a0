"""The shop API's OpenAPI 3.1 document (served at /api/v1/openapi.json).

Made from the shapes the API checks and sends (passes/shapes.py, passes/answers.py,
passes/answers_webhooks.py) and the table of operations below: what each route takes,
answers and may refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from passes import __version__, answers, answers_history, answers_webhooks, purchase_rules, shapes

JSON = "application/json"
Schema = dict[str, Any]

# What each error status means for a caller (the codes are in passes/errors.py's table).
ERRORS = {
    400: "The body is not valid JSON",
    401: "Missing or unknown API key",
    404: "No such card, purchase or webhook endpoint in this shop",
    409: "The card's state refuses the change (e.g. no reward due)",
    413: "The body is too large",
    415: "The body is not application/json",
    422: "A value is out of range or of the wrong type",
    429: "Too many failed sign-ins from this client; wait a moment",
}
# Every body may be broken, too large, of the wrong type or refused.
BODY_ERRORS = (400, 413, 415, 422)


@dataclass(frozen=True)
class Reply:
    """One answer of an operation: its status, what it means and its shape."""

    status: int
    description: str
    # None: no body (204).
    shape: type[msgspec.Struct] | None


@dataclass(frozen=True)
class Operation:
    """One route and method of the API."""

    path: str
    method: str
    id: str
    summary: str
    replies: tuple[Reply, ...]
    errors: tuple[int, ...] = ()
    body: type[msgspec.Struct] | None = None
    params: tuple[str, ...] = ()
    body_required: bool = False


def _card(status: int, description: str) -> tuple[Reply, ...]:
    return (Reply(status, description, answers.Card),)


SERIAL = ("serial",)
CHANGE = ("serial", "Idempotency-Key")
OPERATIONS = (
    Operation(
        "/cards", "post", "createCard", "Issue a new anonymous card",
        _card(201, "The new card"), (401, *BODY_ERRORS), shapes.NewCard,
    ),
    Operation(
        "/cards/{serial}", "get", "getCard", "Read a card",
        _card(200, "The card"), (401, 404), params=SERIAL,
    ),
    Operation(
        "/cards/{serial}/stamps", "post", "stampCard", "Add stamps",
        _card(200, "The stamped card"), (401, 404, 409, *BODY_ERRORS), shapes.StampRequest, CHANGE,
    ),
    Operation(
        "/cards/{serial}/stamps/{change_id}", "delete", "undoStamp",
        "Undo a stamp given by mistake (within 10 minutes)",
        _card(200, "The card after the undo"), (401, 404, 409), params=("serial", "change_id"),
    ),
    Operation(
        "/cards/{serial}/purchases", "post", "recordPurchase",
        "Stamps for a purchase by the shop's purchase rule, once per reference",
        (
            Reply(201, "Applied: the stamps it earned (maybe none, with the reason)",
                  answers.PurchaseAnswer),
            Reply(200, "This reference was reported before: its first answer",
                  answers.PurchaseAnswer),
        ),
        (401, 404, 409, *BODY_ERRORS), shapes.PurchaseRequest, SERIAL, body_required=True,
    ),
    Operation(
        "/cards/{serial}/purchases/{reference}/refund", "post", "refundPurchase",
        "Take back a purchase's stamps, and the rewards they completed while still due",
        (Reply(200, "The refund (stamps spent on a redeemed reward are kept)",
               answers.PurchaseAnswer),),
        (401, 404, 409), params=("serial", "reference"),
    ),
    Operation(
        "/cards/{serial}/redeem", "post", "redeemReward",
        "Redeem one due reward: the tier named, else the oldest due",
        _card(200, "The card after redeeming"), (401, 404, 409, *BODY_ERRORS),
        shapes.RedeemRequest, CHANGE,
    ),
    Operation(
        "/cards/{serial}/void", "post", "voidCard",
        "Void a card (lost or abused); it takes no more stamps",
        _card(200, "The voided card"), (401, 404, *BODY_ERRORS), shapes.EmptyRequest, SERIAL,
    ),
    Operation(
        "/cards/{serial}/personal-data", "get", "exportPersonalData",
        "Export the holder's personal data (usually none: cards are anonymous)",
        (Reply(200, "The personal data, or null", answers.PersonalData),), (401, 404),
        params=SERIAL,
    ),
    Operation(
        "/cards/{serial}/personal-data", "delete", "erasePersonalData",
        "Erase the holder's personal data; the anonymous ledger stays",
        (Reply(200, "Whether anything was erased", answers.Erased),), (401, 404), params=SERIAL,
    ),
    Operation(
        "/cards/{serial}/deliveries", "get", "cardDeliveries",
        "Why a phone did or did not update: devices, pushes, device logs",
        (Reply(200, "Delivery diagnostics", answers.Deliveries),), (401, 404), params=SERIAL,
    ),
    Operation(
        "/cards/{serial}/history", "get", "cardHistory",
        "The card's changes, newest first (at most 100), each naming who made it and where",
        (Reply(200, "The history", answers_history.History),), (401, 404), params=SERIAL,
    ),
    Operation(
        "/stats", "get", "getStats",
        "The shop's figures (UTC days), as the owner dashboard shows them",
        (Reply(200, "Figures", answers.Stats),), (401, 422), params=("query",),
    ),
    Operation(
        "/messages", "post", "sendMessage",
        "Send a message to a segment (or preview who would get it)",
        (
            Reply(200, "Preview: who would receive it", answers.Audience),
            Reply(202, "Accepted: the campaign is being delivered", answers.Audience),
        ),
        (401, *BODY_ERRORS), shapes.MessageRequest, body_required=True,
    ),
    Operation(
        "/messages", "get", "listMessages", "Campaign history with delivery figures",
        (Reply(200, "Campaigns, newest first", answers.Campaigns),), (401,),
    ),
    Operation(
        "/webhooks", "post", "addWebhook",
        "Send events to a URL (Standard Webhooks); the secret is shown only here",
        (Reply(201, "The endpoint and its secret", answers_webhooks.NewWebhookAnswer),),
        (401, *BODY_ERRORS), shapes.NewWebhook, body_required=True,
    ),
    Operation(
        "/webhooks", "get", "listWebhooks",
        "The endpoints with their waiting messages and last attempts",
        (Reply(200, "Endpoints, oldest first", answers_webhooks.Webhooks),), (401,),
    ),
    Operation(
        "/webhooks/{id}", "delete", "removeWebhook", "Stop sending to an endpoint",
        (Reply(204, "Removed, with its waiting messages", None),), (401, 404), params=("id",),
    ),
    Operation(
        "/webhooks/{id}/resume", "post", "resumeWebhook",
        "Deliver to a paused endpoint again",
        (Reply(200, "The endpoint", answers_webhooks.Webhook),), (401, 404, *BODY_ERRORS),
        shapes.EmptyRequest, ("id",),
    ),
)  # fmt: skip


def _ref(shape: type[msgspec.Struct]) -> Schema:
    return {"$ref": f"#/components/schemas/{shape.__name__}"}


def _content(shape: type[msgspec.Struct]) -> Schema:
    return {JSON: {"schema": _ref(shape)}}


def _plain(kind: Any) -> Schema:
    """The JSON Schema of a parameter's type, its description apart and without null."""
    schema: Schema = msgspec.json.schema(kind)
    choices = [choice for choice in schema.get("anyOf", [schema]) if choice != {"type": "null"}]
    return {key: value for key, value in choices[0].items() if key != "default"}


def _param(name: str, where: str, kind: Any, required: bool) -> Schema:
    schema = _plain(kind)
    described = {"description": schema.pop("description")} if "description" in schema else {}
    return {"name": name, "in": where, "required": required, **described, "schema": schema}


def _parameters(names: tuple[str, ...]) -> list[Schema]:
    found: list[Schema] = []
    for name in names:
        if name == "serial":
            found.append(_param(name, "path", shapes.Serial, True))
        elif name == "change_id":
            found.append(
                {**_param(name, "path", int, True), "schema": {"type": "integer", "minimum": 1}}
            )
        elif name == "id":
            found.append(
                {**_param(name, "path", int, True), "schema": {"type": "integer", "minimum": 1}}
            )
        elif name == "reference":
            found.append(
                {**_param(name, "path", str, True),
                 "schema": {"type": "string", "pattern": purchase_rules.REFERENCE_PATTERN}}
            )  # fmt: skip
        elif name == "Idempotency-Key":
            found.append(_param(name, "header", shapes.IdempotencyKey, False))
        else:  # the query of GET /stats
            for field in msgspec.structs.fields(shapes.StatsQuery):
                found.append(_param(field.encode_name, "query", field.type, False))
    return found


def _operation(operation: Operation) -> Schema:
    responses: Schema = {
        str(reply.status): {"description": reply.description}
        | ({} if reply.shape is None else {"content": _content(reply.shape)})
        for reply in operation.replies
    }
    # Every operation needs the key, so any of them may meet the wrong-key slow-down.
    for status in sorted({*operation.errors, 429}):
        responses[str(status)] = {
            "description": ERRORS[status],
            "content": _content(answers.Error),
        }
    described: Schema = {"summary": operation.summary, "operationId": operation.id}
    if operation.params:
        described["parameters"] = _parameters(operation.params)
    if operation.body is not None:
        body = {"required": operation.body_required, "content": _content(operation.body)}
        described["requestBody"] = body
    return {**described, "responses": responses}


def _schemas() -> Schema:
    """Every shape's JSON Schema, with what msgspec cannot say (a Shape's schema_extra)."""
    _, found = msgspec.json.schema_components(
        (
            *shapes.REQUESTS,
            *answers.RESPONSES,
            *answers_webhooks.RESPONSES,
            *answers_history.RESPONSES,
        ),
        ref_template="#/components/schemas/{name}",
    )
    extended: tuple[type[shapes.Shape], ...] = (*shapes.REQUESTS, shapes.CustomerData)
    for shape in extended:
        found[shape.__name__].update(shape.schema_extra)
    schemas: Schema = found
    return schemas


def openapi_document(base_url: str) -> dict[str, Any]:
    """The document, with this server's URL."""
    paths: dict[str, Schema] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "passes shop API",
            "version": __version__,
            "description": "Issue, stamp and redeem loyalty stamp cards in Apple and Google Wallet.",
        },
        "servers": [{"url": f"{base_url}/api/v1"}],
        "security": [{"apiKey": []}],
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
        "paths": paths,
    }
