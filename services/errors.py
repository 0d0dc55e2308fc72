"""Domain errors: each carries a message fit to show a user as it is, and the one way such a
message writes a value the user typed (`quoted`)."""

from __future__ import annotations

LONGEST_QUOTED = 60  # characters of a value a message repeats before it shortens it with "…"


def quoted(value: object) -> str:
    """A value as a message repeats it to a person: in typographic double quotes, surrounding
    whitespace dropped, otherwise as typed; a very long value shortened with an ellipsis."""
    text = "" if value is None else str(value).strip()
    if len(text) > LONGEST_QUOTED:
        text = text[:LONGEST_QUOTED - 1].rstrip() + "…"
    return f"“{text}”"


class PortalError(Exception):
    """Base of every error a page may show to its user."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # the form field the message belongs to, where there is one


class NotFound(PortalError):
    """The thing asked for does not exist in this practice (or at all)."""


class InvalidInput(PortalError):
    """Input that fails validation; `field` names the field to fix."""


class Conflict(PortalError):
    """The request clashes with the current state (a duplicate, a race lost)."""


class PermissionDenied(PortalError):
    """The user's role or practices do not allow this."""
