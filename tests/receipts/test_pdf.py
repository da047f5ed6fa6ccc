from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mcqs.receipts.pdf import render_receipt_pdf
from mcqs.receipts.schemas import ReceiptView

OUTPUT_DIR = Path(__file__).resolve().parents[2] / "test-output"


def make_receipt(**overrides: object) -> ReceiptView:
    fields: dict[str, object] = {
        "notification_code": "K7F3-9QDM-2XAB-C",
        "fin": "5ABC1D2",
        "full_name": "Məmmədov Elvin Rəşid oğlu",
        "address": "Bakı şəhəri, Nəsimi rayonu, Şəmsi Bədəlbəyli küçəsi 12",
        "phone": "+994501234567",
        "card_type": "v",
        "masked_card": "422865******8101",
        "imeis": ("490154203237518", "356938035643809"),
        "brand": "Samsung",
        "model": "Galaxy S24",
        "amount_qepik": 2000,
        "paid_at": dt.datetime(2026, 11, 25, 10, 3, tzinfo=dt.UTC),
        "status": "paid",
        "verify_url": "https://mcqs.example.az/qebz/yoxla/K7F39QDM2XABC",
    }
    fields.update(overrides)
    return ReceiptView(**fields)  # type: ignore[arg-type]


def pdf_text(pdf: bytes, tmp_path: Path, require: Callable[[str, str], None]) -> str:
    if shutil.which("pdftotext") is None:
        require("Receipt text checks", "pdftotext (poppler-utils) is not installed")
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    )
    return done.stdout


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


def test_receipt_is_a_one_page_pdf_with_the_font_embedded() -> None:
    pdf = render_receipt_pdf(make_receipt())

    assert pdf.startswith(b"%PDF-")
    assert page_count(pdf) == 1
    assert b"DejaVu" in pdf
    assert b"/FontFile2" in pdf  # the TrueType font itself, not just its name


def test_receipt_text_keeps_azerbaijani_letters(tmp_path: Path, require) -> None:
    text = pdf_text(render_receipt_pdf(make_receipt()), tmp_path, require)

    for expected in (
        "Ödəniş qəbzi",
        "Məmmədov",
        "Rəşid oğlu",
        "ş",
        "ğ",
        "İMEİ",
        "490154203237518",
        "356938035643809",
        "Samsung Galaxy S24",
        "Visa, 422865******8101",
        "K7F3-9QDM-2XAB-C",
        "25.11.2026 14:03",  # 10:03 UTC is 14:03 in Baku
        "https://mcqs.example.az/qebz/yoxla/K7F39QDM2XABC",
    ):
        assert expected in text, expected
    assert re.search(r"20,00\s+AZN", text)  # Azerbaijani writes a decimal comma


@pytest.mark.parametrize(
    ("lang", "moment", "amount"),
    [
        ("en", "25/11/2026 14:03", r"20\.00\s+AZN"),
        ("ru", "25.11.2026 14:03", r"20,00\s+AZN"),
    ],
)
def test_receipt_in_the_language_that_asked_for_it(
    tmp_path: Path, require, lang: str, moment: str, amount: str
) -> None:
    from mcqs import i18n
    from mcqs.receipts.pdf import CODE_LABEL, TITLE

    with i18n.language(lang):
        pdf = render_receipt_pdf(make_receipt())
    text = pdf_text(pdf, tmp_path, require)
    catalog = i18n.translations(i18n.Language(lang))
    for label in (TITLE, CODE_LABEL, "Məbləğ", "Tarix və vaxt"):
        assert catalog.gettext(label) in text, label
    assert "Ödəniş qəbzi" not in text
    assert moment in text
    assert re.search(amount, text)
    assert f"/Lang ({lang})".encode() in pdf


def test_one_imei_is_labelled_without_a_number(tmp_path: Path, require) -> None:
    receipt = make_receipt(imeis=("490154203237518",), card_type="m", masked_card=None)
    text = pdf_text(render_receipt_pdf(receipt), tmp_path, require)

    assert re.search(r"İMEİ\s+490154203237518", text)
    assert "İMEİ 1" not in text
    assert "MasterCard" in text


def test_four_imeis_and_a_long_name_still_fit_one_page() -> None:
    receipt = make_receipt(
        full_name="Əliyeva-Hüseynzadə Gülşən Ağaəli qızı " * 3,
        imeis=("490154203237518",) * 4,
    )
    assert page_count(render_receipt_pdf(receipt)) == 1


