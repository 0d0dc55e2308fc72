"""The PIN letter: a PDF whose text (name, PIN, link) can be extracted, for any Unicode name."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from services.letters import FONT_DIR, render_pin_letter
from tests.factories import LETTER_URL as URL
from tests.factories import make_pin_letter as letter

NAMES = ["Łukasz Nowak", "Minh Nguyễn", "Siobhán O’Brien", "José García", "Zoë Müller"]


def extract(pdf: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_letter_carries_name_pin_expiry_link_and_steps():
    reader, text = extract(render_pin_letter(letter()))

    assert len(reader.pages) == 1
    assert "Ava Smith" in text
    assert "7KQ4M-9TXR2" in text
    assert URL in text
    assert "Valid until June 16, 2025" in text
    assert "Date: June 2, 2025" in text
    assert "Sunny Peds" in text and "(555) 010-2000" in text
    for number in ("1.", "2.", "3."):
        assert number in text
    assert "date of birth" in text


def test_letter_has_a_qr_code_image_and_a_link_annotation():
    reader, _ = extract(render_pin_letter(letter()))
    page = reader.pages[0]
    assert len(page.images) == 1
    links = [annotation.get_object()["/A"]["/URI"] for annotation in page["/Annots"]]
    assert links == [URL]


@pytest.mark.parametrize("name", NAMES)
def test_every_unicode_name_renders(name):
    _, text = extract(render_pin_letter(letter(patient_name=name)))
    assert f"invitation for {name}" in text
    # The embedded font really has a glyph for each letter (none falls back to a box).
    cmap = TTFont(FONT_DIR / "DejaVuSans.ttf").getBestCmap()
    bold = TTFont(FONT_DIR / "DejaVuSans-Bold.ttf").getBestCmap()
    assert all(ord(ch) in cmap and ord(ch) in bold for ch in name)


def test_decomposed_accents_are_composed_before_printing():
    decomposed = "Zoe\u0308 Nguye\u0302\u0303n"
    _, text = extract(render_pin_letter(letter(patient_name=decomposed)))
    assert "Zoë Nguyễn" in text


def test_the_font_is_embedded_not_a_core_font():
    reader, _ = extract(render_pin_letter(letter()))
    fonts = {font["/BaseFont"] for font in
             (ref.get_object() for ref in reader.pages[0]["/Resources"]["/Font"].values())}
    assert fonts and all("DejaVuSans" in str(font) for font in fonts)


def test_a_long_link_stays_on_one_line():
    long_url = "https://patient-portal.northside-pediatric-associates.example.org/activate" \
               "?practice=123456&token=Qm3x-_Zr8LpA2vN0cT7yWkEe"
    _, text = extract(render_pin_letter(letter(activation_url=long_url)))
    assert long_url in text


def test_question_letter_shows_the_question_and_no_pin():
    _, text = extract(render_pin_letter(letter(pin=None,
                                               verification_question="Name of your first pet?",
                                               date_of_birth_hint=False)))
    assert "Name of your first pet?" in text
    assert "Your PIN" not in text
    assert URL in text


def test_a_spanish_letter_reads_back_in_spanish_with_accents_and_n_tilde():
    pdf = render_pin_letter(letter(language="es", patient_name="Iñaki Muñoz",
                                   practice_name="Pediatría Señorial"))
    reader, text = extract(pdf)
    assert len(reader.pages) == 1
    assert "Invitación al portal del paciente para Iñaki Muñoz" in text
    assert "Pediatría Señorial" in text
    assert "Válido hasta el 16 de junio de 2025" in text
    assert "Fecha: 2 de junio de 2025" in text
    assert "Cómo activar su cuenta" in text
    assert "fecha de nacimiento de Iñaki Muñoz" in " ".join(text.split())
    assert "¿Preguntas? Llame al (555) 010-2000." in text
    assert "7KQ4M-9TXR2" in text and URL in text
    assert "Your PIN" not in text and "How to activate" not in text


def test_an_unknown_language_falls_back_to_english():
    _, text = extract(render_pin_letter(letter(language="xx")))
    assert "How to activate your account" in text


def test_the_spanish_letter_prints_as_a_page_and_is_saved_for_the_docs():
    """Rasterised with PDFium (as a printer driver would): ink on the page, and the picture is
    kept in test-artifacts/screenshots/letter-es.png (copied to docs/screenshots/)."""
    import pypdfium2

    pdf = render_pin_letter(letter(language="es", patient_name="Iñaki Muñoz",
                                   practice_name="Pediatría Señorial"))
    document = pypdfium2.PdfDocument(pdf)
    image = document[0].render(scale=1.5).to_pil().convert("L")
    width, height = image.size
    assert (width, height) == (918, 1188)  # US Letter at 108 dpi
    dark = sum(image.histogram()[:128])
    assert 0.01 < dark / (width * height) < 0.5
    folder = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    image.save(folder / "letter-es.png")
