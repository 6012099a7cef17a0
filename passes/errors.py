"""One exception root for the product, and the one table of how each error is answered:
over HTTP (status, code, headers) and on the command line (one line)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from passes import loyalty  # the rules import nothing of ours: no cycle


class PassesError(Exception):
    """Root of every error this product raises on purpose."""


class ConfigError(PassesError):
    """Settings or credentials are unusable; the message names the file and the fix."""


class NotFound(PassesError):
    """The thing asked for does not exist (or belongs to another shop)."""


class UnknownCard(NotFound):
    """No card has this serial (in the caller's shop)."""

    def __init__(self, serial: str, message: str | None = None) -> None:
        super().__init__(message or f"no card {serial!r}")
        self.serial = serial


class InvalidInput(PassesError):
    """A request or command carries values the product cannot accept."""


class RefusedInput(InvalidInput):
    """Values the rules refuse for a reason of their own, told by its code (a 422)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class Conflict(PassesError):
    """The request is valid but the current state refuses it; `params` are values its
    message names (loyalty.Refused.params)."""

    def __init__(
        self, message: str, code: str = "conflict", params: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.params: Mapping[str, object] = params or {}


class Unauthorized(PassesError):
    """Missing or wrong credentials."""


class Forbidden(PassesError):
    """Signed in, but the role may not do this (a `staff` person changing the rules)."""


class Unavailable(PassesError):
    """A resource we depend on (the database) is briefly away; retrying is right."""


class HttpError(PassesError):
    """An error that only exists at the HTTP edge (bad JSON, too large, wrong type)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


# Errors the product raises or lets through from its rules: what the edges catch.
Failure = PassesError | loyalty.Refused
FAILURES = (PassesError, loyalty.Refused)

# The rules' refusals of the values asked for (a 422); their other refusals are the card's
# state saying no (a 409 with the refusal's own code: card_voided, no_reward_due, daily_cap…).
INPUT_REFUSALS = frozenset(
    {
        "invalid_count",
        "invalid_message",
        "unknown_segment",
        "invalid_promotion",
        "invalid_campaign",
        "invalid_perk",
        "invalid_program",
        "invalid_purchase",
        "invalid_purchase_rule",
    }
)
# Refusals of the values asked for that a caller acts on by their own code (a 422 too).
CODED_INPUT_REFUSALS = frozenset({"currency_mismatch"})


def product_error(failure: Failure) -> PassesError:
    """The product's error for a rule's refusal; the product's own errors stay as they are."""
    if isinstance(failure, PassesError):
        return failure
    if failure.code in INPUT_REFUSALS:
        return InvalidInput(str(failure))
    if failure.code in CODED_INPUT_REFUSALS:
        return RefusedInput(str(failure), failure.code)
    return Conflict(str(failure), failure.code, failure.params)


@dataclass(frozen=True)
class Answer:
    """How an error is told over HTTP: {"error": {"code", "message"}} with a status."""

    status: int
    code: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)
    # What the message names, for a page that says it in its own words (Conflict.params).
    params: Mapping[str, object] = field(default_factory=dict)


# Status, code (None: the error's own) and headers, by error type, most specific first.
HTTP_ANSWERS: tuple[tuple[type[PassesError], int, str | None, Mapping[str, str]], ...] = (
    (Unauthorized, 401, "unauthorized", {"WWW-Authenticate": "Bearer"}),
    (Forbidden, 403, "forbidden", {}),
    (NotFound, 404, "not_found", {}),
    (Conflict, 409, None, {}),
    (RefusedInput, 422, None, {}),
    (InvalidInput, 422, "invalid", {}),
    (Unavailable, 503, "unavailable", {"Retry-After": "1"}),
)


def http_answer(failure: Failure) -> Answer:
    """The HTTP answer to `failure`; anything not in the table is a 500 that says nothing."""
    error = product_error(failure)
    if isinstance(error, HttpError):
        return Answer(error.status, error.code, str(error))
    for kind, status, code, headers in HTTP_ANSWERS:
        if isinstance(error, kind):
            own = getattr(error, "code", "error")
            params = getattr(error, "params", {})
            return Answer(status, code or own, str(error), headers, params)
    return Answer(500, "internal", "internal error")


def cli_message(failure: Failure) -> str:
    """What the command line prints for `failure` (one line on stderr, exit status 1)."""
    return str(product_error(failure))
