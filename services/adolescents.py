"""Adolescents: what a parent's portal access is at a child's age, and the `Birthdays ahead` list.

From the practice's Confidential age (default 12; None: off) parent access is limited; at the
minor age limit (default 18) it ends and the young adult is invited in their own name.

    parent_access(date_of_birth, today=..., confidential_age=12, minor_age_limit=18)
    birthdays_ahead(session, practice_id=..., today=...)   # visits in the next 60 days
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import and_, func, or_, select
from sqlmodel import Session

from models import Appointment, AppointmentStatus, Patient, Practice
from services.ages import MARCH_1, age_in_years, shift_years
from services.dates import date_text
from services.errors import NotFound
from services.schedule import day_bounds

AHEAD_DAYS = 60


class ParentAccess(StrEnum):
    full = "Full"
    limited = "Limited"
    ended = "Ended"


ACCESS_MEANINGS = {
    ParentAccess.full: "The parent sees everything in the child's portal.",
    ParentAccess.limited: "A limited parent account sees visits, immunizations, forms and "
                          "messages with the practice, not confidential notes or results; the "
                          "adolescent may have their own account.",
    ParentAccess.ended: "Parent access has ended: invite the young adult in their own name.",
}


class AccessLevel(StrEnum):
    """What an enrollment gives, recorded on it when issued (Enrollment.access_level)."""

    full = "Full"  # a parent, for a child under the Confidential age
    limited = "Limited"  # a parent, from the Confidential age to the minor age limit
    adolescent = "Adolescent"  # the patient's own account, from the Confidential age
    young_adult = "Young adult"  # the patient's own account, from the minor age limit


ACCESS_LEVEL_MEANINGS = {
    AccessLevel.full: ACCESS_MEANINGS[ParentAccess.full],
    AccessLevel.limited: ACCESS_MEANINGS[ParentAccess.limited],
    AccessLevel.adolescent: "The adolescent's own account: their whole record, including what "
                            "a limited parent account does not see.",
    AccessLevel.young_adult: "The young adult's own account, in their own name: their whole "
                             "record; parents no longer have access.",
}


def parent_access(date_of_birth: dt.date, *, today: dt.date, confidential_age: int | None,
                  minor_age_limit: int) -> ParentAccess:
    """The parent's access level for a child born `date_of_birth`, on `today`."""
    age = age_in_years(date_of_birth, today=today)
    if age >= minor_age_limit:
        return ParentAccess.ended
    if confidential_age is not None and age >= confidential_age:
        return ParentAccess.limited
    return ParentAccess.full


@dataclass(frozen=True)
class BirthdayAhead:
    patient_id: int
    patient_name: str
    date_of_birth: dt.date
    next_visit: dt.date
    turns: int
    on: dt.date
    becomes: ParentAccess

    @property
    def what(self) -> str:
        if self.becomes == ParentAccess.ended:
            return f"Turns {self.turns} on {date_text(self.on)}: invite them in their own name"
        return (f"Turns {self.turns} on {date_text(self.on)}: parent access becomes limited; "
                "offer the adolescent their own invitation")


def birthdays_ahead(session: Session, *, practice_id: int, today: dt.date,
                    days: int = AHEAD_DAYS) -> list[BirthdayAhead]:
    """Patients with a visit in the next `days` days who reach the Confidential age or the
    minor age limit by that visit, so that the desk collects the forms then."""
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise NotFound("That practice does not exist.")
    limits = [(age, ParentAccess.limited) for age in (practice.confidential_age,) if age]
    limits.append((practice.minor_age_limit, ParentAccess.ended))
    lower, upper = day_bounds(today, today + dt.timedelta(days=days), practice.timezone)
    # Only patients born so that they reach one of the ages within the window (two days wider
    # for 29 February; the exact check is below), their first visit with their names in one
    # grouped query.
    horizon = today + dt.timedelta(days=days)
    born = [and_(Patient.date_of_birth > shift_years(today, -age) - dt.timedelta(days=2),
                 Patient.date_of_birth <= shift_years(horizon, -age) + dt.timedelta(days=2))
            for age, _ in limits]
    visits = session.execute(
        select(Appointment.patient_id, func.min(Appointment.start_at), Patient.date_of_birth,
               Patient.last_name, Patient.first_name)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(Appointment.practice_id == practice_id, Appointment.start_at >= lower,
               Appointment.start_at < upper,
               Appointment.status != AppointmentStatus.cancelled.value, or_(*born))
        .group_by(Appointment.patient_id, Patient.date_of_birth, Patient.last_name,
                  Patient.first_name)
    ).all()
    zone = zoneinfo.ZoneInfo(practice.timezone)
    found = []
    for patient_id, first_at, date_of_birth, last_name, first_name in visits:
        visit_day = first_at.astimezone(zone).date()
        for age, becomes in limits:
            on = shift_years(date_of_birth, age, leap_day_on=MARCH_1)
            if today < on <= visit_day:
                found.append(BirthdayAhead(
                    patient_id=patient_id, patient_name=f"{last_name}, {first_name}",
                    date_of_birth=date_of_birth, next_visit=visit_day, turns=age,
                    on=on, becomes=becomes))
    return sorted(found, key=lambda item: (item.next_visit, item.patient_name))
