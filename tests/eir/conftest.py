"""Fixtures of the EIR tests: an operator with its client, the operator API with a clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from eir_support import DAY0, Api, Client, make_operator

from mcqs.config import Settings
from mcqs.db import Database

from conftest import make_settings


@pytest.fixture
def app_settings(db_url: str, simulators: str) -> Settings:
    """A query per check: these tests read their own writes at once. The snapshot, fresh
    within 2 seconds, is tested on its own (test_snapshot.py)."""
    return make_settings(database_url=db_url, eir_snapshot=False)


@pytest.fixture
def operator(catalogue: Database) -> Client:
    return make_operator(catalogue)


@pytest.fixture
def api(client: Any, operator: Client) -> Api:
    return Api(client, operator)


@pytest.fixture
def at() -> Callable[..., dt.datetime]:
    return lambda **delta: DAY0 + dt.timedelta(**delta)
