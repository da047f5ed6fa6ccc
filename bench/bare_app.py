"""The yardstick for bench/serving.py: a bare FastAPI app doing one PostgreSQL
primary-key select per request, nothing else.

Served exactly as MCQS is (``mcqs.cli.serve_factory``: uvicorn, ``MCQS_WEB_WORKERS``
processes, access log on) from the import string ``bare_app:create_bare_app`` with
``bench/`` on ``PYTHONPATH``. Like MCQS's routes, the route is synchronous (run in the
thread pool) and uses an engine made as MCQS makes its own (``mcqs.db.make_engine``: the
same pool, and no ping before a transaction, decision 0007).
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from sqlalchemy import text

from mcqs.db import make_engine


def create_bare_app() -> FastAPI:
    url = os.environ["MCQS_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = make_engine(url)
    with engine.connect() as conn:
        band_id = conn.execute(text("SELECT min(id) FROM tariff_bands")).scalar_one()
    query = text("SELECT id, amount_qepik FROM tariff_bands WHERE id = :id")
    app = FastAPI()

    @app.get("/item")
    def item() -> dict[str, int]:
        with engine.connect() as conn:
            row = conn.execute(query, {"id": band_id}).one()
        return {"id": row.id, "amount_qepik": row.amount_qepik}

    return app
