"""The access deadline on the Dashboard: for each completed (or arrived) visit, the day by which
the patient must have portal access for the 4-business-day measure, and the `Access due`
filter (Overdue / Due today / Due in 1–3 days).

One home for the rule: the deadline is services.enrollment_cohort.access_deadline with the
practice's Holiday rows, exactly as the Enrollment page counts it; "access given" is the
measure's own: any enrollment issued for the patient (a voided PIN still counted) or a sibling's
account granted the patient.

    terms = access_due_terms(session, practice_id=..., due=AccessDue.overdue, timezone=..., now=...)
    marks = access_marks(session, practice_id=..., rows=[(appointment_id, patient_id, status,
                                                          starts_at_local), ...], now=...)
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy import exists, false, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from models import (
    Appointment,
    AppointmentStatus,
    Enrollment,
    Holiday,
    PortalAccess,
    PortalAccount,
    Practice,
)
from services.enrollment_cohort import access_deadline
from services.errors import InvalidInput, NotFound, quoted

# Visits whose deadline runs: the patient was seen (or is in the building).
DEADLINE_STATUSES = tuple(
    status.value for status in AppointmentStatus
    if status.value in {"completed", "arrived"}
)
SOON_DAYS = 3
# Far enough back that no visit day before it can have a deadline after today.
_LOOKBACK_DAYS = 40


class AccessDue(StrEnum):
    """The `Access due` filter's choices."""

    overdue = "Overdue"
    due_today = "Due today"
    due_soon = "Due in 1–3 days"


@dataclass(frozen=True)
class AccessMark:
    """What the Dashboard shows for one visit: the deadline and where the patient stands."""

    due_by: dt.date
    given: bool
    label: str  # "Overdue", "Due today", "Due in 2 days", "Given", "Given late"


def parse_access_due(raw: str | None) -> AccessDue | None:
    """The filter's value from a widget or link (None: no filter); InvalidInput names the field."""
    if raw is None or not raw.strip():
        return None
    for choice in AccessDue:
        if raw.strip().lower() in {choice.value.lower(), choice.name}:
            return choice
    raise InvalidInput(
        f"Access due {quoted(raw)} is not one of: {', '.join(c.value for c in AccessDue)}.",
        field="access_due",
    )


def practice_holidays(session: Session, practice_id: int, start: dt.date,
                      end: dt.date) -> frozenset[dt.date]:
    """The practice's closed days from `start` to a few weeks past `end`."""
    return frozenset(session.execute(
        select(Holiday.day).where(
            Holiday.practice_id == practice_id,
            Holiday.day >= start,
            Holiday.day <= end + dt.timedelta(days=60),
        )
    ).scalars())


def _timezone(session: Session, practice_id: int) -> zoneinfo.ZoneInfo:
    name = session.execute(select(Practice.timezone).where(Practice.id == practice_id)).scalar()
    if name is None:
        raise NotFound("That practice does not exist.")
    return zoneinfo.ZoneInfo(name)


def describe_due(due_by: dt.date, *, today: dt.date, given: bool,
                 given_on: dt.date | None = None) -> str:
    """The words in the Dashboard's `Access due` column."""
    if given:
        return "Given late" if given_on is not None and given_on > due_by else "Given"
    days = (due_by - today).days
    if days < 0:
        return "Overdue"
    if days == 0:
        return "Due today"
    return "Due tomorrow" if days == 1 else f"Due in {days} days"


def _visit_days_due(today: dt.date, due: AccessDue, holidays: frozenset[dt.date]
                    ) -> tuple[dt.date | None, dt.date] | None:
    """The first and last visit day whose deadline falls in `due` (first None: open-ended;
    None: no such day); the deadline never moves backwards as the visit day moves forwards,
    so the days are one run."""
    wanted = {
        AccessDue.overdue: lambda deadline: deadline < today,
        AccessDue.due_today: lambda deadline: deadline == today,
        AccessDue.due_soon: lambda deadline: 1 <= (deadline - today).days <= SOON_DAYS,
    }[due]
    first = today - dt.timedelta(days=_LOOKBACK_DAYS)
    days = [first + dt.timedelta(days=offset) for offset in range(_LOOKBACK_DAYS + 1)]
    matching = [day for day in days if wanted(access_deadline(day, holidays=holidays))]
    if not matching:
        return None
    lower = None if due == AccessDue.overdue else matching[0]
    return lower, matching[-1]


