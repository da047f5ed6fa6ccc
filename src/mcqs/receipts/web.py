"""The receipt (full, for the browser that paid) and its public verification page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from mcqs.applications.codes import format_notification_code
from mcqs.applications.models import Application
from mcqs.applications.service import find_by_notification_code
from mcqs.errors import DomainError
from mcqs.pages import field_errors, owns_application, public_url_for, render, state
from mcqs.receipts.qr import qr_svg
from mcqs.receipts.schemas import ReceiptView, mask_fin, mask_name
from mcqs.receipts.service import kept_receipt_pdf, make_receipt_pdf, receipt_view

router = APIRouter()


def _load(request: Request, code: str) -> tuple[Application, ReceiptView]:
    app = state(request)
    with app.db.transaction() as session:
        application = find_by_notification_code(session, code)
    return application, receipt_view(application, public_url=app.settings.public_url)


@router.get("/receipts/{code}", name="receipts:show")
def show_receipt(request: Request, code: str) -> Response:
    application, receipt = _load(request, code)
    if not owns_application(request, application.notification_code):
        # Another browser sees only what the verification page shows.
        return RedirectResponse(
            public_url_for(request, "receipts:verify", code=application.notification_code),
            status_code=303,
        )
    return render(
        request,
        "receipt.html",
        application=application,
        receipt=receipt,
        qr=qr_svg(receipt.verify_url),
    )


@router.get("/receipts/{code}/pdf", name="receipts:pdf")
def receipt_pdf(request: Request, code: str) -> Response:
    app = state(request)
    with app.db.transaction() as session:
        application = find_by_notification_code(session, code)
        owner = owns_application(request, application.notification_code)
        pdf = kept_receipt_pdf(session, application.notification_code) if owner else None
    if not owner:
        return RedirectResponse(
            public_url_for(request, "receipts:verify", code=application.notification_code),
            status_code=303,
        )
    if pdf is None:  # the first time: made now, kept for every later request
        pdf = make_receipt_pdf(app.db, application, public_url=app.settings.public_url)
    filename = f"qebz-{format_notification_code(application.notification_code)}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/verify/{code}", name="receipts:verify")
def verify_receipt(request: Request, code: str) -> Response:
    """Where the receipt's QR code leads: confirms the receipt, personal data masked."""
    try:
        application, receipt = _load(request, code)
    except DomainError as error:
        return render(
            request,
            "verify.html",
            status_code=error.status_code,
            receipt=None,
            errors=field_errors(error),
        )
    return render(
        request,
        "verify.html",
        application=application,
        receipt=receipt,
        masked_fin=mask_fin(receipt.fin),
        masked_name=mask_name(receipt.full_name),
    )
