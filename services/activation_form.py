"""The activation form's checks: bad input raises InvalidInput naming the field, in the
parent's language, before any guess is counted or anything is written."""

from __future__ import annotations

import datetime as dt

from models import EnrollmentMethod
from services.errors import InvalidInput
from services.i18n import DEFAULT_LANGUAGE, gettext_for
from services.passwords import check_password_rules
from services.pins import PIN_LENGTH, normalize_answer, normalize_pin
from services.validation import normalize_email

MIN_PARENT_PASSWORD = 12
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further


def _validate_password(password: str, *, email: str, repeat: str | None, language: str) -> None:
    _ = gettext_for(language)
    values = {"length": MIN_PARENT_PASSWORD}
    if not password:
        raise InvalidInput(
            _("Password is empty: choose one of at least %(length)s characters.") % values,
            field="password",
        )
    if len(password) < MIN_PARENT_PASSWORD:
        raise InvalidInput(
            _("Password is too short: use at least %(length)s characters.") % values,
            field="password",
        )
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise InvalidInput(
            _("Password is too long: use at most 72 characters (fewer with accents or emoji)."),
            field="password",
        )
    local_part = email.split("@", 1)[0]
    lowered = password.lower()
    if email in lowered or (len(local_part) >= 4 and local_part in lowered):
        raise InvalidInput(
            _("Password must not contain your email address: choose something else."),
            field="password",
        )
    check_password_rules(password, gettext=_)
    if repeat is not None and repeat != password:
        raise InvalidInput(
            _("Repeat password does not match Password: type the same password twice."),
            field="repeat_password",
        )


def parse_secret(
    method: str, *, pin: str | None, date_of_birth: dt.date | None, answer: str | None,
    language: str = DEFAULT_LANGUAGE,
) -> str:
    """The normalised secret from the form, or InvalidInput (nothing counted, nothing written)."""
    _ = gettext_for(language)
    if method == EnrollmentMethod.question:
        secret = normalize_answer(answer)
        if not secret:
            raise InvalidInput(
                _("Answer is empty: type the answer to the question above."), field="answer"
            )
        _require_date_of_birth(date_of_birth, _)  # an answer alone is often guessable
        return secret
    secret = normalize_pin(pin)
    if not secret:
        raise InvalidInput(
            _("PIN is empty: type the PIN from your letter or welcome email."), field="pin"
        )
    if len(secret) != PIN_LENGTH or not secret.isalnum():
        raise InvalidInput(
            _("PIN should be %(length)s letters and digits (dashes and spaces do not matter): "
              "check it against your letter or email.") % {"length": PIN_LENGTH},
            field="pin",
        )
    _require_date_of_birth(date_of_birth, _)
    return secret


def _require_date_of_birth(date_of_birth: dt.date | None, _) -> None:
    if date_of_birth is None:
        raise InvalidInput(
            _("Child's date of birth is empty: pick it in the calendar or type it as "
              "MM/DD/YYYY."),
            field="date_of_birth",
        )


def check_account_form(email: str, password: str, *, repeat_password: str | None,
                       existing_account: bool, language: str = DEFAULT_LANGUAGE) -> str:
    """The normalised email, or InvalidInput for the email or password fields."""
    _ = gettext_for(language)
    try:
        email = normalize_email(email, field="Email address").lower()
    except InvalidInput as error:
        if language == DEFAULT_LANGUAGE:
            raise
        # email-validator explains in English only: say it plainly in the parent's language.
        message = (_("Email address is empty: enter an address such as name@example.com.")
                   if not (email or "").strip() else
                   _("Email address is not valid: check it, for example name@example.com."))
        raise InvalidInput(message, field=error.field) from None
    if not existing_account:
        _validate_password(password, email=email, repeat=repeat_password, language=language)
    elif not password:
        raise InvalidInput(
            _("Password is empty: enter the password of your existing account."),
            field="password",
        )
    return email
