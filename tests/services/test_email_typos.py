"""The "Did you mean …?" hint for mistyped email domains: a hint, never a refusal."""

from __future__ import annotations

import pytest

from services.email_typos import email_hint, suggest_email


@pytest.mark.parametrize(("typed", "meant"), [
    ("ana@gmial.com", "ana@gmail.com"),
    ("ana@yaho.com", "ana@yahoo.com"),
    ("ana@hotmial.com", "ana@hotmail.com"),
    ("ana@outlok.com", "ana@outlook.com"),
    ("ana@gmail.con", "ana@gmail.com"),
    ("Ana.Diaz@GMAIL.CO", "Ana.Diaz@gmail.com"),
    ("ana@icloud.co", "ana@icloud.com"),
])
def test_a_typo_of_a_common_provider_gets_a_suggestion(typed, meant):
    assert suggest_email(typed) == meant
    hint = email_hint(typed)
    assert hint.startswith(f"Did you mean {meant}?") and "used as typed" in hint


@pytest.mark.parametrize("typed", [
    "ana@gmail.com", "ana@mail.com", "ana@example.com", "ana@med.harvard.edu", "ana@kaiser.org",
    "ana@yahoo.es", "", None, "no-at-sign", "@gmial.com",
])
def test_right_or_unrelated_addresses_get_no_hint(typed):
    assert suggest_email(typed) is None and email_hint(typed) is None
