"""Choosing the language (az, en, ru) and what follows it: the pages, their error messages,
the application's remembered language and its SMS, GoldenPay's page and the receipt.

Expected words come from the catalogs (``i18n.translations``), never typed here.
"""

from __future__ import annotations

import re
import secrets

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from mcqs import i18n, messages
from mcqs.applications.codes import format_notification_code
from mcqs.applications.models import Application
from mcqs.db import Database
from mcqs_simulators.population.citizens import CITIZENS

from conftest import error_code_of, sms_to

EN, RU = i18n.Language.EN, i18n.Language.RU


def _in(lang: i18n.Language, az_text: str) -> str:
    return i18n.translations(lang).gettext(az_text)


def _html_lang(page: str) -> str:
    found = re.search(r'<html lang="([a-z]+)">', page)
    assert found, "the page names its language"
    return found.group(1)


def _h1(page: str) -> str:
    found = re.search(r"<h1>([^<]*)</h1>", page)
    assert found
    return found.group(1)


def test_lang_in_the_url_sets_the_page_and_sticks(client) -> None:
    home = client.get("/", params={"lang": "ru"})
    assert home.status_code == 200
    assert _html_lang(home.text) == "ru"
    assert _h1(home.text) == _in(RU, "Mobil cihazların qeydiyyatdan keçirilməsi")
    assert "mcqs_lang=ru" in home.headers["set-cookie"]
    # The next page, with no ?lang=, is still Russian: the cookie remembers.
    status = client.get("/status")
    assert _html_lang(status.text) == "ru"
    assert _h1(status.text) == _in(RU, "Ərizənin vəziyyəti")


@pytest.mark.parametrize("where", ["url", "cookie"])
def test_an_unsupported_language_falls_back_to_az_silently(client, where: str) -> None:
    if where == "url":
        page = client.get("/", params={"lang": "xx"})
    else:
        client.cookies.set("mcqs_lang", "de")
        page = client.get("/")
    assert page.status_code == 200
    assert _html_lang(page.text) == "az"
    assert "mcqs_lang=xx" not in page.headers.get("set-cookie", "")


def test_another_cookie_the_stdlib_would_refuse_does_not_hide_the_choice(client) -> None:
    page = client.get("/", headers={"cookie": 'x={"a": 1}; mcqs_lang=en'})
    assert _html_lang(page.text) == "en"


def test_every_page_offers_each_language_named_in_itself(client) -> None:
    page = client.get("/status", params={"code": "ABC", "lang": "en"})
    links = re.findall(r'<a href="([^"]+)" lang="([a-z]+)" hreflang="\2"', page.text)
    assert [lang for _href, lang in links] == ["az", "en", "ru"]
    for href, lang in links:
        # The same page (its query kept) in that language, as a link relative to our host.
        assert href.startswith("/status?") and "code=ABC" in href and f"lang={lang}" in href
    assert 'lang="en" hreflang="en" aria-current="true"' in page.text


def test_errors_follow_the_language_with_the_same_codes(flow, client, demo_imeis) -> None:
    citizen = CITIZENS[0]
    client.get("/", params={"lang": "en"})
    wrong = demo_imeis[0][:-1] + str((int(demo_imeis[0][-1]) + 1) % 10)
    answer = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(wrong,))
    assert answer.status_code == 422
    assert error_code_of(answer.text, "imei_1") == "imei_bad_check_digit"
    assert _in(EN, messages.AZ["imei_bad_check_digit"]) in answer.text
    assert messages.AZ["imei_bad_check_digit"] not in answer.text
    assert _html_lang(answer.text) == "en"


def test_a_missing_page_is_in_the_chosen_language(client) -> None:
    client.get("/", params={"lang": "ru"})
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert _html_lang(page.text) == "ru"
    assert _in(RU, messages.AZ["page_not_found"]) in page.text


def test_the_application_remembers_its_language_and_its_sms_is_in_it(
    flow, client, http, simulators, demo_imeis, run_worker, catalogue: Database
) -> None:
    client.get("/", params={"lang": "ru"})
    number = f"{secrets.randbelow(10**7):07d}"  # the SMS centre's outbox outlives the test
    code = flow.register_and_pay(imeis=(demo_imeis[0],), phone=f"050{number}")
    with catalogue.transaction() as session:
        application = session.scalars(select(Application)).one()
        assert application.language == "ru"
        device = application.device_name

    # The receipt follows the page's language; the worker writes the SMS in the application's.
    receipt = client.get(f"/receipts/{code}")
    assert _h1(receipt.text) == _in(RU, "Ödəniş qəbzi")
    client.get("/", params={"lang": "az"})  # the citizen switched back meanwhile
    assert run_worker() >= 2
    sms = sms_to(http, simulators, f"+99450{number}")
    assert len(sms) == 1
    registered = _in(RU, "{device} cihazınız (İMEİ {imei}) qeydiyyata alındı.")
    expected = _in(RU, "{text} Bildirişin kodu: {code}").format(
        text=registered.format(device=device, imei=demo_imeis[0]),
        code=format_notification_code(code),
    )
    assert sms[0]["text"] == expected


@pytest.mark.parametrize(("lang", "goldenpay_lang"), [("az", "az"), ("en", "en"), ("ru", "ru")])
def test_goldenpay_opens_its_page_in_the_page_language(
    flow, client, http, demo_imeis, lang: str, goldenpay_lang: str
) -> None:
    """GoldenPay is asked with lang=lv (its name for Azerbaijani), en or ru; its page shows in
    that language."""
    client.get("/", params={"lang": lang})
    citizen = CITIZENS[0]
    assert flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],)).is_redirect
    confirmed = flow.confirm()
    assert confirmed.status_code == 303
    pay_page = http.get(confirmed.headers["location"])
    assert _html_lang(pay_page.text) == goldenpay_lang


def test_the_receipt_pdf_follows_the_page_language(flow, client, demo_imeis) -> None:
    """(Its words in each language: tests/receipts/test_pdf.py.)"""
    client.get("/", params={"lang": "en"})
    code = flow.register_and_pay(imeis=(demo_imeis[0],))
    client.get("/", params={"lang": "ru"})
    pdf = client.get(f"/receipts/{code}/pdf")
    assert pdf.status_code == 200
    assert b"/Lang (ru)" in pdf.content  # the document's language, in its metadata


def test_the_database_refuses_a_language_it_does_not_know(db: Database) -> None:
    from factories import create_application

    with db.transaction() as session:
        application_id = create_application(session, imeis=("353932010000039",)).id
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.execute(
            text("UPDATE applications SET language = 'de' WHERE id = :id"), {"id": application_id}
        )
