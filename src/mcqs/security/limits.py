"""A per-process limit on how often one client may use a route that costs us an outside
call (GoldenPay's return URL). Kept in memory: it protects this process's threads and
the party behind it, and needs no database write per request — which a flood would turn
into the very load it is meant to stop."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

# Every per-client limit of the site counts uses in a minute, so a refused client may
# always try again within this many seconds (the Retry-After of every 429).
WINDOW_SECONDS = 60


class ClientLimiter:
    def __init__(self, *, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        """Count one use by ``client``; False when it used its share of the window."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits[client]
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 100_000:  # forget idle clients rather than grow for ever
                for key in [k for k, v in self._hits.items() if not v]:
                    del self._hits[key]
            return True
