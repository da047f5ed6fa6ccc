"""A citizen's browser signing in through the e-gov simulator: our app through TestClient,
the portal's pages over real HTTP (shared by the e-gov tests)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


def portal_form(page: str) -> dict[str, str]:
    """The hidden fields the portal's login page posts back (the authorization request)."""
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def to_portal(client: Any) -> httpx.Response:
    """Press "Portala giriş": our answer, a redirect to the portal's login page."""
    return client.get("/egov/sign-in", follow_redirects=False)


def choose_on_portal(
    http: httpx.Client,
    login_url: str,
    *,
    fin: str,
    means: str = "asan_imza",
    action: str = "sign_in",
) -> str:
    """Choose a citizen and a sign-in means on the portal's page; returns where the portal
    sends the browser back (our callback, with code and state)."""
    page = http.get(login_url)
    assert page.status_code == 200, page.text[:500]
    fields = {**portal_form(page.text), "fin": fin, "means": means, "action": action}
    answer = http.post(httpx.URL(login_url).copy_with(query=None), data=fields)
    assert answer.status_code == 303, answer.text[:500]
    return answer.headers["location"]


def come_back(client: Any, callback_url: str) -> httpx.Response:
    url = httpx.URL(callback_url)
    assert url.host == "testserver", "the portal returns to the redirect URI registered for us"
    return client.get(f"{url.path}?{url.query.decode()}", follow_redirects=False)


def sign_in(
    client: Any, http: httpx.Client, *, fin: str, means: str = "asan_imza"
) -> httpx.Response:
    """The whole sign-in; returns our callback's answer."""
    started = to_portal(client)
    assert started.status_code == 302, started.text[:1000]
    return come_back(
        client, choose_on_portal(http, started.headers["location"], fin=fin, means=means)
    )


def misbehave(http: httpx.Client, simulators: str, **settings: object) -> None:
    answer = http.post(f"{simulators}/egov/sim/misbehave", json=settings)
    assert answer.status_code == 200, answer.text


@contextmanager
def portal_misbehaving(http: httpx.Client, simulators: str, **settings: object) -> Iterator[None]:
    misbehave(http, simulators, **settings)
    try:
        yield
    finally:
        misbehave(http, simulators, id_token="ok", down=False, hang_seconds=30)
