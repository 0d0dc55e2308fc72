"""Read schemas: what services hand to pages, plain and frozen, so they outlive the session.

Each is a non-table SQLModel built from a table row with `Model.model_validate(row)`
(attributes are read, extra ones ignored); values the row lacks come in as `update=`.
"""

from __future__ import annotations

import datetime as dt

from pydantic import ConfigDict
from sqlmodel import SQLModel


class PublicSchema(SQLModel):
    """Frozen, read from attributes: the base of every read schema here."""

    model_config = ConfigDict(frozen=True, from_attributes=True)


class PracticePublic(PublicSchema):
    """A practice's settings as pages and letters use them."""

    id: int
    name: str
    timezone: str
    portal_url: str
    portal_sign_in_url: str = ""
    pin_lifetime_days: int
    minor_age_limit: int
    audit_retention_years: int = 6
    phone: str
    email: str
    address: str
    confidential_age: int | None = 12  # None: off
    remind_after_days: str = "3,10"  # reminders to invited parents, days after the invitation
    remind_before_expiry_days: int = 2  # and days before the PIN expires (0: none)


class PracticeOption(PublicSchema):
    """A practice as the `Practice` selector shows it."""

    id: int
    name: str
    timezone: str


class NamedRow(PublicSchema):
    """A location or provider as a drop-down shows it."""

    id: int
    name: str


class HolidayRow(PublicSchema):
    """A day the practice is closed."""

    id: int
    day: dt.date
    name: str


class StaffUserPublic(PublicSchema):
    """A staff user: who is signed in, and a row of the Staff Users page.

    The last three fields are filled in only where the Staff Users page needs them.
    """

    id: int
    username: str
    name: str
    email: str
    role: str
    disabled: bool
    failed_logins: int
    locked: bool = False
    practice_ids: tuple[int, ...] = ()
    practices: tuple[str, ...] = ()


class StaffDirectory(PublicSchema):
    """The users of one practice and the practices the acting admin may hand out."""

    users: list[StaffUserPublic]
    practices: list[PracticeOption]


class PracticeSettings(PublicSchema):
    """Everything the Practice Settings page shows for one practice."""

    practice: PracticePublic
    holidays: list[HolidayRow]
    locations: list[NamedRow]
    providers: list[NamedRow]
