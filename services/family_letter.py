"""The family letter: one page per family listing each child's name with its own PIN, expiry,
web address and QR code. Register Patient prints one for siblings registered together; bulk
invitations print one PDF with a page per family. Each page is in its family's language (the
guardian's preferred language, carried by each PinLetter), through the gettext catalog.

    pdf_bytes = render_family_letters([[letter_for_ana, letter_for_sam], [letter_for_lee]])
"""

from __future__ import annotations

from fpdf import FPDF

from services.activation_messages import limited_account_note
from services.i18n import format_long_date, gettext_for
from services.letters import (
    FONT,
    LINE,
    PinLetter,
    _nfc,
    _qr_image,
    letter_pdf,
    practice_header,
)

QR_SIZE = 30
URL_MIN_SIZE = 5.5


def _header(pdf: FPDF, first: PinLetter, children: list[PinLetter]) -> None:
    _ = gettext_for(first.language)
    width = pdf.epw
    practice_header(pdf, first, compact=True)
    names = ", ".join(child.patient_name for child in children)
    title = (_("Patient portal invitation for %(child)s") % {"child": names}
             if len(children) == 1 else
             _("Patient portal invitations for %(count)s children: %(names)s")
             % {"count": len(children), "names": names})
    pdf.set_font(FONT, "B", 12)
    pdf.multi_cell(width, 6, _nfc(title), **LINE)
    pdf.set_font(FONT, "", 9.5)
    pdf.multi_cell(
        width, 5,
        _nfc(_("Each child has a PIN of their own. Open the web address or scan the QR code "
               "next to a child's name, enter that child's PIN and date of birth, and choose "
               "your login; for the next child, sign in with the same login (I already have an "
               "account) and enter that child's PIN.")),
        **LINE,
    )
    pdf.ln(2)


def _child(pdf: FPDF, child: PinLetter) -> None:
    _ = gettext_for(child.language)
    width = pdf.epw
    top = pdf.get_y()
    text_width = width - QR_SIZE - 6
    pdf.set_font(FONT, "B", 11)
    pdf.cell(text_width, 6, _nfc(child.patient_name), **LINE)
    if child.pin:
        pdf.set_font(FONT, "", 9)
        pdf.cell(22, 7, _("PIN"))
        pdf.set_font(FONT, "B", 18)
        pdf.cell(text_width - 22, 7, child.pin, **LINE)
    else:
        pdf.set_font(FONT, "", 9)
        pdf.multi_cell(text_width, 5, _nfc(_("Verification question: %(question)s")
                                           % {"question": child.verification_question or ""}),
                       **LINE)
    pdf.set_font(FONT, "", 9)
    if child.expires_on:
        valid_until = format_long_date(child.expires_on, child.language)
        pdf.cell(text_width, 5, _("Valid until %(date)s") % {"date": valid_until}, **LINE)
    size = 8.0
    pdf.set_font(FONT, "", size)
    while pdf.get_string_width(child.activation_url) > text_width and size > URL_MIN_SIZE:
        size -= 0.5
        pdf.set_font(FONT, "", size)
    pdf.cell(text_width, 5, child.activation_url, link=child.activation_url, **LINE)
    if child.limited:
        pdf.set_font(FONT, "", 8)
        pdf.multi_cell(text_width, 4, _nfc(limited_account_note(child.patient_name,
                                                                child.language)), **LINE)
    pdf.image(_qr_image(child.activation_url), x=pdf.l_margin + width - QR_SIZE, y=top,
              w=QR_SIZE, h=QR_SIZE)
    pdf.set_y(max(pdf.get_y(), top + QR_SIZE) + 3)
    pdf.set_draw_color(200, 200, 200)
    pdf.line(pdf.l_margin, pdf.get_y() - 1.5, pdf.l_margin + width, pdf.get_y() - 1.5)


def _footer(pdf: FPDF, first: PinLetter) -> None:
    _ = gettext_for(first.language)
    pdf.ln(1)
    pdf.set_font(FONT, "", 8.5)
    notes = [_("Keep this letter private: anyone with a PIN and the child's details could sign "
               "up. Each PIN works once and only until the date beside it.")]
    if first.practice_phone:
        notes.append(_("Questions, or a PIN expired? Call %(phone)s.")
                     % {"phone": first.practice_phone})
    for note in notes:
        pdf.multi_cell(pdf.epw, 4.5, _nfc(note), **LINE)


def render_family_letters(families: list[list[PinLetter]]) -> bytes:
    """One PDF, one page per family (a family of many children runs onto further pages)."""
    pdf = letter_pdf(side=18, top=15, bottom=12)
    first_family = next((family for family in families if family), None)
    if first_family:
        # One title for the whole file: in the families' language when they share one.
        languages = {family[0].language for family in families if family}
        _ = gettext_for(languages.pop() if len(languages) == 1 else "en")
        pdf.set_title(_("Patient portal invitations - %(practice)s")
                      % {"practice": _nfc(first_family[0].practice_name)})
    for family in families:
        if not family:
            continue
        pdf.add_page()
        _header(pdf, family[0], family)
        for child in family:
            if pdf.get_y() + QR_SIZE + 4 > pdf.page_break_trigger:
                pdf.add_page()
            _child(pdf, child)
        _footer(pdf, family[0])
    if not first_family:
        pdf.add_page()
        pdf.set_font(FONT, "", 11)
        pdf.cell(pdf.epw, 8, "No letters: nobody was registered.", **LINE)
    return bytes(pdf.output())
