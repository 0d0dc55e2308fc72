"""The PIN letter: a one-page PDF staff print and hand to the parent."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import qrcode
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from services.activation_messages import limited_account_note
from services.i18n import format_long_date, gettext_for

FONT_DIR = Path(__file__).resolve().parent.parent / "assets" / "fonts"
FONT = "DejaVuSans"  # a Unicode TTF shipped in assets/fonts: Łukasz, Nguyễn and Zoë all render
URL_MIN_SIZE = 6.0
LINE = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}  # each cell or paragraph on a line of its own


@dataclass(frozen=True)
class PinLetter:
    """Everything printed on a PIN letter; the PIN exists here only in memory."""

    practice_name: str
    practice_phone: str
    practice_email: str
    practice_address: str
    patient_name: str
    date_of_birth_hint: bool  # the parent is asked for the child's date of birth
    activation_url: str
    expires_on: dt.date | None
    issued_on: dt.date
    pin: str | None = None  # formatted, e.g. 7KQ4M-9TXR2; None for a verification question
    verification_question: str | None = None
    language: str = "en"  # the guardian's preferred language
    limited: bool = False  # a parent's limited account (the child is past the Confidential age)
    own_account: bool = False  # the patient's own invitation (adolescent or young adult)


def _nfc(value: str) -> str:
    # Decomposed accents (e + combining mark) would print as two glyphs side by side.
    return unicodedata.normalize("NFC", value or "")


def _qr_image(url: str):
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, box_size=8)
    code.add_data(url)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image()


def _steps(letter: PinLetter) -> list[str]:
    _ = gettext_for(letter.language)
    child = letter.patient_name
    if letter.own_account:
        secret_step = _("Enter the PIN printed on this letter and your date of birth.")
    elif letter.pin and letter.date_of_birth_hint:
        secret_step = _("Enter the PIN printed on this letter and %(child)s's date of birth.")
    elif letter.pin:
        secret_step = _("Enter the PIN printed on this letter.")
    elif letter.date_of_birth_hint:
        secret_step = _("Answer the verification question you agreed with the practice, and "
                        "enter %(child)s's date of birth.")
    else:
        secret_step = _("Answer the verification question you agreed with the practice.")
    return [
        _("Open the web address above, or scan the QR code with your phone's camera."),
        secret_step % {"child": child},
        _("Choose your portal login: your email address and a password of your own."),
        _("Sign in to the portal to see messages, visits and records."),
    ]


def letter_pdf(*, side: float, top: float, bottom: float) -> FPDF:
    """A blank US Letter PDF with the Unicode font loaded, for a PIN or family letter."""
    pdf = FPDF(format="Letter", unit="mm")
    pdf.set_margins(side, top, side)
    pdf.set_auto_page_break(auto=True, margin=bottom)
    pdf.set_creator("Practice Portal")
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    return pdf


def practice_header(pdf: FPDF, letter: PinLetter, *, compact: bool = False) -> None:
    """The practice's name and contact details and the letter's date, atop a letter's page.

    A family letter prints it a size smaller (``compact``) to leave room for every child.
    """
    _ = gettext_for(letter.language)
    name_size, name_height, text_size, text_height, gap = (
        (15, 7, 9, 4.5, 3) if compact else (16, 8, 10, 5, 6))
    width = pdf.epw
    pdf.set_font(FONT, "B", name_size)
    pdf.multi_cell(width, name_height, _nfc(letter.practice_name), **LINE)
    pdf.set_font(FONT, "", text_size)
    contact = [part for part in (letter.practice_address, letter.practice_phone,
                                 letter.practice_email) if part]
    if contact:
        pdf.multi_cell(width, text_height, _nfc(" · ".join(contact)), **LINE)
    pdf.cell(width, text_height, _("Date: %(date)s")
             % {"date": format_long_date(letter.issued_on, letter.language)}, **LINE)
    pdf.ln(gap)


def render_pin_letter(letter: PinLetter) -> bytes:
    """The letter as PDF bytes: practice, patient, PIN, expiry, link, QR code, steps."""
    _ = gettext_for(letter.language)
    pdf = letter_pdf(side=20, top=18, bottom=18)
    pdf.set_title(_("Patient portal invitation - %(practice)s")
                  % {"practice": _nfc(letter.practice_name)})
    pdf.add_page()
    width = pdf.epw
    practice_header(pdf, letter)

    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(width, 7, _nfc(_("Patient portal invitation for %(child)s")
                                  % {"child": letter.patient_name}), **LINE)
    pdf.set_font(FONT, "", 11)
    intro = (_("You are invited to the patient portal of %(practice)s, in your own name, where "
               "you can follow your own care online.") if letter.own_account else
             _("You are invited to the patient portal of %(practice)s, where you can follow "
               "%(child)s's care online."))
    pdf.multi_cell(width, 6, _nfc(intro % {"practice": letter.practice_name,
                                           "child": letter.patient_name}), **LINE)
    if letter.limited:
        pdf.ln(2)
        pdf.multi_cell(width, 6, _nfc(limited_account_note(letter.patient_name,
                                                           letter.language)), **LINE)
    pdf.ln(4)

    box_top = pdf.get_y()
    qr_size = 42
    text_width = width - qr_size - 8
    if letter.pin:
        pdf.set_font(FONT, "", 11)
        pdf.cell(text_width, 6, _("Your PIN"), **LINE)
        pdf.set_font(FONT, "B", 24)
        pdf.cell(text_width, 13, letter.pin, **LINE)
    else:
        pdf.set_font(FONT, "", 11)
        pdf.cell(text_width, 6, _("Your verification question"), **LINE)
        pdf.set_font(FONT, "B", 12)
        pdf.multi_cell(text_width, 6, _nfc(letter.verification_question or ""), **LINE)
    pdf.set_font(FONT, "", 11)
    if letter.expires_on:
        pdf.cell(text_width, 6, _("Valid until %(date)s")
                 % {"date": format_long_date(letter.expires_on, letter.language)}, **LINE)
    pdf.image(_qr_image(letter.activation_url), x=pdf.l_margin + width - qr_size, y=box_top,
              w=qr_size, h=qr_size)
    pdf.set_y(max(pdf.get_y(), box_top + qr_size) + 4)

    pdf.set_font(FONT, "", 11)
    pdf.cell(width, 6, _("Web address"), **LINE)
    # The link stays on one line, so that it can be typed (and extracted) as printed: the font
    # shrinks to fit, and a link longer still may run into the right margin rather than wrap.
    size = 10.0
    pdf.set_font(FONT, "", size)
    while pdf.get_string_width(letter.activation_url) > width and size > URL_MIN_SIZE:
        size -= 0.5
        pdf.set_font(FONT, "", size)
    pdf.cell(width, 6, letter.activation_url, link=letter.activation_url, **LINE)
    pdf.ln(5)

    pdf.set_font(FONT, "B", 12)
    pdf.cell(width, 7, _("How to activate your account"), **LINE)
    pdf.set_font(FONT, "", 11)
    for number, step in enumerate(_steps(letter), start=1):
        pdf.multi_cell(width, 6, _nfc(f"{number}. {step}"), **LINE)
    pdf.ln(4)
    pdf.set_font(FONT, "", 9)
    notes = [
        _("Keep this letter private: anyone with the PIN and the child's details could sign "
          "up."),
        _("The PIN works once and only until the date above. If it has expired, call us for a "
          "new one."),
    ] if letter.pin else [
        _("Keep your answer private. If you cannot answer the question, call us for a PIN."),
    ]
    if letter.practice_phone:
        notes.append(_("Questions? Call %(phone)s.") % {"phone": letter.practice_phone})
    for note in notes:
        pdf.multi_cell(width, 5, _nfc(note), **LINE)
    return bytes(pdf.output())
