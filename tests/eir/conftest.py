"""Fixtures of the EIR tests: an operator with its client, the operator API with a clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from eir_support import DAY0, Api, Client, make_operator

from mcqs.db import Database


@pytest.fixture
def operator(catalogue: Database) -> Client:
    return make_operator(catalogue)


@pytest.fixture
def api(client: Any, operator: Client) -> Api:
    return Api(client, operator)


@pytest.fixture
def at() -> Callable[..., dt.datetime]:
    return lambda **delta: DAY0 + dt.timedelta(**delta)
