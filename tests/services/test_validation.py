"""Field validation: normalised values, and InvalidInput naming the field otherwise."""

from __future__ import annotations

import pytest

from services.errors import InvalidInput
from services.validation import (
    escape_like,
    format_phone,
    normalize_email,
    normalize_phone,
    validate_timezone,
)


def test_email_is_trimmed_and_its_domain_lower_cased():
    assert normalize_email("  Ana.Rivera@Example.COM ") == "Ana.Rivera@example.com"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty_email_names_the_default_field(value):
    with pytest.raises(InvalidInput) as error:
        normalize_email(value)
    assert error.value.field == "Email Address"
    assert error.value.message.startswith("Email Address is empty")


@pytest.mark.parametrize("value", ["not-an-address", "a@b", "two@@example.com"])
def test_invalid_email_names_the_field_given(value):
    with pytest.raises(InvalidInput) as error:
        normalize_email(value, field="Guardian email")
    assert error.value.field == "Guardian email"
    assert error.value.message.startswith("Guardian email is not valid")


@pytest.mark.parametrize("typed", ["(617) 555-0123", "617.555.0123", "+1 617 555 0123",
                                   " 6175550123 "])
def test_phone_becomes_e164(typed):
    assert normalize_phone(typed) == "+16175550123"


def test_phone_in_another_region_keeps_its_country():
    assert normalize_phone("020 7946 0958", region="GB") == "+442079460958"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_empty_phone_names_the_default_field(value):
    with pytest.raises(InvalidInput) as error:
        normalize_phone(value)
    assert error.value.field == "Text Message"
    assert "is empty" in error.value.message


@pytest.mark.parametrize("value", ["555-0123", "hello", "+1 000 000 0000"])
def test_invalid_phone_names_the_field_and_quotes_the_value(value):
    with pytest.raises(InvalidInput) as error:
        normalize_phone(value, field="Cell phone")
    assert error.value.field == "Cell phone"
    assert f"“{value.strip()}”" in error.value.message
    assert "area code" in error.value.message


def test_format_phone_national_at_home_international_abroad():
    assert format_phone("+16175550123") == "(617) 555-0123"
    assert format_phone("+442079460958") == "+44 20 7946 0958"
    assert format_phone(None) == ""
    assert format_phone("not a number") == "not a number"


def test_escape_like_takes_wildcards_literally():
    assert escape_like("50%_off\\") == "50\\%\\_off\\\\"
    assert escape_like("Rivera") == "Rivera"


def test_timezone_accepts_iana_names_and_names_the_field_otherwise():
    assert validate_timezone(" America/Chicago ") == "America/Chicago"
    for bad in ["", "Mars/Olympus", "EST5EDT/../x"]:
        with pytest.raises(InvalidInput) as error:
            validate_timezone(bad, field="Practice timezone")
        assert error.value.field == "Practice timezone"
        assert "IANA" in error.value.message


@pytest.mark.parametrize(("typed", "problem"), [
    ("(555) 010-2000", "is not a number in use (555 is not an area code)"),
    ("(617) 010-2000", "is not a number in use (area code 617 has no exchange 010)"),
    ("555-0123", "has no area code"),
    ("617555012", "has too few digits"),
    ("61755501234", "has too many digits"),
    ("+99 1234", "has an unknown country code after the +"),
    ("hello", "is not a phone number"),
])
def test_invalid_phone_message_says_exactly_what_is_wrong(typed, problem):
    with pytest.raises(InvalidInput) as error:
        normalize_phone(typed, field="Phone")
    assert error.value.message == (
        f"Phone “{typed}” {problem}: type the whole number with its area code, "
        "for example (617) 555-0123.")


def test_the_example_in_the_message_is_itself_valid():
    assert normalize_phone("(617) 555-0123") == "+16175550123"
