"""The receipt (qəbz) as a one-page A4 PDF.

DejaVu Sans is embedded so that ə ş ç ğ ı ö ü İ Ə (and Cyrillic) print on any viewer. The
PDF's creation date is the payment time, so the same receipt in the same language renders
to the same bytes. Labels are in the current language (the page that asked for it).
"""

from __future__ import annotations

import io
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from mcqs.i18n import N_, current, gettext
from mcqs.localtime import format_baku
from mcqs.money import format_azn
from mcqs.receipts.qr import qr_png
from mcqs.receipts.schemas import ReceiptView

FONT_DIR = Path(__file__).parent / "fonts"
FONT = "DejaVu"

SERVICE_NAME = N_("Mobil cihazların qeydiyyatdan keçirilməsi")
SYSTEM_NAME = N_("Mobil Cihazların Qeydiyyat Sistemi (MCQS)")
TITLE = N_("Ödəniş qəbzi")
CODE_LABEL = N_("Bildirişin kodu")
QR_CAPTION = N_("Qəbzin həqiqiliyini yoxlamaq üçün QR kodu skan edin")

A4 = "a4"
THERMAL = "thermal"
LAYOUTS = (A4, THERMAL)

MARGIN = 20  # mm
LABEL_WIDTH = 60  # mm
QR_SIZE = 45  # mm
DARK = (33, 37, 41)
GREY = (108, 117, 125)
RULE = (206, 212, 218)
LABEL_FILL = (241, 243, 245)


def receipt_rows(receipt: ReceiptView) -> list[tuple[str, str]]:
    """The receipt's (label, value) lines, in print order, in the current language."""
    _ = gettext
    rows = [
        (_(CODE_LABEL), receipt.notification_code),
        (_("FİN"), receipt.fin),
        (_("Soyadı Adı Atasının adı"), receipt.full_name),
        (_("Ödəniş növü"), receipt.payment_text),
    ]
    imei = _("İMEİ")
    if len(receipt.imeis) == 1:
        rows.append((imei, receipt.imeis[0]))
    else:
        rows.extend((f"{imei} {n}", value) for n, value in enumerate(receipt.imeis, start=1))
    if receipt.device_name:
        rows.append((_("Cihaz"), receipt.device_name))
    rows.append((_("Məbləğ"), format_azn(receipt.amount_qepik)))
    rows.append((_("Tarix və vaxt"), format_baku(receipt.paid_at)))
    if receipt.counter is not None:
        point = receipt.counter
        rows.append((_("Qeydiyyat məntəqəsi"), f"{point.point_name} ({point.point_code})"))
        rows.append((_("Ünvan"), point.point_address))
        rows.append((_("Əməkdaş"), point.agent))
    return rows


def _document(receipt: ReceiptView, page_format: str | tuple[float, float]) -> FPDF:
    pdf = FPDF(format=page_format)
    pdf.set_auto_page_break(auto=False)
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(f"{gettext(TITLE)} {receipt.notification_code}")
    pdf.set_subject(gettext(SERVICE_NAME))
    pdf.set_author(gettext(SYSTEM_NAME))
    pdf.set_creator("MCQS")
    pdf.set_lang(current().value)
    pdf.set_creation_date(receipt.paid_at)
    return pdf


