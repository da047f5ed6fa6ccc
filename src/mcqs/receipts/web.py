"""The receipt (full, for the browser that paid) and its public verification page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from mcqs import i18n
from mcqs.applications.models import Application
from mcqs.applications.service import find_by_notification_code
from mcqs.errors import DomainError
from mcqs.pages import field_errors, may_see, public_url_for, render, state
from mcqs.principals import AnyBrowser, Browser, refuse_another_citizens
from mcqs.receipts.qr import qr_svg
from mcqs.receipts.schemas import CounterParty, ReceiptView, mask_fin, mask_name
from mcqs.receipts.service import counter_of, kept_receipt_pdf, make_receipt_pdf, receipt_view

router = APIRouter()


def _find(request: Request, code: str) -> Application:
    with state(request).db.transaction() as session:
        application = find_by_notification_code(session, code)
        # Made at a counter: the point and agent are printed too (read while here).
        request.state.receipt_counter = counter_of(session, application)
        return application


def _counter(request: Request) -> CounterParty | None:
    return getattr(request.state, "receipt_counter", None)


def _receipt(request: Request, application: Application) -> ReceiptView:
    return receipt_view(
        application, public_url=state(request).settings.public_url, counter=_counter(request)
    )


def _load(request: Request, code: str) -> tuple[Application, ReceiptView]:
    application = _find(request, code)
    return application, _receipt(request, application)


def _load_for(request: Request, principal: Browser, code: str) -> tuple[Application, ReceiptView]:
    """The receipt, as this principal may reach it. Whose it is is checked before the
    receipt is built: another citizen's application, paid or not, answers exactly as a
    code that does not exist."""
    application = _find(request, code)
    refuse_another_citizens(principal, application.fin)
    return application, _receipt(request, application)


@router.get("/receipts/{code}", name="receipts:show")
def show_receipt(request: Request, code: str, principal: AnyBrowser) -> Response:
    application, receipt = _load_for(request, principal, code)
    if not may_see(request, principal, application):
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
def receipt_pdf(request: Request, code: str, principal: AnyBrowser) -> Response:
    application, receipt = _load_for(request, principal, code)
    if not may_see(request, principal, application):
        return RedirectResponse(
            public_url_for(request, "receipts:verify", code=application.notification_code),
            status_code=303,
        )
    # Made the first time it is asked for in this language, then kept: the receipt of record.
    app = state(request)
    language = i18n.current()
    with app.db.transaction() as session:
        pdf = kept_receipt_pdf(session, application.notification_code, language=language)
    if pdf is None:
        pdf = make_receipt_pdf(
            app.db,
            application,
            public_url=app.settings.public_url,
            language=language,
            counter=_counter(request),
        )
    filename = f"qebz-{receipt.notification_code}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/verify/{code}", name="receipts:verify")
def verify_receipt(request: Request, code: str, principal: AnyBrowser) -> Response:
    """Where the receipt's QR code leads: confirms the receipt, personal data masked.

    The same for everyone, signed in or not: it is the paper receipt's public check of
    authenticity (a buyer of a used phone scans it), and shows nobody's data in full."""
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
