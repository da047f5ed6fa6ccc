"""What every adapter of an HTTP party has in common: one connection pool and its lifecycle."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx


class HttpAdapter:
    """Holds one ``httpx.Client`` (a connection pool), safe to share between threads.

    Call ``close()`` when done, or use the adapter as a context manager.
    """

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
