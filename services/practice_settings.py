"""Practice Settings (the page of that name): the practice's name, timezone, portal URL, PIN
lifetime, minor age limit and contact details; its holidays, locations and providers.

Every change is made for an enabled administrator of the practice (checked with
`staff_users.acting_admin`), validates each field by the form's label, and records an audit
event.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func
from sqlmodel import Session, select

from models import Holiday, Location, Practice, Provider
from models.public import HolidayRow, NamedRow, PracticePublic, PracticeSettings
from services.audit import record_event
from services.audit_archive import RETENTION_FLOOR_YEARS
from services.dates import date_text
from services.errors import Conflict, InvalidInput, NotFound, quoted
from services.practices import (
    get_practice,
    list_locations,
    list_providers,
    normalize_portal_url,
)
from services.reminder_settings import (
    check_remind_before,
    format_remind_after,
    parse_remind_after,
)
from services.staff_users import acting_admin
from services.validation import format_phone, normalize_email, normalize_phone, validate_timezone

MAX_NAME = 200


# --- practice settings ---------------------------------------------------------------------------


KEEP = -1  # update_practice: leave the Confidential age as it is

def _holidays(session: Session, practice_id: int) -> list[HolidayRow]:
    rows = session.exec(
        select(Holiday).where(Holiday.practice_id == practice_id).order_by(Holiday.day)
    ).all()
    return [HolidayRow.model_validate(row) for row in rows]


def get_practice_settings(
    session: Session, *, actor_id: int, practice_id: int
) -> PracticeSettings:
    """A practice's settings, holidays, locations and providers."""
    acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    return PracticeSettings(
        practice=get_practice(session, practice_id=practice_id),
        holidays=_holidays(session, practice_id),
        locations=list_locations(session, practice_id=practice_id),
        providers=list_providers(session, practice_id=practice_id),
    )


