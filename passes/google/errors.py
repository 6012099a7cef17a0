"""Google Wallet API failures, split by what the caller can do about them."""

from __future__ import annotations

from passes.errors import PassesError


class GoogleError(PassesError):
    """A Google Wallet call failed; `retryable` says whether trying later can help."""

    retryable = False

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GoogleUnavailable(GoogleError):
    """Throttled (429), Google's side failed (5xx) or the network did: back off and retry."""

    retryable = True

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class GoogleQuotaExceeded(GoogleUnavailable):
    """Google refused for a quota (403 quotaExceeded and kin): a notifying call goes out again
    silently at once; any other call backs off like a 429 (it is no credentials problem)."""


class GoogleRequestError(GoogleError):
    """Google refused the request itself (4xx): retrying the same request cannot succeed."""

    @property
    def not_found(self) -> bool:
        """The class or object does not exist."""
        return self.status == 404

    @property
    def conflict(self) -> bool:
        """The id is taken already (insert of an existing resource)."""
        return self.status == 409


class GoogleAuthError(GoogleRequestError):
    """Google refused our credentials (the token grant, or 401/403): fix the account, keep the queue."""
