"""The family letter: each page opens with the same practice header as a PIN letter, in the
family's language, then a child a block."""

from __future__ import annotations

import io

from pypdf import PdfReader

from services.family_letter import render_family_letters
from services.letters import render_pin_letter
from tests.factories import make_pin_letter as letter


def page_lines(pdf: bytes) -> list[list[str]]:
    return [page.extract_text().splitlines() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_a_family_page_opens_with_the_pin_letters_practice_header():
    single = page_lines(render_pin_letter(letter()))[0]
    family = page_lines(render_family_letters([[letter(), letter(patient_name="Sam Smith")]]))[0]

    assert family[:3] == single[:3] == [
        "Sunny Peds", "1 Main Street, Springfield · (555) 010-2000 · desk@sunny.example",
        "Date: June 2, 2025"]
    assert family[3] == "Patient portal invitations for 2 children: Ava Smith, Sam Smith"


def test_a_header_without_contact_details_has_the_name_and_date_only():
    bare = dict(practice_phone="", practice_email="", practice_address="")
    single = page_lines(render_pin_letter(letter(**bare)))[0]
    family = page_lines(render_family_letters([[letter(**bare)]]))[0]

    assert family[:2] == single[:2] == ["Sunny Peds", "Date: June 2, 2025"]


def test_each_family_page_has_its_own_language_and_header():
    pages = page_lines(render_family_letters([
        [letter()], [letter(language="es", patient_name="José García")]]))

    assert [page[0] for page in pages] == ["Sunny Peds", "Sunny Peds"]
    assert pages[0][2] == "Date: June 2, 2025"
    assert pages[1][2] == page_lines(render_pin_letter(letter(language="es")))[0][2]
    assert pages[1][2].startswith("Fecha: ") and "junio" in pages[1][2]
    assert "José García" in "\n".join(pages[1])


def test_no_families_gives_a_page_that_says_so():
    assert page_lines(render_family_letters([]))[0] == ["No letters: nobody was registered."]


def title_of(pdf: bytes) -> str:
    return PdfReader(io.BytesIO(pdf)).metadata.title


def test_a_spanish_family_letter_has_a_spanish_title():
    spanish = [letter(language="es"), letter(language="es", patient_name="José García")]

    assert title_of(render_family_letters([spanish])) == \
        "Invitaciones al portal del paciente - Sunny Peds"
    assert title_of(render_family_letters([[letter()]])) == \
        "Patient portal invitations - Sunny Peds"


def test_a_print_of_families_in_several_languages_is_titled_in_english():
    assert title_of(render_family_letters([[letter(language="es")], [letter()]])) == \
        "Patient portal invitations - Sunny Peds"


def test_a_spanish_pin_letter_has_a_spanish_title():
    assert title_of(render_pin_letter(letter(language="es"))) == \
        "Invitación al portal del paciente - Sunny Peds"
