"""The page's language: Azerbaijani (the source), English or Russian.

Texts are written in Azerbaijani in the code and templates (the msgids) and translated
through the Babel catalogs in ``locale/<lang>/LC_MESSAGES/messages.po``
(docs/translating.md). The language of what is being made now (a page, a PDF, an SMS)
is a context variable: the web sets it per request from ``?lang=`` or the cookie, the
worker sets it to an application's language while it writes that application's SMS.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from functools import cache
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment
from starlette.datastructures import MutableHeaders
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Language(StrEnum):
    AZ = "az"
    EN = "en"
    RU = "ru"


DEFAULT = Language.AZ
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
COOKIE = "mcqs_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

# Each language's name in itself, for the switcher.
NAMES: dict[Language, str] = {
    Language.AZ: "Azərbaycanca",
    Language.EN: "English",
    Language.RU: "Русский",
}
# Babel's locale for formatting dates and numbers. English uses the British conventions:
# day before month (29/11/2026), as everyone else in the country reads a date.
_BABEL_LOCALES: dict[Language, str] = {
    Language.AZ: "az",
    Language.EN: "en_GB",
    Language.RU: "ru",
}

_current: ContextVar[Language] = ContextVar("mcqs_language", default=DEFAULT)


def parse_language(value: str | None) -> Language | None:
    """A supported language code, or None (anything else is ignored, never an error)."""
    try:
        return Language((value or "").strip().lower())
    except ValueError:
        return None


def current() -> Language:
    return _current.get()


@contextmanager
def language(lang: str) -> Iterator[Language]:
    """Make texts in ``lang`` (az when unsupported) inside the block."""
    token = _current.set(parse_language(lang) or DEFAULT)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


# ---- catalogs -----------------------------------------------------------------------------


@cache
def translations(lang: Language) -> NullTranslations:
    """The catalog of ``lang``, compiled in memory from its .po file on first use.

    Compiled at load rather than shipping .mo files: there is no build step that could be
    forgotten, so a .mo can never be stale against its .po (a few ms once per process).
    Azerbaijani is the source language: its texts are the msgids themselves."""
    if lang == Language.AZ:
        return NullTranslations()
    path = LOCALE_DIR / lang.value / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=lang.value)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


def gettext(message: str) -> str:
    """``message`` (Azerbaijani) in the current language."""
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark for extraction only"
    """Marks a text for the catalogs where it is defined; it is translated where it is shown."""
    return message


class Translated(Mapping[str, str]):
    """A mapping of codes to Azerbaijani texts, read in the current language."""

    def __init__(self, source: Mapping[str, str]) -> None:
        self._source = source

    def __getitem__(self, key: str) -> str:
        return gettext(self._source[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._source)

    def __len__(self) -> int:
        return len(self._source)


def babel_locale() -> str:
    """Babel's locale for formatting dates and numbers in the current language
    (``localtime.format_baku``, ``money.format_azn``)."""
    return _BABEL_LOCALES[current()]


# ---- the web: choosing the language -------------------------------------------------------


def switch_links(request: Request) -> list[tuple[Language, str, str]]:
    """(language, its name in itself, link) for the switcher: this page with ``lang`` set.

    A relative link (path and query): it never names a host, so a forged Host header
    cannot reach it."""
    # A page shown at a one-time address (the portal's callback) names where the same page
    # is shown again, so that switching its language does not replay the address.
    again = getattr(request.state, "shown_again_at", None)
    url = urlsplit(str(again)) if again is not None else request.url
    params = [(k, v) for k, v in parse_qsl(url.query, keep_blank_values=True) if k != "lang"]
    path = url.path
    return [
        (lang, NAMES[lang], f"{path}?{urlencode([*params, ('lang', lang.value)])}")
        for lang in Language
    ]


def install(env: Environment) -> None:
    """Templates translate with ``{{ _("...") }}`` / ``{% trans %}`` (newstyle gettext:
    autoescaped, ``%(name)s`` filled in), know the page's language (``<html lang>``) and
    can draw the switcher."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["current_language"] = current
    env.globals["language_links"] = switch_links


class LanguageMiddleware:
    """Sets the request's language from ``?lang=`` (remembered in a cookie) or the cookie;
    az when neither names a supported language.

    The context variable is set and not reset: each request runs in its own task (with
    its own copy of the context), and the error pages, rendered outside this middleware,
    must still see it."""

    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        chosen = parse_language(query.get("lang"))
        remembered = parse_language(_cookie(scope))
        _current.set(chosen or remembered or DEFAULT)
        if chosen is None or chosen == remembered:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = SimpleCookie()
                cookie[COOKIE] = chosen.value
                morsel = cookie[COOKIE]
                morsel["path"] = "/"
                morsel["max-age"] = COOKIE_MAX_AGE
                morsel["samesite"] = "Lax"
                morsel["httponly"] = True
                if self.secure:
                    morsel["secure"] = True
                MutableHeaders(scope=message).append("set-cookie", morsel.OutputString())
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _cookie(scope: Scope) -> str | None:
    # Starlette's parser, as browsers read cookies: another site cookie with a character
    # SimpleCookie refuses (a space, JSON) does not hide ours.
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            return cookie_parser(value.decode("latin-1")).get(COOKIE)
    return None