def test_same_receipt_renders_to_the_same_bytes() -> None:
    assert render_receipt_pdf(make_receipt()) == render_receipt_pdf(make_receipt())


def test_receipt_metadata(tmp_path: Path, require) -> None:
    if shutil.which("pdfinfo") is None:
        require("Receipt metadata check", "pdfinfo (poppler-utils) is not installed")
    path = tmp_path / "receipt.pdf"
    path.write_bytes(render_receipt_pdf(make_receipt()))
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True)

    assert "Ödəniş qəbzi K7F3-9QDM-2XAB-C" in info.stdout
    assert "Pages:           1" in info.stdout


def test_receipt_qr_code_on_paper_opens_the_verification_page(require) -> None:
    """The printed QR code decodes to the verify URL. Also leaves test-output/receipt.png
    for a person to look at the layout."""
    if shutil.which("pdftoppm") is None:
        require("Receipt picture", "pdftoppm (poppler-utils) is not installed")
    OUTPUT_DIR.mkdir(exist_ok=True)
    pdf_path = OUTPUT_DIR / "receipt.pdf"
    pdf_path.write_bytes(render_receipt_pdf(make_receipt()))
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "100",
            "-singlefile",
            str(pdf_path),
            str(OUTPUT_DIR / "receipt"),
        ],
        check=True,
    )
    import zxingcpp
    from PIL import Image

    page = Image.open(OUTPUT_DIR / "receipt.png")
    decoded = [barcode.text for barcode in zxingcpp.read_barcodes(page)]
    assert decoded == [make_receipt().verify_url]


def test_receipt_view_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="card type"):
        make_receipt(card_type="x")
    with pytest.raises(ValueError, match="timezone"):
        make_receipt(paid_at=dt.datetime(2026, 11, 25, 10, 3))
    receipt = make_receipt()
    assert receipt.card_type_label == "Visa"
    assert dataclasses.replace(receipt, card_type="m").card_type_label == "MasterCard"
    assert receipt.paid_at_local.hour == 14


def test_a_receipts_pdf_is_made_once_and_kept_as_the_receipt_of_record(
    db, demo_imeis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request makes the PDF and keeps it, per (notification code, language); later
    ones are served the kept bytes, which are exactly what the payment's receipt renders to
    (same code, amount, card, time and QR code)."""
    from sqlalchemy import select

    from mcqs.applications.service import find_by_notification_code
    from mcqs.receipts import service
    from mcqs.receipts.models import ReceiptDocument

    from factories import create_paid_application

    public_url = "https://mcqs.example.az"
    with db.transaction() as session:
        code = create_paid_application(session, imeis=(demo_imeis[0],)).notification_code
    with db.transaction() as session:
        application = find_by_notification_code(session, code)
        assert service.kept_receipt_pdf(session, code) is None
    first = service.make_receipt_pdf(db, application, public_url=public_url)
    assert first == render_receipt_pdf(service.receipt_view(application, public_url=public_url))

    def not_again(receipt: ReceiptView) -> bytes:
        raise AssertionError("the receipt was made a second time")

    monkeypatch.setattr(service, "render_receipt_pdf", not_again)
    with db.transaction() as session:
        assert service.kept_receipt_pdf(session, code) == first
        assert service.kept_receipt_pdf(session, code, language="en") is None
        kept = session.execute(
            select(ReceiptDocument.notification_code, ReceiptDocument.language)
        ).all()
    assert kept == [(code, "az")]


def test_two_browsers_making_one_receipt_at_once_are_sent_the_one_kept(
    db, demo_imeis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second to make it finds the first one's kept: both get the kept bytes."""
    from sqlalchemy import select

    from mcqs.applications.service import find_by_notification_code
    from mcqs.receipts import service
    from mcqs.receipts.models import ReceiptDocument

    from factories import create_paid_application

    with db.transaction() as session:
        code = create_paid_application(session, imeis=(demo_imeis[0],)).notification_code
    with db.transaction() as session:
        application = find_by_notification_code(session, code)
    first = service.make_receipt_pdf(db, application, public_url="https://mcqs.example.az")
    monkeypatch.setattr(
        service, "render_receipt_pdf", lambda receipt, layout="a4": b"%PDF-made again"
    )
    again = service.make_receipt_pdf(db, application, public_url="https://mcqs.example.az")
    assert again == first
    with db.transaction() as session:
        assert len(session.scalars(select(ReceiptDocument)).all()) == 1
