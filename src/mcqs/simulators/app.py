"""The simulators of external parties, mounted together under ``/_sim/<name>/``.

Each is a separate ASGI app speaking its party's real protocol; the core reaches them
only over HTTP through its adapters, exactly as it would reach the real party.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route

from mcqs.config import Settings
from mcqs.simulators.goldenpay.app import create_app as create_goldenpay
from mcqs.simulators.population.app import create_app as create_population
from mcqs.simulators.sms.app import create_app as create_sms


def simulator_mounts(settings: Settings) -> list[Mount]:
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
            ),
        ),
        Mount("/sms", app=create_sms(api_key=settings.sms_api_key)),
    ]


async def _index(_request: object) -> HTMLResponse:
    return HTMLResponse(
        "<h1>MCQS simulators</h1><ul>"
        '<li><a href="population/">Population registry</a></li>'
        '<li><a href="goldenpay/">GoldenPay</a></li>'
        '<li><a href="sms/">SMS centre</a></li></ul>'
    )


def create_simulators_app(settings: Settings) -> Starlette:
    """All simulators in one app, for mounting at ``/_sim`` or serving on their own."""
    return Starlette(routes=[Route("/", _index), *simulator_mounts(settings)])
