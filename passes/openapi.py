"""The shop API's OpenAPI 3.1 document (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from passes import __version__
from passes.loyalty import MAX_MULTIPLIER, MAX_STAMPS_PER_VISIT, SEGMENTS

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*statuses: int) -> dict[str, Any]:
    described = {
        400: "The body is not valid JSON",
        401: "Missing or unknown API key",
        404: "No such card in this shop",
        409: "The card's state refuses the change (e.g. no reward due)",
        413: "The body is too large",
        415: "The body is not application/json",
        422: "A value is out of range or of the wrong type",
        429: "Too many failed sign-ins from this client; wait a moment",
    }
    return {
        str(status): {
            "description": described[status],
            "content": {JSON: {"schema": _ref("Error")}},
        }
        for status in statuses
    }


def _card_response(status: int, description: str) -> dict[str, Any]:
    return {str(status): {"description": description, "content": {JSON: {"schema": _ref("Card")}}}}


_SERIAL = {
    "name": "serial",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Retrying with the same key applies the change once and answers the same card. "
        "1 to 200 printable characters."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}
_NEW_CARD_BODY = {
    "required": False,
    "content": {
        JSON: {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "referrer": {
                        "type": ["string", "null"],
                        "maxLength": 64,
                        "description": "Serial of the card that recommended this one",
                    },
                    "customer": {
                        "type": ["object", "null"],
                        "description": "Kept only with consent; needs a name or an e-mail address",
                        "additionalProperties": False,
                        "required": ["consent"],
                        "properties": {
                            "name": {
                                "type": ["string", "null"],
                                "minLength": 1,
                                "maxLength": 200,
                                "pattern": "^[^\\u0000-\\u001f\\u007f]+$",
                                "description": "Any text but control characters",
                            },
                            "email": {"type": ["string", "null"], "format": "email"},
                            "consent": {"const": True},
                        },
                        "anyOf": [
                            {"required": ["name"], "properties": {"name": {"type": "string"}}},
                            {"required": ["email"], "properties": {"email": {"type": "string"}}},
                        ],
                    },
                },
            }
        }
    },
}
_EMPTY_BODY = {
    "required": False,
    "content": {JSON: {"schema": {"type": "object", "additionalProperties": False}}},
}

_REDEEM_BODY = {
    "required": False,
    "content": {
        JSON: {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "tier": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 30,
                        "description": "The reward's stamp count (see the card's rewards); "
                        "409 when that reward is not due",
                    }
                },
            }
        }
    },
}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Card": {
        "type": "object",
        "required": [
            "serial",
            "shop",
            "stamps",
            "stamps_required",
            "rewards_available",
            "rewards_redeemed",
            "total_stamps",
            "reward",
            "voided",
            "version",
            "created_at",
            "updated_at",
            "urls",
        ],
        "properties": {
            "serial": {"type": "string"},
            "shop": {"type": "string"},
            "stamps": {"type": "integer", "minimum": 0},
            "stamps_required": {"type": "integer", "minimum": 1},
            "rewards_available": {"type": "integer", "minimum": 0},
            "rewards_redeemed": {"type": "integer", "minimum": 0},
            "total_stamps": {"type": "integer", "minimum": 0},
            "reward": {"type": "string"},
            "voided": {"type": "boolean"},
            "version": {"type": "integer", "minimum": 1},
            "last_change_id": {
                "type": ["integer", "null"],
                "description": "Ledger id of the card's latest change; undo a stamp with it.",
            },
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "rewards": {
                "type": "array",
                "description": "Every reward of the program by stamp count, with how many are due",
                "items": {
                    "type": "object",
                    "required": ["at", "reward", "due"],
                    "properties": {
                        "at": {"type": "integer", "minimum": 1},
                        "reward": {"type": "string"},
                        "due": {"type": "integer", "minimum": 0},
                    },
                },
            },
            "next_reward": {
                "type": "object",
                "required": ["missing", "reward"],
                "properties": {
                    "missing": {"type": "integer", "minimum": 1},
                    "reward": {"type": "string"},
                },
            },
            "stamps_expire_at": {
                **_TIME_OR_NULL,
                "description": "When the stamps expire without a visit (null: they do not)",
            },
            "reward_expires_at": {
                **_TIME_OR_NULL,
                "description": "When the oldest due reward expires (null: none does)",
            },
            "stamps_expired": {"type": "integer", "minimum": 0},
            "rewards_expired": {"type": "integer", "minimum": 0},
            "urls": {
                "type": "object",
                "required": ["card", "apple", "google"],
                "properties": {
                    "card": {"type": "string", "format": "uri"},
                    "apple": {"type": "string", "format": "uri"},
                    "google": {"type": ["string", "null"], "format": "uri"},
                },
            },
        },
    },
    "Deliveries": {
        "type": "object",
        "required": [
            "serial",
            "version",
            "last_fetched_at",
            "pending_pushes",
            "devices",
            "attempts",
            "device_logs",
            "unverified_device_logs",
        ],
        "properties": {
            "serial": {"type": "string"},
            "version": {"type": "integer"},
            "last_fetched_at": {"type": ["string", "null"], "format": "date-time"},
            "pending_pushes": {"type": "integer", "minimum": 0},
            "devices": {"type": "array", "items": {"type": "object"}},
            "attempts": {"type": "array", "items": {"type": "object"}},
            "device_logs": {
                "type": "array",
                "items": {"type": "object"},
                "description": "Lines from a device that proved the card (its pass token) lately",
            },
            "unverified_device_logs": {
                "type": "array",
                "items": {"type": "object"},
                "description": "Lines naming the card from any other sender: anyone may post them",
            },
        },
    },
    "Stats": {
        "type": "object",
        "required": [
            "window_days",
            "cards_issued",
            "active_cards",
            "returning_customers",
            "stamps_total",
            "bonus_stamps_total",
            "rewards_redeemed",
            "rewards_redeemed_recently",
            "wallets",
            "stamps_per_day",
            "success",
        ],
        "properties": {
            "success": {
                "type": "object",
                "description": "Redemption rate, visits per active card, returning rate, campaign "
                "response against the hold-out, and (with reward_cost and basket) a cost estimate",
                "required": [
                    "redemption_rate",
                    "visits_per_active_card",
                    "returning_customer_rate",
                    "repeat_visits",
                    "campaigns",
                ],
                "properties": {
                    "redemption_rate": {"type": ["number", "null"]},
                    "visits_per_active_card": {
                        "type": ["number", "null"],
                        "description": "Stamping occasions in the window (one stamp request, "
                        "whatever its count; bonus stamps are no visit) per active card",
                    },
                    "returning_customer_rate": {"type": ["number", "null"]},
                    "repeat_visits": {"type": "integer"},
                    "campaigns": {"type": "array", "items": {"type": "object"}},
                    "estimate": {"type": "object"},
                },
            },
            "window_days": {"type": "integer", "description": "Days the recent figures cover"},
            "cards_issued": {"type": "integer", "minimum": 0},
            "active_cards": {
                "type": "integer",
                "minimum": 0,
                "description": "Cards stamped or redeemed within the window",
            },
            "returning_customers": {
                "type": "integer",
                "minimum": 0,
                "description": "Cards stamped on two or more days within the window",
            },
            "stamps_total": {
                "type": "integer",
                "minimum": 0,
                "description": "All stamps cards gained, bonus stamps included",
            },
            "bonus_stamps_total": {
                "type": "integer",
                "minimum": 0,
                "description": "Of stamps_total: bonus stamps (welcome, referral, promotion, "
                "long-standing, campaign), less those taken back",
            },
            "rewards_redeemed": {"type": "integer", "minimum": 0},
            "rewards_redeemed_recently": {"type": "integer", "minimum": 0},
            "wallets": {
                "type": "object",
                "required": ["apple", "google"],
                "properties": {
                    "apple": {"type": "integer", "minimum": 0},
                    "google": {"type": "integer", "minimum": 0},
                },
            },
            "stamps_per_day": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["date", "stamps", "bonus"],
                    "properties": {
                        "date": {"type": "string", "format": "date"},
                        "stamps": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "Stamps given at the counter (undos netted out)",
                        },
                        "bonus": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "Bonus stamps given that day, counted apart",
                        },
                    },
                },
            },
        },
    },
    "MessageRequest": {
        "type": "object",
        "additionalProperties": False,
        "anyOf": [
            {"required": ["text"]},
            {"required": ["preview"], "properties": {"preview": {"const": True}}},
        ],
        "properties": {
            "text": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "description": "Printable text; required unless previewing",
            },
            "segment": {"type": "string", "enum": list(SEGMENTS), "default": "all"},
            "bonus_stamps": {
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": 3,
                "description": "Surprise stamps for every recipient, given at once",
            },
            "send_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "Send later (at most 30 days ahead); the segment (hold-out, "
                "weekly limit) is taken then. The counts answered are what it would be now.",
            },
            "multiplier": {
                "type": ["integer", "null"],
                "minimum": 2,
                "maximum": MAX_MULTIPLIER,
                "description": "A promotion: from starts_at to ends_at every stamp on a "
                "recipient's card counts this many times (the extra as a `bonus` event). "
                "Needs ends_at; not with send_at (the message announces it at once).",
            },
            "starts_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "When the promotion starts (default now; within 30 days)",
            },
            "ends_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "When the promotion ends (at most 14 days after its start)",
            },
            "preview": {
                "type": ["boolean", "null"],
                "description": "Only count who would receive it; nothing is sent.",
            },
        },
    },
    "Audience": {
        "type": "object",
        "required": ["recipients", "held_out", "over_limit"],
        "properties": {
            "campaign": {"type": "integer"},
            "recipients": {"type": "integer", "minimum": 0},
            "held_out": {"type": "integer", "minimum": 0},
            "over_limit": {"type": "integer", "minimum": 0},
            "google": {
                "type": "object",
                "description": "Preview only: recipients in Google Wallet that Google will "
                "notify, and those updated silently (their pass had Google's 3 notifications "
                "in the last 24 hours)",
                "required": ["notified", "silent"],
                "properties": {
                    "notified": {"type": "integer", "minimum": 0},
                    "silent": {"type": "integer", "minimum": 0},
                },
            },
        },
    },
    "StampRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "count": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_STAMPS_PER_VISIT,
                "default": 1,
            }
        },
    },
}


def openapi_document(base_url: str) -> dict[str, Any]:
    """The document, with this server's URL."""
    document = _document(base_url)
    # Every operation needs the key, so any of them may meet the wrong-key slow-down.
    for operation in (op for path in document["paths"].values() for op in path.values()):
        operation["responses"].update(_errors(429))
    return document


