"""Where GoldenPay sends the citizen's browser back (success and failure URLs).

The return is unsigned: it only names a payment key, and the result call decides."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from mcqs.applications.models import ApplicationStatus
from mcqs.db import utcnow
from mcqs.errors import Conflict, DomainError, ExternalServiceError
from mcqs.pages import field_errors, owns_application, remember_application, render, state
from mcqs.payments.models import PaymentStatus
from mcqs.payments.service import PAID_OR_DECIDED, record_return, settle_payment

router = APIRouter(prefix="/payments/goldenpay")


def _came_back(request: Request, payment_key: str, outcome: str) -> Response:
    app = state(request)
    payment_key = payment_key.strip()
    with app.db.transaction() as session:
        record_return(session, payment_key=payment_key, outcome=outcome)
    try:
        with app.db.transaction() as session:
            application = settle_payment(
                session, goldenpay=app.services.goldenpay, payment_key=payment_key, now=utcnow()
            )
    except ExternalServiceError as error:
        # GoldenPay did not answer: the worker settles the payment later; nothing is lost.
        return render(request, "payment_pending.html", status_code=503, errors=field_errors(error))
    owner = owns_application(request, application.id)
    code = application.notification_code
    if application.status in PAID_OR_DECIDED:
        target = request.url_for("receipts:show" if owner else "receipts:verify", code=code)
        return RedirectResponse(target, status_code=303)
    if application.status == ApplicationStatus.EXPIRED:
        raise Conflict("application_expired")
    if any(p.status == PaymentStatus.PENDING for p in application.payments):
        return render(request, "payment_pending.html", status_code=202, errors={})
    # The payment failed: the citizen may pay again from the application form.
    if not owner:
        raise DomainError("payment_failed", field=None)
    remember_application(request, application.id)
    url = request.url_for("applications:form").include_query_params(notice="payment_failed")
    return RedirectResponse(url, status_code=303)


@router.get("/success", name="payments:goldenpay_success")
def goldenpay_success(request: Request, payment_key: str = "") -> Response:
    return _came_back(request, payment_key, "success")


@router.get("/failure", name="payments:goldenpay_failure")
def goldenpay_failure(request: Request, payment_key: str = "") -> Response:
    return _came_back(request, payment_key, "failure")
