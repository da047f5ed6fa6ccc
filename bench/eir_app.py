"""What bench/eir.py serves: MCQS's own app (``mcqs.app.create_app``) exactly as
``mcqs serve`` builds it, with one extra path, ``/raw``, answered by a minimal raw ASGI
callable before anything of MCQS runs: the ceiling of this server on this machine, measured
in the same processes and the same run as the EIR. Like a check answered by the site's
front door, ``/raw`` is answered outside the site's access log (uvicorn's own is off):
the ceiling is served as the check is."""

from __future__ import annotations

import os
import sys

from starlette.types import ASGIApp, Receive, Scope, Send

_BODY = b'{"status":"WHITELISTED"}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode())]


class RawBeside:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/raw":
            await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
            await send({"type": "http.response.body", "body": _BODY})
            return
        await self.app(scope, receive, send)


def create() -> ASGIApp:
    """The app, once its EIR snapshot is loaded (a file ``ready-<pid>`` says so), so that
    the load measures the snapshot, not the PostgreSQL fallback of the first seconds."""
    from pathlib import Path

    from mcqs.app import create_app

    app = create_app()
    snapshot = app.state.operator_api.state.snapshot
    if snapshot is not None:
        snapshot.start_once()
        snapshot.wait_ready(600)
        Path(f"ready-{os.getpid()}").write_text(str(len(snapshot.entries)))
    return RawBeside(app)


if __name__ == "__main__":
    from mcqs.cli import load_settings, serve_factory

    sys.path.insert(0, os.path.dirname(__file__))
    serve_factory("eir_app:create", load_settings())
