"""What every citizen page shares: templates, the app's state, form errors, the session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from mcqs import messages
from mcqs.applications.codes import format_notification_code
from mcqs.config import Settings
from mcqs.db import Database
from mcqs.errors import DomainError, FormErrors
from mcqs.localtime import format_baku
from mcqs.money import format_azn
from mcqs.security.limits import ClientLimiter

if TYPE_CHECKING:  # the adapters are built by the app; pages only carry them
    from mcqs.services import Services

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
templates.env.filters["azn"] = format_azn
templates.env.filters["code"] = format_notification_code
templates.env.filters["baku"] = format_baku
templates.env.globals["status_text"] = messages.STATUS_AZ
templates.env.globals["reject_text"] = messages.REJECT_REASONS_AZ


@dataclass(frozen=True)
class AppState:
    settings: Settings
    db: Database
    services: Services
    return_limiter: ClientLimiter


def state(request: Request) -> AppState:
    return request.app.state.mcqs  # type: ignore[no-any-return]


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("errors", {})
    context.setdefault("demo", state(request).settings.env in ("demo", "development"))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


class ShownError(str):
    """An error's words, carrying its stable code for the page's ``data-error`` attribute
    (what tests and scripts read, whatever the language)."""

    code: str

    def __new__(cls, text: str, code: str) -> ShownError:
        shown = super().__new__(cls, text)
        shown.code = code
        return shown


def field_errors(error: DomainError | FormErrors) -> dict[str, str]:
    """Field name → message, for showing each error next to its field ("" = form-wide)."""
    errors = error.errors if isinstance(error, FormErrors) else [error]
    shown: dict[str, str] = {}
    for item in errors:
        shown.setdefault(item.field or "", ShownError(messages.text(item), item.code))
    return shown


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# ---- which applications this browser may see in full ----------------------------------------


def remember_application(request: Request, application_id: int) -> None:
    owned = [i for i in request.session.get("applications", []) if i != application_id]
    request.session["applications"] = [*owned[-9:], application_id]
    request.session["current"] = application_id


def owns_application(request: Request, application_id: int) -> bool:
    return application_id in request.session.get("applications", [])


def current_application_id(request: Request) -> int | None:
    value = request.session.get("current")
    return int(value) if value is not None else None
