"""One exception root for the product; HTTP and CLI map these at the edge."""


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


class Conflict(PassesError):
    """The request is valid but the current state refuses it."""

    def __init__(self, message: str, code: str = "conflict") -> None:
        super().__init__(message)
        self.code = code


class Unauthorized(PassesError):
    """Missing or wrong credentials."""


class Unavailable(PassesError):
    """A resource we depend on (the database) is briefly away; retrying is right."""
