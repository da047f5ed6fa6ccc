"""Fixtures of the browser tests: one live system per module (migrated SQLite, the demo
catalogue, the app and the simulators on one server, as ``make run``), Debian's Chromium
driven by Playwright, and ``page_on`` for a fresh browser session. Shared steps and
constants: ``steps.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser.steps import TIMEOUT_MS

from conftest import System, skip_or_fail, whole_system

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    """The whole system on its own SQLite database, shared by the module's tests."""
    database = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with whole_system(f"sqlite:///{database / 'mcqs.sqlite3'}") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless; skipped (failed under ``MCQS_REQUIRE_ALL=1``) without it."""
    if not CHROMIUM.exists():
        skip_or_fail("Browser test", "Debian's chromium is not installed (apt-get chromium)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        skip_or_fail("Browser test", "playwright is not installed (pip install -e '.[dev]')")
        raise
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page_on(browser: Any) -> Iterator[Callable[..., Any]]:
    """``page_on(viewport, locale="az-AZ")``: a page in a fresh browser context (its own
    session); a JavaScript error on any of the test's pages fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(viewport: dict[str, int], *, locale: str | None = "az-AZ") -> Any:
        context = browser.new_context(locale=locale, viewport=viewport)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, errors
