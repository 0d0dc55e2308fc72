"""The PIN letter: a one-page PDF staff print and hand to the parent."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import qrcode
from fpdf import FPDF
from fpdf.enums import XPos, YPos

FONT_DIR = Path(__file__).resolve().parent.parent / "assets" / "fonts"
FONT = "DejaVuSans"  # a Unicode TTF shipped in assets/fonts: Łukasz, Nguyễn and Zoë all render
URL_MIN_SIZE = 6.0


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


def _nfc(value: str) -> str:
    # Decomposed accents (e + combining mark) would print as two glyphs side by side.
    return unicodedata.normalize("NFC", value or "")


def _long_date(day: dt.date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _qr_image(url: str):
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2, box_size=8)
    code.add_data(url)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image()


def _steps(letter: PinLetter) -> list[str]:
    open_step = "Open the web address above, or scan the QR code with your phone's camera."
    if letter.pin:
        secret_step = (
            "Enter the PIN printed on this letter"
            + (f" and {letter.patient_name}'s date of birth." if letter.date_of_birth_hint
               else ".")
        )
    else:
        secret_step = (
            "Answer the verification question you agreed with the practice"
            + (f", and enter {letter.patient_name}'s date of birth." if letter.date_of_birth_hint
               else ".")
        )
    return [
        open_step,
        secret_step,
        "Choose your portal login: your email address and a password of your own.",
        "Sign in to the portal to see messages, visits and records.",
    ]


def render_pin_letter(letter: PinLetter) -> bytes:
    """The letter as PDF bytes: practice, patient, PIN, expiry, link, QR code, steps."""
    pdf = FPDF(format="Letter", unit="mm")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title(f"Patient portal invitation - {_nfc(letter.practice_name)}")
    pdf.set_creator("Practice Portal")
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.add_page()
    width = pdf.epw
    line = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}

    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(width, 8, _nfc(letter.practice_name), **line)
    pdf.set_font(FONT, "", 10)
    contact = [part for part in (letter.practice_address, letter.practice_phone,
                                 letter.practice_email) if part]
    if contact:
        pdf.multi_cell(width, 5, _nfc(" · ".join(contact)), **line)
    pdf.cell(width, 5, f"Date: {_long_date(letter.issued_on)}", **line)
    pdf.ln(6)

    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(width, 7, _nfc(f"Patient portal invitation for {letter.patient_name}"), **line)
    pdf.set_font(FONT, "", 11)
    pdf.multi_cell(
        width, 6,
        _nfc(f"You are invited to the patient portal of {letter.practice_name}, where you can "
             f"follow {letter.patient_name}'s care online."),
        **line,
    )
    pdf.ln(4)

    box_top = pdf.get_y()
    qr_size = 42
    text_width = width - qr_size - 8
    if letter.pin:
        pdf.set_font(FONT, "", 11)
        pdf.cell(text_width, 6, "Your PIN", **line)
        pdf.set_font(FONT, "B", 24)
        pdf.cell(text_width, 13, letter.pin, **line)
    else:
        pdf.set_font(FONT, "", 11)
        pdf.cell(text_width, 6, "Your verification question", **line)
        pdf.set_font(FONT, "B", 12)
        pdf.multi_cell(text_width, 6, _nfc(letter.verification_question or ""), **line)
    pdf.set_font(FONT, "", 11)
    if letter.expires_on:
        pdf.cell(text_width, 6, f"Valid until {_long_date(letter.expires_on)}", **line)
    pdf.image(_qr_image(letter.activation_url), x=pdf.l_margin + width - qr_size, y=box_top,
              w=qr_size, h=qr_size)
    pdf.set_y(max(pdf.get_y(), box_top + qr_size) + 4)

    pdf.set_font(FONT, "", 11)
    pdf.cell(width, 6, "Web address", **line)
    # The link stays on one line, so that it can be typed (and extracted) as printed: the font
    # shrinks to fit, and a link longer still may run into the right margin rather than wrap.
    size = 10.0
    pdf.set_font(FONT, "", size)
    while pdf.get_string_width(letter.activation_url) > width and size > URL_MIN_SIZE:
        size -= 0.5
        pdf.set_font(FONT, "", size)
    pdf.cell(width, 6, letter.activation_url, link=letter.activation_url, **line)
    pdf.ln(5)

    pdf.set_font(FONT, "B", 12)
    pdf.cell(width, 7, "How to activate your account", **line)
    pdf.set_font(FONT, "", 11)
    for number, step in enumerate(_steps(letter), start=1):
        pdf.multi_cell(width, 6, _nfc(f"{number}. {step}"), **line)
    pdf.ln(4)
    pdf.set_font(FONT, "", 9)
    notes = [
        "Keep this letter private: anyone with the PIN and the child's details could sign up.",
        "The PIN works once and only until the date above. If it has expired, call us for a "
        "new one.",
    ] if letter.pin else [
        "Keep your answer private. If you cannot answer the question, call us for a PIN.",
    ]
    if letter.practice_phone:
        notes.append(f"Questions? Call {letter.practice_phone}.")
    for note in notes:
        pdf.multi_cell(width, 5, _nfc(note), **line)
    return bytes(pdf.output())
