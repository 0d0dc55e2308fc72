"""Password rules shared by staff and parent passwords: no common password, no spaces at the
ends (the sign-in form strips them, so such a password could never be typed back).

The messages are in the gettext catalog: the activation page passes the parent's `_`
(services.i18n.gettext_for); staff pages pass nothing and read English."""

from __future__ import annotations

import functools
import gzip
from collections.abc import Callable
from pathlib import Path

from services.errors import InvalidInput

COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "assets" / "common-passwords.txt.gz"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of 20,000 common passwords, lower-case (see assets/*.LICENSE)."""
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def is_common_password(password: str) -> bool:
    """True when `password` is on the common list, whatever its case."""
    return password.strip().casefold() in common_passwords()


def _english(text: str) -> str:
    return text


def check_password_rules(password: str, *, field: str = "password",
                         gettext: Callable[[str], str] = _english) -> None:
    """Raise InvalidInput for a password with spaces at either end or one on the common list,
    in the language of `gettext` (English by default)."""
    _ = gettext
    if password != password.strip():
        raise InvalidInput(
            _("Password starts or ends with a space: remove it (spaces inside are fine)."),
            field=field,
        )
    if is_common_password(password):
        raise InvalidInput(
            _("Password is one of the most common passwords and easy to guess: choose "
              "another."),
            field=field,
        )
