"""The floor under issue 10's check, for ``bench/goals.py --only check``: the database and
registry work the check's rules require, and little else, served as ``bench/bare_app.py``
is (``mcqs.cli.serve_factory``, import string ``check_floor_app:create_check_floor_app``).

The rules (``mcqs.applications.web.check``): the guard's transaction (the client's
advisory lock, its hit counted, the security code tried and used up) committed before the
population registry is asked; one question to the registry, no transaction open; then one
transaction (the FİN's lock and hit, the IMEI's refusals with the FİN's open applications
and the TAC's catalogue entry in one statement, the tariff bands with the model's price,
the application, its IMEI). These are the 9 statements and 2 commits that
``tests/applications/test_check_cost.py`` counts, the same SQL as the route's written by
hand and sent by psycopg alone, prepared on first use, on a connection kept by each thread;
the band is chosen by the fees' own rule (``_band_of``). Left out: the ORM and SQLAlchemy,
the middleware stack, the CSRF token, the session, the security code's hash, the form's
validation, and the statements a check runs only when an earlier application gives way
(none does here). ``GET /code`` issues a code to try, as the check form's GET does (not
timed). So this is the floor of this design (two transactions, a statement at a time); its
ratio to the one-select request says how much of the check's cost that design takes.

PostgreSQL only (production's database). psycopg's pipeline mode, which would send a
transaction's statements without waiting for each answer, was tried and measured no faster
(its Python costs what the loopback round trips it saves cost), so it is not used.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import psycopg
from fastapi import FastAPI, Form
from fastapi.responses import PlainTextResponse, RedirectResponse
from psycopg.rows import namedtuple_row

from mcqs.config import get_settings
from mcqs.devices.service import listed_device, price_keys
from mcqs.fees.service import _band_of
from mcqs.identity.population import PopulationRegistryClient
from mcqs.security.service import fin_key

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
    "SELECT EXISTS (SELECT 1 FROM registration_imeis WHERE imei_norm = %(imei)s "
    "AND active) AS registered, "
    "EXISTS (SELECT 1 FROM blacklisted_imeis WHERE imei_norm = %(imei)s) AS blacklisted, "
    "EXISTS (SELECT 1 FROM imei_holds WHERE imei_norm = %(imei)s AND released_at IS NULL "
    "AND (held_until IS NULL OR held_until > %(now)s)) AS held, "
    "(SELECT held_until FROM imei_holds WHERE imei_norm = %(imei)s AND released_at IS NULL "
    "AND (held_until IS NULL OR held_until > %(now)s)) AS held_until, "
    "(SELECT count(*) FROM applications WHERE fin = %(fin)s "
    "AND status IN ('created', 'awaiting_payment') AND expires_at > %(now)s) AS open_count, "
    "EXISTS (SELECT 1 FROM applications a JOIN application_imeis i ON a.id = i.application_id "
    "WHERE a.fin = %(fin)s AND a.status = 'created' AND i.imei_norm = %(imei)s) AS gives_way, "
    "(SELECT brand FROM tac_models WHERE tac = %(tac)s) AS brand, "
    "(SELECT model FROM tac_models WHERE tac = %(tac)s) AS model"
)
BANDS = (
    "SELECT id, valid_from, valid_to, code, min_value_usd, max_value_usd, basic_only, "
    "for_unknown_model, amount_qepik, (SELECT market_value_usd FROM model_prices "
    "WHERE brand_key = %(brand_key)s AND model_key = %(model_key)s) AS market_value_usd, "
    "(SELECT is_basic FROM model_prices WHERE brand_key = %(brand_key)s "
    "AND model_key = %(model_key)s) AS is_basic FROM tariff_bands "
    "WHERE valid_from <= %(on)s AND (valid_to IS NULL OR valid_to >= %(on)s)"
)
NEW_CODE = (
    "INSERT INTO security_codes (id, code_hash, created_at, expires_at, attempts) "
    "VALUES (%s, %s, %s, %s, 0)"
)
CODE_HASH = "floor"
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
    "VALUES (%s, 1, %s, %s)"
)


def create_check_floor_app() -> FastAPI:
    settings = get_settings()
    url = settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    registry = PopulationRegistryClient(
        base_url=settings.population_base_url, api_key=settings.population_api_key
    )
    kept = threading.local()

    @contextmanager
    def transaction() -> Iterator[psycopg.Connection[Any]]:
        conn = getattr(kept, "conn", None)
        if conn is None:
            conn = kept.conn = psycopg.connect(
                url, autocommit=True, prepare_threshold=0, row_factory=namedtuple_row
            )
        with conn.transaction():
            yield conn

    window = dt.timedelta(seconds=settings.check_limit_window_seconds)
    app = FastAPI()

    @app.get("/code")
    def code() -> PlainTextResponse:
        """A security code to try, as the check form's GET issues one (not timed)."""
        code_id = secrets.token_hex(16)
        now = dt.datetime.now(dt.UTC)
        with transaction() as conn:
            conn.execute(NEW_CODE, (code_id, CODE_HASH, now, now + dt.timedelta(minutes=10)))
        return PlainTextResponse(code_id)

    @app.post("/check")
    def check(
        fin: Annotated[str, Form()],
        imei: Annotated[str, Form()],
        client: Annotated[str, Form()],
        code_id: Annotated[str, Form()],
    ) -> RedirectResponse:
        now = dt.datetime.now(dt.UTC)
        since = now - window
        key = f"check:client:{client}"
        with transaction() as conn:
            conn.execute(LOCK, (key,))
            conn.execute(HIT, {"key": key, "now": now, "since": since, "limit": LIMIT}).fetchone()
            tried = conn.execute(CODE_TRY, {"hash": CODE_HASH, "now": now, "id": code_id})
            if tried.fetchone() is None:
                raise RuntimeError("the security code was not there to try")
        person = registry.get_person(fin)
        if person is None:
            raise RuntimeError(f"the registry does not know {fin}")
        key = f"check:fin:{person.fin}"
        with transaction() as conn:
            conn.execute(LOCK, (fin_key(person.fin),))
            conn.execute(HIT, {"key": key, "now": now, "since": since, "limit": LIMIT}).fetchone()
            asked = {"imei": imei[:14], "now": now, "fin": person.fin, "tac": imei[:8]}
            refusals = conn.execute(REFUSALS, asked).fetchone()
            assert refusals is not None
            brand, model = refusals.brand, refusals.model
            keys = price_keys(brand, model) if brand is not None and model is not None else {}
            bands = conn.execute(
                BANDS, {"on": now.date(), "brand_key": None, "model_key": None, **keys}
            ).fetchall()
            device = listed_device(
                tac=imei[:8],
                brand=brand,
                model=model,
                market_value_usd=bands[0].market_value_usd,
                is_basic=bands[0].is_basic,
            )
            band = _band_of(bands, device=device, on=now.date())
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
                    "value": device.market_value_usd,
                    "band": band.id,
                    "fee": band.amount_qepik,
                    "now": now,
                    "expires": now + dt.timedelta(minutes=30),
                },
            ).fetchone()
            assert written is not None
            conn.execute(IMEI, (written.id, imei, imei[:14]))
        return RedirectResponse(f"/application/{written.id}", status_code=303)

    return app
