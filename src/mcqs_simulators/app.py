"""The simulators of external parties, mounted together under ``/_sim/<name>/``.

Each is a separate ASGI app speaking its party's real protocol; the core reaches them
only over HTTP through its adapters, exactly as it would reach the real party. They read
MCQS's settings (merchant name, keys, return URLs) so both sides agree; MCQS never
imports them.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcqs.config import Settings, get_settings
from mcqs.eir.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from mcqs_simulators.config import SimulatorSettings
from mcqs_simulators.egov.app import RegisteredClient
from mcqs_simulators.egov.app import create_app as create_egov
from mcqs_simulators.goldenpay.app import DELAYABLE_CALLS
from mcqs_simulators.goldenpay.app import create_app as create_goldenpay
from mcqs_simulators.operator.app import create_app as create_operator
from mcqs_simulators.population.app import create_app as create_population
from mcqs_simulators.sms.app import create_app as create_sms


def simulator_mounts(
    settings: Settings, *, state_dir: Path | None, goldenpay_latency_seconds: float = 0.0
) -> list[Mount]:
    return [
        Mount("/population", app=create_population(api_key=settings.population_api_key)),
        Mount(
            "/goldenpay",
            app=create_goldenpay(
                merchant_name=settings.goldenpay_merchant_name,
                auth_key=settings.goldenpay_auth_key,
                success_url=f"{settings.public_url}/payments/goldenpay/success",
                failure_url=f"{settings.public_url}/payments/goldenpay/failure",
                session_minutes=settings.payment_session_minutes,
                state_dir=state_dir,
                latency_seconds=dict.fromkeys(DELAYABLE_CALLS, goldenpay_latency_seconds),
            ),
        ),
        Mount("/sms", app=create_sms(api_key=settings.sms_api_key, state_dir=state_dir)),
        Mount(
            "/egov",
            app=create_egov(
                # The issuer is where MCQS was told the portal is: the demo's /_sim/egov, or
                # the tests' simulator port.
                issuer=settings.egov_issuer_hint,
                clients=[
                    RegisteredClient(
                        client_id=settings.egov_client_id,
                        client_secret=settings.egov_client_secret,
                        redirect_uris=(f"{settings.public_url}/egov/callback",),
                        post_logout_redirect_uris=(f"{settings.public_url}/egov/signed-out",),
                    )
                ],
                state_dir=state_dir,
            ),
        ),
        Mount(
            "/operator",
            app=create_operator(
                mcqs_url=settings.public_url,
                client_id=DEMO_CLIENT_ID,
                client_secret=DEMO_CLIENT_SECRET,
            ),
        ),
    ]


async def _index(_request: object) -> HTMLResponse:
    return HTMLResponse(
        "<h1>MCQS simulators</h1><ul>"
        '<li><a href="population/">Population registry</a></li>'
        '<li><a href="goldenpay/">GoldenPay</a></li>'
        '<li><a href="sms/">SMS centre</a></li>'
        '<li><a href="egov/.well-known/openid-configuration">E-government portal (OpenID '
        "Connect)</a></li>"
        '<li><a href="operator/">A mobile operator</a></li></ul>'
    )


def create_simulators_app(
    settings: Settings, *, state_dir: Path | None, goldenpay_latency_seconds: float = 0.0
) -> Starlette:
    """All simulators in one app, for mounting at ``/_sim`` or serving on their own.

    ``state_dir``: where they keep their state (None: in memory, one process only).
    """
    mounts = simulator_mounts(
        settings, state_dir=state_dir, goldenpay_latency_seconds=goldenpay_latency_seconds
    )
    return Starlette(
        routes=[Route("/", _index), *mounts],
        middleware=[Middleware(OwnPolicy)],
    )


def create_simulators_alone() -> Starlette:
    """The factory of the simulators served in a process of their own
    (``mcqs_simulators.app:create_simulators_alone``), as the real parties are on machines
    of their own: MCQS's settings from the environment (its ``MCQS_PUBLIC_URL`` for the
    return URLs), the simulators' own (``MCQS_SIM_…``) for their state."""
    own = SimulatorSettings()
    return create_simulators_app(
        get_settings(),
        state_dir=own.state_dir,
        goldenpay_latency_seconds=own.goldenpay_latency_seconds,
    )


class OwnPolicy:
    """The simulators' pages have inline styles; MCQS's strict policy (which the demo's outer
    app adds to answers that have none) is for MCQS's own pages. A plain ASGI middleware:
    Starlette's ``BaseHTTPMiddleware`` runs every request through a task and a stream."""

    POLICY = "default-src 'self'; style-src 'self' 'unsafe-inline'"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("Content-Security-Policy", self.POLICY)
            await send(message)

        await self.app(scope, receive, send_with_policy)
