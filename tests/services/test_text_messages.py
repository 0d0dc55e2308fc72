"""Texts: the practice named, one 160-character text where possible, the STOP line last."""

from __future__ import annotations

import datetime as dt

import pytest

from services.text_messages import TEXT_LIMIT, render_text, shorten_name

LONGEST = ("Riverside Pediatric and Adolescent Medicine Associates of Greater Springfield "
           "and the Tri-County Area " * 3)[:200]  # Practice.name allows 200 characters


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("pin", ["7KQ4M-9TXR2", None])
@pytest.mark.parametrize("name", ["Sunny Peds", LONGEST])
def test_every_text_names_the_practice_fits_and_ends_with_stop(language, pin, name):
    text = render_text(language=language, kind="invitation", practice_name=name,
                       patient_first_name="Sofía", pin=pin, expires_on=dt.date(2026, 12, 14))
    assert len(text) <= TEXT_LIMIT, text
    assert text.startswith(name[:9])
    assert text.endswith("Reply STOP to opt out" if language == "en"
                         else "Responda STOP para no recibir más mensajes")
    if pin:
        assert pin in text


def test_the_expiry_date_is_dropped_before_the_name_is_shortened():
    full = render_text(language="en", kind="invitation", practice_name="Sunny Peds",
                       patient_first_name="Sofía", pin="7KQ4M-9TXR2",
                       expires_on=dt.date(2026, 12, 14))
    assert "Valid until Dec 14, 2026." in full
    long = render_text(language="en", kind="invitation", practice_name="A" * 40 + " Peds",
                       patient_first_name="Sofía", pin="7KQ4M-9TXR2",
                       expires_on=dt.date(2026, 12, 14))
    assert "Valid until" not in long and "A" * 40 in long


def test_a_placeholder_counts_as_the_pin_it_stands_for():
    text = render_text(language="es", kind="invitation", practice_name=LONGEST,
                       patient_first_name="Sofía", pin="[[PIN]]", pin_length=11)
    assert len(text.replace("[[PIN]]", "7KQ4M-9TXR2")) <= TEXT_LIMIT


def test_names_are_cut_at_a_word_without_a_dangling_connector():
    assert shorten_name("Riverside Pediatric Associates of Springfield", 34) == (
        "Riverside Pediatric Associates")
    assert shorten_name("Sunny Peds", 40) == "Sunny Peds"
    assert shorten_name("W" * 50, 20) == "W" * 20
