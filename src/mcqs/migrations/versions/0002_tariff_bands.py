"""State duty bands of 2018 and 2023 (fee tariff as effective-dated data)

Revision ID: 0002
Revises: 0001
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (code, min USD, max USD, basic phone only, paid by a model not in the catalogue, AZN)
BANDS_2018 = [
    ("basic", 0, 100, True, True, 20),
    ("upto100", 0, 100, False, False, 30),
    ("101-200", 101, 200, False, False, 50),
    ("201-400", 201, 400, False, False, 60),
    ("401-700", 401, 700, False, False, 70),
    ("701-1000", 701, 1000, False, False, 100),
    ("over1000", 1001, None, False, False, 150),
]
BANDS_2023 = [
    ("basic", 0, 100, True, False, 15),
    ("upto100", 0, 100, False, True, 20),
    ("101-200", 101, 200, False, False, 30),
    ("201-400", 201, 400, False, False, 40),
    ("401-700", 401, 700, False, False, 50),
    ("701-1000", 701, 1000, False, False, 70),
    ("over1000", 1001, None, False, False, 100),
]
PERIODS = [
    (dt.date(2018, 8, 13), dt.date(2023, 12, 13), BANDS_2018),
    (dt.date(2023, 12, 14), None, BANDS_2023),
]

tariff_bands = sa.table(
    "tariff_bands",
    sa.column("valid_from", sa.Date),
    sa.column("valid_to", sa.Date),
    sa.column("code", sa.String),
    sa.column("min_value_usd", sa.Integer),
    sa.column("max_value_usd", sa.Integer),
    sa.column("basic_only", sa.Boolean),
    sa.column("for_unknown_model", sa.Boolean),
    sa.column("amount_qepik", sa.Integer),
)


def upgrade() -> None:
    rows = [
        {
            "valid_from": valid_from,
            "valid_to": valid_to,
            "code": code,
            "min_value_usd": low,
            "max_value_usd": high,
            "basic_only": basic,
            "for_unknown_model": unknown,
            "amount_qepik": azn * 100,
        }
        for valid_from, valid_to, bands in PERIODS
        for code, low, high, basic, unknown, azn in bands
    ]
    op.bulk_insert(tariff_bands, rows)


def downgrade() -> None:
    op.execute(tariff_bands.delete())
