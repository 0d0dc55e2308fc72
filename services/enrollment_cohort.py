"""The Enrollment figures' cohort: the scope a page asks for (EnrollmentScope), its calendar of
local days with each day's access deadline, and the two temporary tables of the patients seen
that every figure in services.enrollment is one query over. The rules they follow (who is
counted, the deadline) are described in services.enrollment's docstring.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Date,
    Integer,
    MetaData,
    Table,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    null,
    select,
    text,
    union_all,
    values,
)
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime

from models import (
    Appointment,
    AppointmentStatus,
    Enrollment,
    EnrollmentStatus,
    Holiday,
    PortalAccess,
    PortalAccount,
    utcnow,
)
from services.errors import InvalidInput
from services.practices import get_practice

ACCESS_BUSINESS_DAYS = 4
EXPIRING_WITHIN = dt.timedelta(days=7)
MAX_PERIOD_DAYS = 731


def access_deadline(visit_day: dt.date, *, holidays: frozenset[dt.date] | set[dt.date]) -> dt.date:
    """The last local day on which access for a visit on `visit_day` is still timely."""
    counted = 0
    day = visit_day
    while True:
        if day.weekday() < 5 and day not in holidays:
            counted += 1
            if counted == ACCESS_BUSINESS_DAYS:
                return day
        day += dt.timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# The period's calendar: one row per local day, joined as a VALUES CTE. It carries everything
# that needs the practice's timezone or holidays, so the SQL itself never converts timezones or
# counts business days (which SQLite and PostgreSQL would each do differently).


@dataclass(frozen=True)
class EnrollmentScope:
    """Whose figures the Enrollment page asks for: dates are the practice's local days,
    inclusive; None means every location (provider)."""

    practice_id: int
    start: dt.date
    end: dt.date
    location_id: int | None = None
    provider_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Period:
    """A scope checked and laid out as days: its calendar rows and the moment called now."""

    practice_id: int
    start: dt.date
    end: dt.date
    location_id: int | None
    provider_ids: tuple[int, ...] | None
    now: dt.datetime
    zone: zoneinfo.ZoneInfo
    calendar_rows: tuple[tuple, ...]


def _midnight_utc(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)


def resolve_period(session: Session, scope: EnrollmentScope, *, now: dt.datetime | None
                   ) -> Period:
    """The scope's calendar, or InvalidInput naming Start Date for a backwards or long range."""
    practice_id, start, end = scope.practice_id, scope.start, scope.end
    if start > end:
        raise InvalidInput("Start Date is after End Date: pick a Start Date on or before it.",
                           field="start_date")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidInput(f"The period is longer than {MAX_PERIOD_DAYS} days: pick a shorter "
                           "range of Start Date and End Date.", field="start_date")
    practice = get_practice(session, practice_id=practice_id)
    zone = zoneinfo.ZoneInfo(practice.timezone)
    # Holidays from the first day to a little past the last deadline (a few weeks is ample).
    holidays = frozenset(session.execute(
        select(Holiday.day).where(
            Holiday.practice_id == practice_id,
            Holiday.day >= start,
            Holiday.day <= end + dt.timedelta(days=60),
        )
    ).scalars())
    rows = []
    day = start
    while day <= end:
        deadline = access_deadline(day, holidays=holidays)
        rows.append((
            day,
            _midnight_utc(day, zone),
            _midnight_utc(day + dt.timedelta(days=1), zone),
            deadline,
            _midnight_utc(deadline + dt.timedelta(days=1), zone),
            day - dt.timedelta(days=day.weekday()),
        ))
        day += dt.timedelta(days=1)
    return Period(
        practice_id=practice_id,
        start=start,
        end=end,
        location_id=scope.location_id,
        provider_ids=tuple(scope.provider_ids) if scope.provider_ids else None,
        now=(now or utcnow()).astimezone(dt.UTC),
        zone=zone,
        calendar_rows=tuple(rows),
    )


def calendar_cte(period: Period):
    """The period's days as a VALUES CTE named calendar."""
    return values(
        column("day", Date),
        column("day_start", UTCDateTime()),
        column("day_end", UTCDateTime()),
        column("deadline", Date),
        column("deadline_end", UTCDateTime()),
        column("week_start", Date),
        name="calendar",
    ).data(list(period.calendar_rows)).cte("calendar")


# ---------------------------------------------------------------------------------------------
# The cohort: two temporary tables filled once per report, so that the appointments are scanned
# once and not once per figure. Temporary tables live in the session's own connection and
# transaction (no other session sees them) and are dropped before the session ends; a rollback
# drops them too, since both databases roll back DDL.


@dataclass(frozen=True)
class Cohort:
    """The two temporary tables of the patients seen."""

    # One row per (patient, provider, location) seen: the first visit there and its deadline.
    groups: Table
    # One row per patient seen: first visit, its deadline, access times, timely or not.
    patients: Table


def _cohort_tables() -> Cohort:
    metadata = MetaData()
    groups = Table(
        "tmp_enrollment_groups", metadata,
        Column("patient_id", Integer, nullable=False),
        Column("provider_id", Integer, nullable=False),
        Column("location_id", Integer, nullable=False),
        Column("first_start", UTCDateTime(), nullable=False),
        Column("first_day", Date, nullable=False),
        Column("deadline", Date, nullable=False),
        Column("deadline_end", UTCDateTime(), nullable=False),
        prefixes=["TEMPORARY"],
    )
    patients = Table(
        "tmp_enrollment_patients", metadata,
        Column("patient_id", Integer, primary_key=True, autoincrement=False),
        Column("first_day", Date, nullable=False),
        Column("deadline", Date, nullable=False),
        Column("deadline_end", UTCDateTime(), nullable=False),
        Column("invited_at", UTCDateTime()),
        Column("activated_at", UTCDateTime()),
        Column("access_at", UTCDateTime()),
        Column("expiring", Integer, nullable=False),
        Column("timely", Integer, nullable=False),
        prefixes=["TEMPORARY"],
    )
    return Cohort(groups=groups, patients=patients)


