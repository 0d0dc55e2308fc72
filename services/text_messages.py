"""The body of a text message: it names the practice, fits one 160-character text where it
can, and ends with the opt-out line, in the reader's language. A text of the patient's own
invitation (`own_account`) is written to the patient; without an email it carries the link."""

from __future__ import annotations

import datetime as dt
import re

from services.i18n import format_short_date, template_environment

TEXT_LIMIT = 160
MIN_NAME = 12  # a practice name is never cut shorter than this
_CONNECTORS = {"", "of", "and", "the", "for", "at", "de", "del", "la", "el", "los", "las", "y"}


def _render(*, language: str, kind: str, practice_name: str, patient_first_name: str,
            pin: str | None, expires_on: dt.date | None, own_account: bool = False,
            link: str | None = None) -> str:
    values = {
        "own_account": own_account,
        "link": link,
        "kind": kind,
        "practice_name": practice_name,
        "patient_first_name": patient_first_name,
        "pin": pin,
        "expires_on": format_short_date(expires_on, language) if expires_on else "",
    }
    body = template_environment(language).get_template("text_message.txt").render(values)
    return " ".join(body.split())


def shorten_name(name: str, length: int) -> str:
    """`name` cut at a word boundary to at most `length` characters (never below MIN_NAME)."""
    name = " ".join(name.split())
    if len(name) <= length:
        return name
    length = max(length, MIN_NAME)
    cut = name[: length + 1].rsplit(" ", 1)[0] if " " in name[: length + 1] else name[:length]
    words = cut[:length].split(" ")
    # "Associates of" reads as a mistake; "Associates" as a short name.
    while len(words) > 1 and re.sub(r"\W", "", words[-1]).casefold() in _CONNECTORS:
        words.pop()
    return re.sub(r"[\W_]+$", "", " ".join(words)) or name[:length]


def render_text(*, language: str, kind: str, practice_name: str, patient_first_name: str,
                pin: str | None = None, expires_on: dt.date | None = None,
                pin_length: int | None = None, own_account: bool = False,
                link: str | None = None) -> str:
    """The text: full when it fits in 160 characters; else without the expiry date; else with
    the practice name shortened. `kind` is `invitation` or `reminder`. `pin` may be a
    placeholder; `pin_length` is then the length of the PIN that replaces it. `own_account`:
    written to the patient; `link`: the activation link, when no email carries it."""
    extra = (pin_length - len(pin)) if pin and pin_length else 0

    def size(text: str) -> int:
        return len(text) + extra

    common = {"language": language, "kind": kind, "patient_first_name": patient_first_name,
              "pin": pin, "own_account": own_account, "link": link}
    text = _render(practice_name=practice_name, expires_on=expires_on, **common)
    if size(text) <= TEXT_LIMIT:
        return text
    if expires_on is not None:
        text = _render(practice_name=practice_name, expires_on=None, **common)
        if size(text) <= TEXT_LIMIT:
            return text
    if link:
        return text  # a link runs to a second part anyway: a cut name would save nothing
    over = size(text) - TEXT_LIMIT
    short = shorten_name(practice_name, len(" ".join(practice_name.split())) - over)
    return _render(practice_name=short, expires_on=None, **common)
