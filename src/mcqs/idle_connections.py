"""The one test of a kept connection before it is used again, for every pool of our own
(PostgreSQL's in ``mcqs.db``, the population registry's in ``mcqs.http_adapter``)."""

from __future__ import annotations

import select
import socket


def closed_by_peer(connection: socket.socket | int) -> bool:
    """An idle connection (a socket, or its file descriptor) has nothing to read, unless
    the other side closed it (a restart, a keep-alive timeout, a terminated backend): then
    it reads as ready at once. Instead of a ping, and without waiting."""
    poller = select.poll()
    poller.register(connection, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
