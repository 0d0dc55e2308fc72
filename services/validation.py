"""Field validation shared by forms, the CLI and the importer; messages name the field."""

from __future__ import annotations

import functools
import zoneinfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from services.errors import InvalidInput, quoted


def normalize_email(value: str | None, *, field: str = "Email Address") -> str:
    """The normalised address, or InvalidInput naming `field` (no network check)."""
    value = (value or "").strip()
    if not value:
        raise InvalidInput(
            f"{field} is empty: enter an address such as name@example.com.", field=field
        )
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise InvalidInput(f"{field} is not valid: {error}", field=field) from None


def normalize_phone(value: str | None, *, region: str = "US", field: str = "Text Message") -> str:
    """The number in E.164 (`+16175550123`), or InvalidInput naming `field` and what is wrong."""
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"{field} is empty: enter a cell phone number.", field=field)
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as error:
        unknown_country = error.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE
        problem = ("has an unknown country code after the +" if unknown_country
                   else "is not a phone number")
        raise InvalidInput(_phone_message(field, value, problem, region), field=field) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(_phone_message(field, value, _phone_problem(number), region),
                           field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_LENGTH_PROBLEMS = {
    phonenumbers.ValidationResult.TOO_SHORT: "has too few digits",
    phonenumbers.ValidationResult.TOO_LONG: "has too many digits",
    phonenumbers.ValidationResult.INVALID_LENGTH: "has the wrong number of digits",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "has no area code",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
}


def _phone_problem(number: phonenumbers.PhoneNumber) -> str:
    """Why a parsed number is not valid, as exactly as its digits tell."""
    length = phonenumbers.is_possible_number_with_reason(number)
    if length in _LENGTH_PROBLEMS:
        return _LENGTH_PROBLEMS[length]
    digits = phonenumbers.national_significant_number(number)
    if number.country_code == 1 and len(digits) == 10:
        # North American numbers: area code, exchange, line. 555-01xx is valid wherever the
        # area code is, so it tells a missing area code from a missing exchange.
        area, exchange = digits[:3], digits[3:6]
        probe = phonenumbers.parse(f"+1{area}5550100")
        if not phonenumbers.is_valid_number(probe):
            return f"is not a number in use ({area} is not an area code)"
        return f"is not a number in use (area code {area} has no exchange {exchange})"
    country = phonenumbers.region_code_for_country_code(number.country_code)
    return f"is not a number in use in {country}"


def _phone_message(field: str, value: str, problem: str, region: str) -> str:
    if region == "US":
        example = "(617) 555-0123"
    else:
        example = phonenumbers.format_number(phonenumbers.example_number(region),
                                             phonenumbers.PhoneNumberFormat.NATIONAL)
    return (f"{field} {quoted(value)} {problem}: type the whole number with its area code, "
            f"for example {example}.")


@functools.lru_cache(maxsize=8192)
def format_phone(e164: str | None, *, region: str = "US") -> str:
    """A stored E.164 number as people write it (national format at home).

    Remembered per number: parsing with phonenumbers is about a twentieth of the server's CPU
    when the Dashboard builds a new page of the list (bench/concurrency.py --profile)."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(number) == region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def escape_like(text: str) -> str:
    """`text` with LIKE's wildcards taken literally (use with `escape="\\"`)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def validate_timezone(value: str | None, *, field: str = "Timezone") -> str:
    """An IANA timezone name such as America/Chicago, or InvalidInput."""
    value = (value or "").strip()
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"{field} {quoted(value)} is not an IANA timezone: use a name like America/New_York.",
            field=field,
        ) from None
    return value
