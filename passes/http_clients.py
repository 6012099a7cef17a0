"""What the outbound HTTP clients (APNs in passes/apple, Google Wallet in passes/google) share:
`async with client:` closes its connections on the way out, whatever happened inside."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class HttpClient(ABC):
    """A client holding connections until `aclose`; as an async context manager, closed at exit."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close the connections."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
