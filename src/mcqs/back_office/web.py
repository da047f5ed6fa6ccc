"""The back office's refunds page: every refund owed (online and at counters), marked paid
with the bank's or cashier's reference."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from mcqs.back_office.service import mark_refund_paid, refunds
from mcqs.db import utcnow
from mcqs.errors import FormErrors
from mcqs.pages import control_character_errors, field_errors, public_url_for, render, state
from mcqs.principals import StaffMember, staff_member
from mcqs.staff.models import StaffRole

router = APIRouter()

BackOffice = Annotated[StaffMember, Depends(staff_member(StaffRole.BACK_OFFICE, StaffRole.ADMIN))]


def _page(
    request: Request,
    member: StaffMember,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    with state(request).db.reading() as session:
        lines = refunds(session)
    return render(
        request,
        "back_office_refunds.html",
        status_code=status_code,
        member=member,
        lines=lines,
        values=values,
        errors=errors,
    )


@router.get("/back-office/refunds", name="back_office:refunds")
def refunds_page(request: Request, member: BackOffice) -> Response:
    return _page(request, member, values={}, errors={})


@router.post("/back-office/refunds/paid", name="back_office:mark_paid")
def refund_paid(
    request: Request,
    member: BackOffice,
    refund_id: Annotated[str, Form()] = "",
    reference: Annotated[str, Form()] = "",
) -> Response:
    """Mark one refund paid out; a second time is refused, next to that refund's field."""
    field = f"reference-{refund_id}"
    values = {field: reference}
    dirty = control_character_errors({field: reference})
    if dirty or not refund_id.isdigit():
        return _page(request, member, values=values, errors=dirty, status_code=422)
    try:
        with state(request).db.transaction() as session:
            mark_refund_paid(
                session,
                member=member,
                refund_id=int(refund_id),
                reference=reference,
                now=utcnow(),
            )
    except FormErrors as error:
        # Shown next to that refund's reference field, whichever field the error names.
        errors = {field: next(iter(field_errors(error).values()))}
        return _page(
            request,
            member,
            values=values,
            errors=errors,
            status_code=409 if error.errors[0].status_code == 409 else 422,
        )
    return RedirectResponse(public_url_for(request, "back_office:refunds"), status_code=303)