def _fill_groups(session: Session, period: Period, groups: Table) -> None:
    """Completed visits in the period, by patient, provider and location: one scan."""
    calendar = calendar_cte(period)
    visit = Appointment.__table__.alias("visit")
    conditions = [
        visit.c.practice_id == period.practice_id,
        visit.c.status == AppointmentStatus.completed.value,
    ]
    if period.location_id is not None:
        conditions.append(visit.c.location_id == period.location_id)
    if period.provider_ids is not None:
        conditions.append(visit.c.provider_id.in_(period.provider_ids))
    # The calendar drives the join: one range of the (practice_id, start_at) index per day.
    # Deadlines only grow with the visit's day, so the first visit's is the smallest.
    visits = (
        select(
            visit.c.patient_id,
            visit.c.provider_id,
            visit.c.location_id,
            func.min(visit.c.start_at),
            func.min(calendar.c.day),
            func.min(calendar.c.deadline),
            func.min(calendar.c.deadline_end),
        )
        .select_from(calendar)
        .join(visit, and_(visit.c.start_at >= calendar.c.day_start,
                          visit.c.start_at < calendar.c.day_end))
        .where(*conditions)
        .group_by(visit.c.patient_id, visit.c.provider_id, visit.c.location_id)
    )
    session.execute(groups.insert().from_select(
        ["patient_id", "provider_id", "location_id", "first_start", "first_day", "deadline",
         "deadline_end"],
        visits,
    ))


def _fill_patients(session: Session, period: Period, cohort: Cohort) -> None:
    """One row per patient seen, with the first visit's day and deadline and access times."""
    groups, patients = cohort.groups, cohort.patients
    seen = (
        select(
            groups.c.patient_id,
            func.min(groups.c.first_day).label("day"),
            func.min(groups.c.deadline).label("deadline"),
            func.min(groups.c.deadline_end).label("deadline_end"),
        )
        .group_by(groups.c.patient_id)
        .subquery("seen")
    )
    access = _access(period, select(groups.c.patient_id))
    session.execute(patients.insert().from_select(
        ["patient_id", "first_day", "deadline", "deadline_end", "invited_at", "activated_at",
         "access_at", "expiring", "timely"],
        select(
            seen.c.patient_id,
            seen.c.day,
            seen.c.deadline,
            seen.c.deadline_end,
            access.c.invited_at,
            access.c.activated_at,
            access.c.access_at,
            func.coalesce(access.c.expiring, 0),
            case((access.c.access_at < seen.c.deadline_end, 1), else_=0),
        ).select_from(seen.outerjoin(access, access.c.patient_id == seen.c.patient_id)),
    ))


def _access(period: Period, patient_ids):
    """Per patient: first invitation, first activation, first access, a PIN expiring soon."""
    enrollment = Enrollment.__table__
    expiring = case(
        (and_(enrollment.c.status == EnrollmentStatus.invited.value,
              enrollment.c.expires_at > period.now,
              enrollment.c.expires_at <= period.now + EXPIRING_WITHIN), 1),
        else_=0,
    )
    from_enrollments = select(
        enrollment.c.patient_id.label("patient_id"),
        enrollment.c.issued_at.label("invited_at"),
        enrollment.c.activated_at.label("activated_at"),
        # An enrollment is activated after it is issued, so issuing is its first access.
        enrollment.c.issued_at.label("access_at"),
        expiring.label("expiring"),
    ).where(
        enrollment.c.practice_id == period.practice_id,
        enrollment.c.patient_id.in_(patient_ids),
    )
    grant, account = PortalAccess.__table__, PortalAccount.__table__
    # A sibling's account may be granted this patient without an enrollment of their own.
    from_grants = (
        select(
            grant.c.patient_id,
            cast(null(), UTCDateTime()),
            grant.c.granted_at,
            grant.c.granted_at,
            literal(0),
        )
        .join(account, account.c.id == grant.c.account_id)
        .where(account.c.practice_id == period.practice_id, grant.c.patient_id.in_(patient_ids))
    )
    events = union_all(from_enrollments, from_grants).subquery("access_events")
    return (
        select(
            events.c.patient_id,
            func.min(events.c.invited_at).label("invited_at"),
            func.min(events.c.activated_at).label("activated_at"),
            func.min(events.c.access_at).label("access_at"),
            func.max(events.c.expiring).label("expiring"),
        )
        .group_by(events.c.patient_id)
        .subquery("access")
    )


@contextlib.contextmanager
def open_cohort(session: Session, period: Period) -> Iterator[Cohort]:
    """The period's cohort tables, filled; dropped again when the block ends."""
    cohort = _cohort_tables()
    connection = session.connection()
    for table in (cohort.groups, cohort.patients):
        connection.execute(text(f"DROP TABLE IF EXISTS {table.name}"))
        table.create(connection, checkfirst=False)
    _fill_groups(session, period, cohort.groups)
    _fill_patients(session, period, cohort)
    yield cohort
    # Not reached on an error: the session's rollback then drops both tables.
    for table in (cohort.patients, cohort.groups):
        table.drop(connection, checkfirst=False)
