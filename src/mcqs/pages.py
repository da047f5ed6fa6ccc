"""What every citizen page shares: templates, the app's state, form errors, the session,
absolute URLs and the CSRF token."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from starlette.datastructures import URL
from starlette.responses import HTMLResponse

from mcqs import i18n, messages
from mcqs.applications.codes import format_notification_code
from mcqs.applications.models import Application, ApplicationStatus
from mcqs.config import Settings
from mcqs.db import Database
from mcqs.errors import DomainError, FormErrors
from mcqs.localtime import format_baku
from mcqs.money import format_azn
from mcqs.principals import (
    Browser,
    SignedInCitizen,
    citizen_in_session,
    is_own,
    staff_in_session,
)
from mcqs.security.limits import ClientLimiter

if TYPE_CHECKING:  # the adapters are built by the app; pages only carry them
    from mcqs.services import Services

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
# Templates change only with a release: not looked at on disk again at every page.
templates.env.auto_reload = False
templates.env.add_extension("jinja2.ext.i18n")
templates.env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
templates.env.filters["azn"] = format_azn
templates.env.filters["code"] = format_notification_code
templates.env.filters["baku"] = format_baku
templates.env.globals["status_text"] = messages.statuses
templates.env.globals["reject_text"] = messages.reject_reasons
templates.env.globals["field_label"] = messages.field_labels
templates.env.globals["method_text"] = messages.payment_methods
templates.env.globals["channel_text"] = messages.channels
templates.env.globals["role_text"] = messages.roles
templates.env.globals["staff_link_text"] = messages.staff_links
i18n.install(templates.env)
# Templates name statuses through the enum, the one list of them, not as repeated strings.
templates.env.globals["Status"] = ApplicationStatus


@pass_context
def _template_url_for(context: Mapping[str, Any], name: str, /, **params: Any) -> str:
    return str(public_url_for(context["request"], name, **params))


# Starlette's url_for would build links from the Host header; ours come from MCQS_PUBLIC_URL.
templates.env.globals["url_for"] = _template_url_for


@dataclass(frozen=True)
class AppState:
    settings: Settings
    db: Database
    services: Services
    return_limiter: ClientLimiter
    security_code_limiter: ClientLimiter
    sign_in_limiter: ClientLimiter
    staff_sign_in_limiter: ClientLimiter


def state(request: Request) -> AppState:
    return request.app.state.mcqs  # type: ignore[no-any-return]


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("errors", {})
    context.setdefault("demo", state(request).settings.env == "demo")
    context.setdefault("csrf_token", csrf_token(request))
    context.setdefault("citizen", citizen_in_session(request))
    context.setdefault("staff", staff_in_session(request))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


class ShownError(str):
    """An error's words, carrying its stable code for the page's ``data-error`` attribute
    (what tests and scripts read, whatever the language)."""

    code: str

    def __new__(cls, text: str, code: str) -> ShownError:
        shown = super().__new__(cls, text)
        shown.code = code
        return shown


def notice_errors(notice: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """A notice another page sent the citizen back with (``?notice=…``), shown at the top of
    the form; only the ones this page expects, so a link cannot put words on our page."""
    if notice not in allowed:
        return {}
    return {"": ShownError(messages.message(notice), notice)}


def field_errors(error: DomainError | FormErrors) -> dict[str, str]:
    """Field name → message, for showing each error next to its field ("" = form-wide)."""
    errors = error.errors if isinstance(error, FormErrors) else [error]
    shown: dict[str, str] = {}
    for item in errors:
        shown.setdefault(item.field or "", ShownError(messages.text(item), item.code))
    return shown


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def public_url_for(request: Request, name: str, /, **params: Any) -> URL:
    """The absolute URL of route ``name``, on MCQS_PUBLIC_URL: a forged Host header must
    never reach a link, a form's action or a redirect."""
    path = request.app.url_path_for(name, **params)
    return URL(state(request).settings.public_url + str(path))


# ---- control characters, refused at the edge ----------------------------------------------

# C0 and C1 controls, NUL included: nobody types them, and PostgreSQL refuses a NUL in text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None


def without_control_characters(value: str) -> str:
    """What was typed, minus the controls: shown back in the field that refused it."""
    return _CONTROL.sub("", value)


def control_character_errors(fields: Mapping[str, str], **shown_at: str) -> dict[str, str]:
    """Field → error for each field holding a control character. ``shown_at`` moves the
    error of a hidden field to the visible field it belongs to."""
    return {
        shown_at.get(name, name): ShownError(
            messages.message("control_characters"), "control_characters"
        )
        for name, value in fields.items()
        if has_control_characters(value)
    }


# ---- the session: CSRF token and the applications this browser may see in full ------------
# The session cookie is signed, not encrypted, and a leaked secret lets anyone write one:
# so it holds only random values (a CSRF token, notification codes), never database ids
# that a forger could count through.


def csrf_token(request: Request) -> str:
    """This session's CSRF token, made on first use; every form posts it back.

    Not made while answering a refused POST that came with no session at all (another
    site's form: the browser kept our SameSite cookie back): a new session then would
    replace the citizen's own, and their application with it."""
    token = request.session.get("csrf")
    if getattr(request.state, "keep_session_as_is", False):
        return token if isinstance(token, str) else ""
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def csrf_valid(request: Request, posted: str) -> bool:
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        request.state.keep_session_as_is = True
        return False
    return hmac.compare_digest(token.encode(), posted.encode())


def csrf_refused() -> dict[str, str]:
    """The form-wide error of a POST without this session's token (another site's form,
    or a session that expired meanwhile)."""
    return {"": ShownError(messages.message("csrf_refused"), "csrf_refused")}


def remember_application(request: Request, notification_code: str) -> None:
    owned = [c for c in request.session.get("applications", []) if c != notification_code]
    request.session["applications"] = [*owned[-9:], notification_code]
    request.session["current"] = notification_code


def owns_application(request: Request, notification_code: str) -> bool:
    return notification_code in request.session.get("applications", [])


def may_see(request: Request, principal: Browser, application: Application) -> bool:
    """Whether this principal may see the application in full (receipt, PDF, the form).

    A signed-in citizen: only applications of their own FİN, from any browser. An
    anonymous browser: the ones it made (kept in its session)."""
    if isinstance(principal, SignedInCitizen):
        return is_own(principal, application.fin)
    return owns_application(request, application.notification_code)


def current_application_code(request: Request) -> str | None:
    value = request.session.get("current")
    return value if isinstance(value, str) else None
