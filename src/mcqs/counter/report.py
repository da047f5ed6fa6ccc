"""A closed day's cash report as a PDF, made from the lines kept at closing (the CSV): the
same closed day gives the same bytes in the same language, whenever it is downloaded."""

from __future__ import annotations

import csv
import io

from fpdf import FPDF
from fpdf.fonts import FontFace

from mcqs.counter.models import DayClose
from mcqs.i18n import N_, current, gettext
from mcqs.localtime import format_baku
from mcqs.money import format_azn
from mcqs.receipts.pdf import FONT, FONT_DIR, SYSTEM_NAME

TITLE = N_("Günün kassa hesabatı")
METHODS = {"cash": N_("Nağd"), "card_terminal": N_("Kart terminalı")}


def _qepik(amount_azn: str) -> int:
    manat, _, fraction = amount_azn.partition(".")
    return int(manat) * 100 + int(fraction or 0)


def render_day_report_pdf(closed: DayClose, *, point_code: str, point_name: str) -> bytes:
    _ = gettext
    pdf = FPDF(format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_title(f"{_(TITLE)} {point_code} {closed.business_day.isoformat()}")
    pdf.set_creator("MCQS")
    pdf.set_lang(current().value)
    pdf.set_creation_date(closed.closed_at)
    pdf.add_page()
    pdf.set_font(FONT, size=9)
    pdf.cell(text=_(SYSTEM_NAME), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", size=16)
    pdf.cell(text=_(TITLE), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)
    pdf.ln(2)
    for label, value in (
        (_("Qeydiyyat məntəqəsi"), f"{point_name} ({point_code})"),
        (_("Gün"), closed.business_day.isoformat()),
        (_("Bağlanıb"), format_baku(closed.closed_at)),
        (_("Ödənişlər"), str(closed.payments_count)),
        (_("Nağd"), format_azn(closed.cash_qepik)),
        (_("Kart terminalı"), format_azn(closed.card_terminal_qepik)),
        (_("Cəmi"), format_azn(closed.cash_qepik + closed.card_terminal_qepik)),
    ):
        pdf.cell(w=50, text=label)
        pdf.cell(text=value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    rows = list(csv.DictReader(io.StringIO(closed.report_csv)))
    payments = [row for row in rows if row["notification_code"] != "total"]
    pdf.set_font(FONT, size=8)
    heading = FontFace(emphasis="BOLD")
    with pdf.table(
        col_widths=(32, 40, 30, 28, 22, 28),
        first_row_as_headings=True,
        headings_style=heading,
        line_height=5,
    ) as table:
        head = table.row()
        for title in (
            _("Vaxt"),
            _("Bildirişin kodu"),
            _("Ödəniş növü"),
            _("Çek №"),
            _("Məbləğ"),
            _("Əməkdaş"),
        ):
            head.cell(title)
        for row in payments:
            line = table.row()
            line.cell(row["paid_at"][11:16])
            line.cell(row["notification_code"])
            line.cell(_(METHODS.get(row["method"], row["method"])))
            line.cell(row["slip_reference"])
            line.cell(format_azn(_qepik(row["amount_azn"])))
            line.cell(row["agent"])
    return bytes(pdf.output())