def _clean_name(value: str | None, field: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise InvalidInput(f"{field} is empty: enter a name.", field=field)
    if len(value) > MAX_NAME:
        raise InvalidInput(f"{field} is too long: use at most {MAX_NAME} characters.",
                           field=field)
    return value


SIGN_IN_ADDRESS = "Patient portal sign-in address"


def _portal_url(value: str | None) -> str:
    return normalize_portal_url(value)


def _whole_number(value, *, field: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a whole number.", field=field) from None
    if not low <= number <= high:
        raise InvalidInput(f"{field} must be between {low} and {high}.", field=field)
    return number


def update_practice(
    session: Session,
    *,
    actor_id: int,
    practice_id: int,
    name: str,
    timezone: str,
    portal_url: str,
    pin_lifetime_days: int,
    minor_age_limit: int,
    audit_retention_years: int | None = None,
    phone: str = "",
    email: str = "",
    address: str = "",
    phone_region: str = "US",
    confidential_age: int | None = KEEP,
    portal_sign_in_url: str = "",
) -> PracticePublic:
    """Change a practice's settings; the audit event lists each changed field. Audit events
    are kept at least 6 years (HIPAA); `audit_retention_years` may only make that longer."""
    actor = acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    practice = session.get(Practice, practice_id)
    new = {
        "name": _clean_name(name, "Practice name"),
        "timezone": validate_timezone(timezone),
        "portal_url": _portal_url(portal_url),
        "portal_sign_in_url": (
            normalize_portal_url(portal_sign_in_url, field=SIGN_IN_ADDRESS)
            if (portal_sign_in_url or "").strip() else ""),
        "pin_lifetime_days": _whole_number(
            pin_lifetime_days, field="PIN lifetime (days)", low=1, high=365
        ),
        "minor_age_limit": _whole_number(
            minor_age_limit, field="Minor age limit", low=1, high=30
        ),
        "audit_retention_years": practice.audit_retention_years
        if audit_retention_years is None else _whole_number(
            audit_retention_years, field="Audit retention (years)",
            low=RETENTION_FLOOR_YEARS, high=100),
        "phone": (
            format_phone(normalize_phone(phone, region=phone_region, field="Phone"),
                         region=phone_region)
            if (phone or "").strip() else ""
        ),
        "email": normalize_email(email, field="Email") if (email or "").strip() else "",
        "address": " ".join((address or "").split()),
        "confidential_age": (
            practice.confidential_age if confidential_age == KEEP
            else None if confidential_age is None
            else _whole_number(confidential_age, field="Confidential age", low=1, high=30)),
    }
    if confidential_age != KEEP and new["confidential_age"] is not None \
            and new["confidential_age"] >= new["minor_age_limit"]:
        raise InvalidInput("Confidential age must be below the Minor age limit (or off).",
                           field="Confidential age")
    if len(new["address"]) > 500:
        raise InvalidInput("Address is too long: use at most 500 characters.", field="Address")
    if new["name"] != practice.name and session.exec(
        select(Practice.id).where(Practice.name == new["name"], Practice.id != practice_id)
    ).first():
        raise Conflict(f"Practice name {quoted(new['name'])} is taken by another practice.",
                       field="Practice name")
    changes = {
        field: [getattr(practice, field), value]
        for field, value in new.items()
        if getattr(practice, field) != value
    }
    if changes:
        for field, (_old, value) in changes.items():
            setattr(practice, field, value)
        session.add(practice)
        record_event(
            session, actor=actor.username, action="practice_updated", practice_id=practice_id,
            changes=changes,
        )
        session.flush()
    return get_practice(session, practice_id=practice_id)


def update_reminder_settings(
    session: Session,
    *,
    actor_id: int,
    practice_id: int,
    remind_after: str,
    remind_before_expiry: int,
) -> PracticePublic:
    """Change when invited parents who have not activated are reminded (audited)."""
    actor = acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    practice = session.get(Practice, practice_id)
    new = {
        "remind_after_days": format_remind_after(parse_remind_after(remind_after)),
        "remind_before_expiry_days": check_remind_before(remind_before_expiry),
    }
    changes = {field: [getattr(practice, field), value] for field, value in new.items()
               if getattr(practice, field) != value}
    if changes:
        for field, (_old, value) in changes.items():
            setattr(practice, field, value)
        session.add(practice)
        record_event(session, actor=actor.username, action="practice_updated",
                     practice_id=practice_id, changes=changes)
        session.flush()
    return get_practice(session, practice_id=practice_id)


def add_holiday(
    session: Session, *, actor_id: int, practice_id: int, day: dt.date, name: str = ""
) -> HolidayRow:
    """Mark a day on which the practice is closed."""
    actor = acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    if not isinstance(day, dt.date):
        raise InvalidInput("Date is empty: pick the day the practice is closed.", field="Date")
    name = " ".join((name or "").split())
    if len(name) > 120:
        raise InvalidInput("Holiday name is too long: use at most 120 characters.",
                           field="Holiday name")
    if session.exec(
        select(Holiday.id).where(Holiday.practice_id == practice_id, Holiday.day == day)
    ).first():
        raise Conflict(f"Date {date_text(day)} is already a holiday.", field="Date")
    holiday = Holiday(practice_id=practice_id, day=day, name=name)
    session.add(holiday)
    session.flush()
    record_event(
        session, actor=actor.username, action="holiday_added", practice_id=practice_id,
        day=day.isoformat(), name=name,
    )
    return HolidayRow.model_validate(holiday)


def remove_holiday(session: Session, *, actor_id: int, practice_id: int, holiday_id: int) -> None:
    """Remove a holiday (the day counts as a business day again)."""
    actor = acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    holiday = session.get(Holiday, holiday_id)
    if holiday is None or holiday.practice_id != practice_id:
        raise NotFound("That holiday does not exist in this practice.", field="Holiday")
    record_event(
        session, actor=actor.username, action="holiday_removed", practice_id=practice_id,
        day=holiday.day.isoformat(), name=holiday.name,
    )
    session.delete(holiday)
    session.flush()


def _add_named(session: Session, table, *, actor_id: int, practice_id: int, name: str,
               label: str) -> NamedRow:
    actor = acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    name = _clean_name(name, f"{label} name")
    _refuse_duplicate(session, table, practice_id=practice_id, name=name, label=label)
    row = table(practice_id=practice_id, name=name)
    session.add(row)
    session.flush()
    record_event(
        session, actor=actor.username, action=f"{table.__tablename__}_added",
        practice_id=practice_id, name=name, id=row.id,
    )
    return NamedRow.model_validate(row)


def _refuse_duplicate(session: Session, table, *, practice_id: int, name: str, label: str,
                      except_id: int | None = None) -> None:
    query = select(table.id).where(
        table.practice_id == practice_id, func.lower(table.name) == name.lower()
    )
    if except_id is not None:
        query = query.where(table.id != except_id)
    if session.exec(query).first():
        raise Conflict(f"{label} name {quoted(name)} is already in use in this practice.",
                       field=f"{label} name")


def _rename_named(session: Session, table, *, actor_id: int, practice_id: int, row_id: int,
                  name: str, label: str) -> NamedRow:
    actor = acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    row = session.get(table, row_id)
    if row is None or row.practice_id != practice_id:
        raise NotFound(f"That {label.lower()} does not exist in this practice.", field=label)
    name = _clean_name(name, f"New {label.lower()} name")
    if name == row.name:
        return NamedRow.model_validate(row)
    _refuse_duplicate(session, table, practice_id=practice_id, name=name, label=label,
                      except_id=row.id)
    record_event(
        session, actor=actor.username, action=f"{table.__tablename__}_renamed",
        practice_id=practice_id, id=row.id, old=row.name, new=name,
    )
    row.name = name
    session.add(row)
    session.flush()
    return NamedRow.model_validate(row)


def add_location(session: Session, *, actor_id: int, practice_id: int, name: str) -> NamedRow:
    """Add a location (a site where the practice sees patients)."""
    return _add_named(session, Location, actor_id=actor_id, practice_id=practice_id, name=name,
                      label="Location")


def rename_location(
    session: Session, *, actor_id: int, practice_id: int, location_id: int, name: str
) -> NamedRow:
    """Rename a location; its appointments follow."""
    return _rename_named(session, Location, actor_id=actor_id, practice_id=practice_id,
                         row_id=location_id, name=name, label="Location")


def add_provider(session: Session, *, actor_id: int, practice_id: int, name: str) -> NamedRow:
    """Add a provider (a clinician appointments are booked with)."""
    return _add_named(session, Provider, actor_id=actor_id, practice_id=practice_id, name=name,
                      label="Provider")


def rename_provider(
    session: Session, *, actor_id: int, practice_id: int, provider_id: int, name: str
) -> NamedRow:
    """Rename a provider; their appointments follow."""
    return _rename_named(session, Provider, actor_id=actor_id, practice_id=practice_id,
                         row_id=provider_id, name=name, label="Provider")
