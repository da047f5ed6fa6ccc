"""Where GoldenPay sends the citizen's browser back (success and failure URLs).

The return is unsigned: it only names a payment key, and the result call decides."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from mcqs.applications.models import ApplicationStatus
from mcqs.errors import DomainError, ExternalServiceError
from mcqs.pages import field_errors, now, owns_application, render, state
from mcqs.payments.service import record_return, settle_payment

router = APIRouter(prefix="/payments/goldenpay")

DECIDED_OR_PAID = (
    ApplicationStatus.PAID,
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.REGISTERED,
    ApplicationStatus.REJECTED,
)


def _came_back(request: Request, payment_key: str, outcome: str) -> Response:
    app = state(request)
    payment_key = payment_key.strip()
    with app.db.transaction() as session:
        record_return(session, payment_key=payment_key, outcome=outcome)
    try:
        with app.db.transaction() as session:
            application = settle_payment(
                session, goldenpay=app.services.goldenpay, payment_key=payment_key, now=now()
            )
    except ExternalServiceError as error:
        # The worker settles it later; nothing is lost.
        return render(request, "payment_pending.html", status_code=503, errors=field_errors(error))
    except DomainError as error:
        return render(
            request,
            "error.html",
            status_code=error.status_code,
            message=" ".join(field_errors(error).values()),
        )
    if application.status in DECIDED_OR_PAID:
        if owns_application(request, application.id):
            target = request.url_for("receipts:show", code=application.notification_code)
        else:
            target = request.url_for("receipts:verify", code=application.notification_code)
        return RedirectResponse(target, status_code=303)
    if application.status == ApplicationStatus.AWAITING_PAYMENT and not any(
        p.status == "pending" for p in application.payments
    ):
        if owns_application(request, application.id):
            url = request.url_for("applications:form").include_query_params(notice="payment_failed")
            return RedirectResponse(url, status_code=303)
        return render(
            request,
            "error.html",
            status_code=402,
            message=field_errors(DomainError("payment_failed"))[""],
        )
    if application.status == ApplicationStatus.EXPIRED:
        return render(
            request,
            "error.html",
            status_code=410,
            message=field_errors(DomainError("application_expired"))[""],
        )
    return render(request, "payment_pending.html", status_code=202, errors={})


@router.get("/success", name="payments:goldenpay_success")
def goldenpay_success(request: Request, payment_key: str = "") -> Response:
    return _came_back(request, payment_key, "success")


@router.get("/failure", name="payments:goldenpay_failure")
def goldenpay_failure(request: Request, payment_key: str = "") -> Response:
    return _came_back(request, payment_key, "failure")
