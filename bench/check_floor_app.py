"""The floor under issue 10's check, for ``bench/goals.py --only check``: the database and
registry work the check's rules require, and nothing else, served as ``bench/bare_app.py``
is (``mcqs.cli.serve_factory``, import string ``check_floor_app:create_check_floor_app``).

The rules (``mcqs.applications.web.check``): the guard's transaction (the client's
advisory lock, its hit counted, the security code's try) committed before the population
registry is asked; one question to the registry, no transaction open; then one transaction
(the FİN's lock and hit, the IMEI's refusals with the FİN's open applications and the TAC's
catalogue entry in one statement, the tariff bands with the model's price, the application,
its IMEI). These are the 9 statements and 2 commits that
``tests/applications/test_check_cost.py`` counts, written here by hand and sent by psycopg
alone, prepared on first use, on a connection kept by each thread: no ORM, no SQLAlchemy,
no middleware, no CSRF token, no session, no security code hashed, no validation. A
check that did all of that could be no faster than this on the same machine; its ratio to
the one-select request says how much of the check's cost the rules themselves take.

PostgreSQL only (production's database). psycopg's pipeline mode, which would send a
transaction's statements without waiting for each answer, was tried and measured slower
(its Python costs more than the loopback round trips it saves), so it is not used.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import psycopg
from fastapi import FastAPI, Form
from fastapi.responses import RedirectResponse

from mcqs.config import get_settings
from mcqs.identity.population import PopulationRegistryClient

LIMIT = 1_000_000_000
LOCK = "SELECT pg_advisory_xact_lock(hashtext(%s))"
HIT = (
    "INSERT INTO rate_limit_hits (key, at) SELECT %(key)s::varchar, %(now)s::timestamptz "
    "WHERE (SELECT count(*) "
    "FROM rate_limit_hits WHERE key = %(key)s AND at > %(since)s) < %(limit)s RETURNING id"
)
CODE_TRY = (
    "UPDATE security_codes SET attempts = attempts + 1, used_at = CASE WHEN code_hash = "
    "%(hash)s THEN %(now)s END WHERE id = %(id)s AND used_at IS NULL AND expires_at > %(now)s "
    "AND attempts < 5 RETURNING attempts, used_at"
)
REFUSALS = (
    "SELECT EXISTS (SELECT 1 FROM registration_imeis WHERE imei_norm = %(imei)s AND active), "
    "EXISTS (SELECT 1 FROM blacklisted_imeis WHERE imei_norm = %(imei)s), "
    "(SELECT held_until FROM imei_holds WHERE imei_norm = %(imei)s AND released_at IS NULL "
    "AND (held_until IS NULL OR held_until > %(now)s) LIMIT 1), "
    "(SELECT count(*) FROM applications WHERE fin = %(fin)s "
    "AND status IN ('created', 'awaiting_payment') AND expires_at > %(now)s), "
    "EXISTS (SELECT 1 FROM applications a JOIN application_imeis i ON a.id = i.application_id "
    "WHERE a.fin = %(fin)s AND a.status = 'created' AND i.imei_norm = %(imei)s), "
    "(SELECT brand FROM tac_models WHERE tac = %(tac)s), "
    "(SELECT model FROM tac_models WHERE tac = %(tac)s)"
)
BANDS = (
    "SELECT id, amount_qepik, (SELECT market_value_usd FROM model_prices "
    "WHERE brand_key = %(brand)s AND model_key = %(model)s) FROM tariff_bands "
    "WHERE valid_from <= %(on)s AND (valid_to IS NULL OR valid_to >= %(on)s) ORDER BY id"
)
APPLICATION = (
    "INSERT INTO applications (notification_code, status, channel, fin, id_card, surname, "
    "name, patronymic, address, tac, brand, model, market_value_usd, tariff_band_id, "
    "fee_qepik, created_at, expires_at, language) VALUES (%(code)s, 'created', "
    "'online_anonymous', %(fin)s, %(id_card)s, %(surname)s, %(name)s, %(patronymic)s, "
    "%(address)s, %(tac)s, %(brand)s, %(model)s, %(value)s, %(band)s, %(fee)s, %(now)s, "
    "%(expires)s, 'az') RETURNING id"
)
IMEI = (
    "INSERT INTO application_imeis (application_id, position, imei, imei_norm) "
    "VALUES (%s, 1, %s, %s) RETURNING id"
)


def create_check_floor_app() -> FastAPI:
    settings = get_settings()
    url = settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    registry = PopulationRegistryClient(
        base_url=settings.population_base_url, api_key=settings.population_api_key
    )
    kept = threading.local()

    @contextmanager
    def transaction() -> Iterator[psycopg.Connection]:
        conn = getattr(kept, "conn", None)
        if conn is None:
            conn = kept.conn = psycopg.connect(url, autocommit=True, prepare_threshold=0)
        with conn.transaction():
            yield conn

    app = FastAPI()

    @app.post("/check")
    def check(
        fin: Annotated[str, Form()], imei: Annotated[str, Form()], client: Annotated[str, Form()]
    ) -> RedirectResponse:
        now = dt.datetime.now(dt.UTC)
        since = now - dt.timedelta(hours=1)
        key = f"check:client:{client}"
        with transaction() as conn:
            conn.execute(LOCK, (key,))
            conn.execute(HIT, {"key": key, "now": now, "since": since, "limit": LIMIT}).fetchone()
            code = {"hash": "-", "now": now, "id": secrets.token_hex(16)}
            conn.execute(CODE_TRY, code).fetchone()
        person = registry.get_person(fin)
        if person is None:
            raise RuntimeError(f"the registry does not know {fin}")
        key = f"check:fin:{person.fin}"
        with transaction() as conn:
            conn.execute(LOCK, (key,))
            conn.execute(HIT, {"key": key, "now": now, "since": since, "limit": LIMIT}).fetchone()
            asked = {"imei": imei[:14], "now": now, "fin": person.fin, "tac": imei[:8]}
            refusals = conn.execute(REFUSALS, asked).fetchone()
            assert refusals is not None
            brand, model = refusals[5], refusals[6]
            priced = {"brand": (brand or "").lower(), "model": (model or "").lower()}
            band = conn.execute(BANDS, {**priced, "on": now.date()}).fetchall()[0]
            written = conn.execute(
                APPLICATION,
                {
                    "code": secrets.token_hex(6),
                    "fin": person.fin,
                    "id_card": person.id_card,
                    "surname": person.surname,
                    "name": person.name,
                    "patronymic": person.patronymic,
                    "address": person.address,
                    "tac": imei[:8],
                    "brand": brand,
                    "model": model,
                    "value": band[2],
                    "band": band[0],
                    "fee": band[1],
                    "now": now,
                    "expires": now + dt.timedelta(minutes=30),
                },
            ).fetchone()
            assert written is not None
            conn.execute(IMEI, (written[0], imei, imei[:14])).fetchone()
        return RedirectResponse(f"/application/{written[0]}", status_code=303)

    return app
