"""What every adapter of an HTTP party has in common: a connection pool and its lifecycle.

Adapters hold an ``httpx.Client``; the population registry, asked on every check, holds a
:class:`KeepAliveHttp` instead (decision 0008)."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import urlsplit

import httpx

from mcqs.idle_connections import closed_by_peer


class _Closable(Protocol):
    def close(self) -> None: ...


class _Lifecycle:
    """``close()``, or the adapter as a context manager, closes its connections."""

    _http: _Closable

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


class HttpAdapter(_Lifecycle):
    """Holds one ``httpx.Client`` (a connection pool), safe to share between threads."""

    _http: httpx.Client

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


class KeepAliveAdapter(_Lifecycle):
    """Holds one :class:`KeepAliveHttp`, safe to share between threads."""

    _http: KeepAliveHttp

    def __init__(self, *, base_url: str, timeout: float, headers: dict[str, str]) -> None:
        self._http = KeepAliveHttp(base_url=base_url, timeout=timeout, headers=headers)


@dataclass(frozen=True)
class Answer:
    status_code: int
    content: bytes

    def json(self) -> Any:
        """The body as JSON; ``ValueError`` when it is not."""
        return json.loads(self.content)


class KeepAliveHttp:
    """GETs to one origin over the standard library's ``http.client``, its connections kept
    open between requests; a fraction of httpx's CPU per request (decision 0008). Safe to
    share between threads: a connection serves one request at a time.

    ``timeout`` bounds connecting and each wait for the party's bytes, as httpx's does. An
    ``https`` URL is verified as httpx verifies it (its CAs, the host name). A
    failure raises ``OSError`` (a timeout, a refused connection, a bad certificate) or
    ``http.client.HTTPException`` (an answer that is not HTTP)."""

    MAX_IDLE = 8

    def __init__(self, *, base_url: str, timeout: float, headers: dict[str, str]) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("base_url must be an http or https URL")
        self._host = url.hostname
        self._port = url.port
        # The same trust as the other adapters' (certifi's CAs, or SSL_CERT_FILE/SSL_CERT_DIR).
        self._tls = httpx.create_ssl_context() if url.scheme == "https" else None
        self._prefix = url.path.rstrip("/")
        self._headers = headers
        self._timeout = timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def get(self, path: str) -> Answer:
        """The answer to ``GET`` of ``path`` (below the base URL's path), whatever its status.

        A kept connection the party has closed meanwhile is not used; one it closes as
        the request goes out is retried once on a new connection (a ``GET`` may be)."""
        while True:
            connection, kept = self._take()
            try:
                connection.request("GET", self._prefix + path, headers=self._headers)
                response = connection.getresponse()
                answer = Answer(response.status, response.read())
            except ConnectionError:
                connection.close()
                if kept:
                    continue
                raise
            except BaseException:
                connection.close()
                raise
            if response.will_close:
                connection.close()
            else:
                self._put_back(connection)
            return answer

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        """An idle connection still open (and ``True``), or a new one. A kept connection
        that the party closed meanwhile is let go (``mcqs.idle_connections``)."""
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                break
            if connection.sock is not None and not closed_by_peer(connection.sock):
                return connection, True
            connection.close()
        if self._tls is None:
            return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout), False
        return http.client.HTTPSConnection(
            self._host, self._port, timeout=self._timeout, context=self._tls
        ), False

    def _put_back(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.MAX_IDLE:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