def _document(base_url: str) -> dict[str, Any]:
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
            "schemas": _SCHEMAS,
        },
        "paths": {
            "/cards": {
                "post": {
                    "summary": "Issue a new anonymous card",
                    "operationId": "createCard",
                    "requestBody": _NEW_CARD_BODY,
                    "responses": {
                        **_card_response(201, "The new card"),
                        **_errors(400, 401, 413, 415, 422),
                    },
                }
            },
            "/cards/{serial}": {
                "get": {
                    "summary": "Read a card",
                    "operationId": "getCard",
                    "parameters": [_SERIAL],
                    "responses": {**_card_response(200, "The card"), **_errors(401, 404)},
                }
            },
            "/cards/{serial}/stamps": {
                "post": {
                    "summary": "Add stamps",
                    "operationId": "stampCard",
                    "parameters": [_SERIAL, _IDEMPOTENCY],
                    "requestBody": {
                        "required": False,
                        "content": {JSON: {"schema": _ref("StampRequest")}},
                    },
                    "responses": {
                        **_card_response(200, "The stamped card"),
                        **_errors(400, 401, 404, 409, 413, 415, 422),
                    },
                }
            },
            "/messages": {
                "post": {
                    "summary": "Send a message to a segment (or preview who would get it)",
                    "operationId": "sendMessage",
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": _ref("MessageRequest")}},
                    },
                    "responses": {
                        "200": {
                            "description": "Preview: who would receive it",
                            "content": {JSON: {"schema": _ref("Audience")}},
                        },
                        "202": {
                            "description": "Accepted: the campaign is being delivered",
                            "content": {JSON: {"schema": _ref("Audience")}},
                        },
                        **_errors(400, 401, 413, 415, 422),
                    },
                },
                "get": {
                    "summary": "Campaign history with delivery figures",
                    "operationId": "listMessages",
                    "responses": {
                        "200": {
                            "description": "Campaigns, newest first",
                            "content": {
                                JSON: {
                                    "schema": {
                                        "type": "object",
                                        "required": ["campaigns"],
                                        "properties": {
                                            "campaigns": {
                                                "type": "array",
                                                "items": {"type": "object"},
                                            }
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(401),
                    },
                },
            },
            "/cards/{serial}/stamps/{change_id}": {
                "delete": {
                    "summary": "Undo a stamp given by mistake (within 10 minutes)",
                    "operationId": "undoStamp",
                    "parameters": [
                        _SERIAL,
                        {
                            "name": "change_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1},
                        },
                    ],
                    "responses": {
                        **_card_response(200, "The card after the undo"),
                        **_errors(401, 404, 409),
                    },
                }
            },
            "/cards/{serial}/void": {
                "post": {
                    "summary": "Void a card (lost or abused); it takes no more stamps",
                    "operationId": "voidCard",
                    "parameters": [_SERIAL],
                    "requestBody": _EMPTY_BODY,
                    "responses": {
                        **_card_response(200, "The voided card"),
                        **_errors(400, 401, 404, 413, 415, 422),
                    },
                }
            },
            "/cards/{serial}/personal-data": {
                "get": {
                    "summary": "Export the holder's personal data (usually none: cards are anonymous)",
                    "operationId": "exportPersonalData",
                    "parameters": [_SERIAL],
                    "responses": {
                        "200": {
                            "description": "The personal data, or null",
                            "content": {JSON: {"schema": {"type": "object"}}},
                        },
                        **_errors(401, 404),
                    },
                },
                "delete": {
                    "summary": "Erase the holder's personal data; the anonymous ledger stays",
                    "operationId": "erasePersonalData",
                    "parameters": [_SERIAL],
                    "responses": {
                        "200": {
                            "description": "Whether anything was erased",
                            "content": {JSON: {"schema": {"type": "object"}}},
                        },
                        **_errors(401, 404),
                    },
                },
            },
            "/cards/{serial}/deliveries": {
                "get": {
                    "summary": "Why a phone did or did not update: devices, pushes, device logs",
                    "operationId": "cardDeliveries",
                    "parameters": [_SERIAL],
                    "responses": {
                        "200": {
                            "description": "Delivery diagnostics",
                            "content": {JSON: {"schema": _ref("Deliveries")}},
                        },
                        **_errors(401, 404),
                    },
                }
            },
            "/stats": {
                "get": {
                    "summary": "The shop's figures (UTC days), as the owner dashboard shows them",
                    "operationId": "getStats",
                    "parameters": [
                        {
                            "name": name,
                            "in": "query",
                            "required": False,
                            "description": description,
                            "schema": {"type": "number", "minimum": 0, "maximum": 10000},
                        }
                        for name, description in (
                            ("reward_cost", "What one reward costs the shop"),
                            ("basket", "The average spend of a visit"),
                        )
                    ],
                    "responses": {
                        "200": {
                            "description": "Figures",
                            "content": {JSON: {"schema": _ref("Stats")}},
                        },
                        **_errors(401, 422),
                    },
                }
            },
            "/cards/{serial}/redeem": {
                "post": {
                    "summary": "Redeem one due reward: the tier named, else the oldest due",
                    "operationId": "redeemReward",
                    "parameters": [_SERIAL, _IDEMPOTENCY],
                    "requestBody": _REDEEM_BODY,
                    "responses": {
                        **_card_response(200, "The card after redeeming"),
                        **_errors(400, 401, 404, 409, 413, 415, 422),
                    },
                }
            },
        },
    }