def render_receipt_pdf(receipt: ReceiptView, *, layout: str = "a4") -> bytes:
    """The receipt in ``layout``: ``"a4"``, or ``"thermal"`` (an 80 mm roll)."""
    if layout == THERMAL:
        return render_thermal_receipt_pdf(receipt)
    pdf = _document(receipt, "A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.add_page()

    _header(pdf)
    _table(pdf, receipt_rows(receipt))
    _qr_block(pdf, receipt.verify_url)
    return bytes(pdf.output())


def _header(pdf: FPDF) -> None:
    pdf.set_text_color(*GREY)
    pdf.set_font(FONT, size=10)
    pdf.cell(text=gettext(SYSTEM_NAME), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_text_color(*DARK)
    pdf.set_font(FONT, "B", size=22)
    pdf.cell(text=gettext(TITLE), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FONT, size=12)
    pdf.cell(text=gettext(SERVICE_NAME), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_draw_color(*DARK)
    pdf.set_line_width(0.6)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(8)


def _table(pdf: FPDF, rows: list[tuple[str, str]]) -> None:
    pdf.set_font(FONT, size=11)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    value_width = pdf.epw - LABEL_WIDTH
    label_style = FontFace(emphasis="BOLD", color=DARK, fill_color=LABEL_FILL)
    code_style = FontFace(emphasis="BOLD", color=DARK)
    with pdf.table(
        col_widths=(LABEL_WIDTH, value_width),
        width=pdf.epw,
        first_row_as_headings=False,
        line_height=7,
        padding=(1.5, 3),
        text_align=("LEFT", "LEFT"),
    ) as table:
        for label, value in rows:
            row = table.row()
            row.cell(label, style=label_style)
            # The notification code is what the citizen quotes: make it stand out.
            row.cell(value, style=code_style if label == gettext(CODE_LABEL) else None)
    pdf.ln(12)


def _qr_block(pdf: FPDF, verify_url: str) -> None:
    x = (pdf.w - QR_SIZE) / 2
    pdf.image(io.BytesIO(qr_png(verify_url)), x=x, y=pdf.get_y(), w=QR_SIZE, h=QR_SIZE)
    pdf.set_y(pdf.get_y() + QR_SIZE + 3)
    pdf.set_text_color(*DARK)
    pdf.set_font(FONT, size=10)
    pdf.cell(w=pdf.epw, text=gettext(QR_CAPTION), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_text_color(*GREY)
    pdf.set_font(FONT, size=9)
    pdf.multi_cell(w=pdf.epw, text=verify_url, align="C")


# ---- the 80 mm thermal roll of a counter's receipt printer ----------------------------------

THERMAL_WIDTH = 80  # mm: the paper; a 72 mm print area is the usual printer's
THERMAL_MARGIN = 4  # mm
THERMAL_QR = 36  # mm


def render_thermal_receipt_pdf(receipt: ReceiptView) -> bytes:
    """The same lines as the A4 receipt on one page 80 mm wide, as long as they need (the
    printer cuts the roll where the page ends): laid out once to measure, then for real."""
    measured = _thermal(receipt, height=1000)
    return bytes(_thermal(receipt, height=measured.get_y() + THERMAL_MARGIN).output())


def _thermal(receipt: ReceiptView, *, height: float) -> FPDF:
    pdf = _document(receipt, (THERMAL_WIDTH, height))
    pdf.set_margins(THERMAL_MARGIN, THERMAL_MARGIN, THERMAL_MARGIN)
    pdf.add_page()
    pdf.set_text_color(*DARK)
    pdf.set_font(FONT, size=8)
    pdf.multi_cell(w=pdf.epw, text=gettext(SYSTEM_NAME), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)
    pdf.set_font(FONT, "B", size=12)
    pdf.multi_cell(w=pdf.epw, text=gettext(TITLE), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_draw_color(*DARK)
    pdf.set_line_width(0.3)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(2)
    for label, value in receipt_rows(receipt):
        pdf.set_font(FONT, size=7)
        pdf.multi_cell(w=pdf.epw, text=label, new_x="LMARGIN", new_y="NEXT")
        bold = label == gettext(CODE_LABEL)
        pdf.set_font(FONT, "B" if bold else "", size=10 if bold else 8)
        pdf.multi_cell(w=pdf.epw, text=value, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    pdf.ln(1)
    x = (pdf.w - THERMAL_QR) / 2
    pdf.image(io.BytesIO(qr_png(receipt.verify_url)), x=x, y=pdf.get_y(), w=THERMAL_QR)
    pdf.set_y(pdf.get_y() + THERMAL_QR + 1)
    pdf.set_font(FONT, size=7)
    pdf.multi_cell(w=pdf.epw, text=gettext(QR_CAPTION), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(w=pdf.epw, text=receipt.verify_url, align="C", new_x="LMARGIN", new_y="NEXT")
    return pdf