def _access_given(practice_id: int, now: dt.datetime) -> ColumnElement[bool]:
    """Whether the appointment's patient was given access by `now` (the measure's definition)."""
    enrolled = exists().where(Enrollment.patient_id == Appointment.patient_id,
                              Enrollment.practice_id == practice_id,
                              Enrollment.issued_at <= now)
    granted = exists().where(
        PortalAccess.patient_id == Appointment.patient_id,
        PortalAccount.id == PortalAccess.account_id,
        PortalAccount.practice_id == practice_id,
        PortalAccess.granted_at <= now,
    )
    return enrolled | granted


def access_due_terms(session: Session, *, practice_id: int, due: AccessDue, timezone: str,
                     now: dt.datetime) -> list[ColumnElement[bool]]:
    """WHERE terms over Appointment for the visits whose access is `due` and not yet given."""
    zone = zoneinfo.ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    holidays = practice_holidays(session, practice_id,
                                 today - dt.timedelta(days=_LOOKBACK_DAYS), today)
    run = _visit_days_due(today, due, holidays)
    if run is None:
        return [false()]
    lower, upper = run
    terms: list[ColumnElement[bool]] = [
        Appointment.status.in_(DEADLINE_STATUSES),
        ~_access_given(practice_id, now),
        Appointment.start_at < _midnight_utc(upper + dt.timedelta(days=1), zone),
    ]
    if lower is not None:
        terms.append(Appointment.start_at >= _midnight_utc(lower, zone))
    return terms


def _midnight_utc(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def first_access(session: Session, *, practice_id: int, patient_ids: Iterable[int],
                 now: dt.datetime) -> dict[int, dt.datetime]:
    """Each patient's first access by `now` (enrollment issued or account granted), if any."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    # The practice terms as expressions (+ 0) so that the patient indexes serve the lookups:
    # SQLite without statistics otherwise reads every enrollment the practice issued up to
    # `now` through ix_enrollment_practice_issued (200 ms at 1,000,000 appointments), and
    # every portal account of the practice for a page's 100 patients.
    issued = session.execute(
        select(Enrollment.patient_id, func.min(Enrollment.issued_at))
        .where((Enrollment.practice_id + 0) == practice_id, Enrollment.patient_id.in_(ids),
               Enrollment.issued_at <= now)
        .group_by(Enrollment.patient_id)
    ).all()
    granted = session.execute(
        select(PortalAccess.patient_id, func.min(PortalAccess.granted_at))
        .join(PortalAccount, PortalAccount.id == PortalAccess.account_id)
        .where((PortalAccount.practice_id + 0) == practice_id, PortalAccess.patient_id.in_(ids),
               PortalAccess.granted_at <= now)
        .group_by(PortalAccess.patient_id)
    ).all()
    first: dict[int, dt.datetime] = {}
    for patient_id, at in [*issued, *granted]:
        if at is not None and (patient_id not in first or at < first[patient_id]):
            first[patient_id] = at
    return first


@dataclass(frozen=True)
class VisitRef:
    """What a deadline needs of one listed visit."""

    appointment_id: int
    patient_id: int
    status: str
    day: dt.date  # the visit's local day


def access_marks(session: Session, *, practice_id: int, visits: Iterable[VisitRef],
                 now: dt.datetime) -> dict[int, AccessMark]:
    """The deadline and its words for each completed or arrived visit, by appointment id."""
    counted = [visit for visit in visits if visit.status in DEADLINE_STATUSES]
    if not counted:
        return {}
    zone = _timezone(session, practice_id)
    today = now.astimezone(zone).date()
    holidays = practice_holidays(session, practice_id, min(v.day for v in counted),
                                 max(max(v.day for v in counted), today))
    given = first_access(session, practice_id=practice_id,
                         patient_ids=[visit.patient_id for visit in counted], now=now)
    marks = {}
    for visit in counted:
        due_by = access_deadline(visit.day, holidays=holidays)
        at = given.get(visit.patient_id)
        given_on = at.astimezone(zone).date() if at is not None else None
        marks[visit.appointment_id] = AccessMark(
            due_by=due_by, given=at is not None,
            label=describe_due(due_by, today=today, given=at is not None, given_on=given_on),
        )
    return marks


def with_access_marks(session: Session, *, practice_id: int, rows: list, now: dt.datetime
                      ) -> list:
    """Schedule rows (services.schedule.ScheduleRow) with their `access` mark filled in."""
    marks = access_marks(session, practice_id=practice_id, now=now, visits=[
        VisitRef(appointment_id=row.appointment_id, patient_id=row.patient_id,
                 status=row.appointment_status, day=row.starts_at.date())
        for row in rows
    ])
    return [replace(row, access=marks.get(row.appointment_id)) for row in rows]
