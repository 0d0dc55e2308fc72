"""Field validation shared by forms, the CLI and the importer; messages name the field."""

from __future__ import annotations

import zoneinfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from services.errors import InvalidInput


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
    """The number in E.164 (`+16175550123`), or InvalidInput naming `field`."""
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"{field} is empty: enter a cell phone number.", field=field)
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidInput(
            f"{field} {value!r} is not a valid phone number: include the area code, "
            "for example (617) 555-0123.",
            field=field,
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str | None, *, region: str = "US") -> str:
    """A stored E.164 number as people write it (national format at home)."""
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
            f"{field} {value!r} is not an IANA timezone: use a name like America/New_York.",
            field=field,
        ) from None
    return value
