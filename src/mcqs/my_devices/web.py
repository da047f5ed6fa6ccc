"""The "Mənim cihazlarım" page: for a citizen signed in through e-gov only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from mcqs.applications.lifecycle import PAYABLE
from mcqs.db import utcnow
from mcqs.my_devices.service import records_of
from mcqs.pages import render
from mcqs.principals import CitizenOnly, Db

router = APIRouter()


@router.get("/my-devices", name="my_devices:show")
def my_devices(request: Request, citizen: CitizenOnly, db: Db) -> Response:
    with db.reading() as session:
        records = records_of(session, fin=citizen.fin)
    # An unpaid application still payable can be continued here, from any browser.
    return render(request, "my_devices.html", records=records, payable=PAYABLE, now=utcnow())
