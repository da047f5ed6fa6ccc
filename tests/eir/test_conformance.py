"""TS 29.511 conformance: schemathesis drives the running EIR API from 3GPP's own OpenAPI
files (no 5xx, every status code, content type and body as the schema says)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from eir_support import imei, make_operator
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS

from mcqs.db import Database, utcnow
from mcqs.eir.service import mark_registered, report_stolen

from conftest import LiveServer, free_port, make_settings

SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / "3gpp"
EIR_SPEC = SPEC / "TS29511_N5g-eir_EquipmentIdentityCheck.yaml"


def test_the_equipment_status_api_conforms_to_ts_29_511(catalogue: Database, require: Any) -> None:
    if not EIR_SPEC.exists():
        require("the EIR conformance test", f"3GPP's OpenAPI file is not at {EIR_SPEC}")
    from mcqs.app import create_app

    operator = make_operator(catalogue)
    with catalogue.transaction() as session:
        mark_registered(session, [imei(1)[:14]], now=utcnow())
        report_stolen(session, imei_norm=imei(2)[:14], source="cli", now=utcnow())
    port = free_port()
    app_settings = make_settings(
        database_url=catalogue.engine.url.render_as_string(hide_password=False),
        public_url=f"http://127.0.0.1:{port}",
    )
    schema = schemathesis.openapi.from_path(EIR_SPEC)
    operation = schema["/equipment-status"]["GET"]
    # Every PEI pattern alternative ends in ".+": any string is schema-valid, while
    # TS 23.003 (and we) refuse what is not an IMEI with 400, as the API allows.
    excluded = [check for check in CHECKS.get_all() if check.__name__ == "positive_data_acceptance"]
    with LiveServer(create_app(app_settings, db=catalogue), port) as server:
        token = httpx.post(
            f"{server.url}/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": operator.client_id,
                "client_secret": operator.client_secret,
                "scope": "n5g-eir-eic",
            },
        ).json()["access_token"]
        base_url = f"{server.url}/n5g-eir-eic/v1"

        @given(case=operation.as_strategy())
        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def conforms(case: Any) -> None:
            case.call_and_validate(
                base_url=base_url,
                headers={"Authorization": f"Bearer {token}"},
                excluded_checks=excluded,
            )

        conforms()
        # Known, stolen and unknown equipment, and no token: each answer as the schema says.
        for pei, status, headers in (
            (imei(1), 200, {"Authorization": f"Bearer {token}"}),
            (imei(2), 200, {"Authorization": f"Bearer {token}"}),
            (imei(3), 404, {"Authorization": f"Bearer {token}"}),
            (imei(1), 401, {}),
        ):
            case = operation.Case(query={"pei": f"imei-{pei}"})
            answer = case.call_and_validate(
                base_url=base_url, headers=headers, excluded_checks=excluded
            )
            assert answer.status_code == status


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
