"""The Enrollment page's service, for supervisors: headline figures, the "provide patients
electronic access" measure with the patients who miss it, and the series behind the charts.

Every figure is aggregated in SQL (GROUP BY, window functions) and reads the same on SQLite and
PostgreSQL; nothing loads a table into memory.

Who is counted
    The period is a range of the practice's local dates, Start Date to End Date inclusive.
    *Patients seen* are the unique patients with a completed appointment (status ``completed``)
    starting in the period, at the chosen location and providers. Every figure on the page is
    about these patients: *invited* are those with any enrollment ever issued, *activated* those
    whose parent activated a portal account (an enrollment's ``activated_at`` or a
    PortalAccess grant), *activation rate* is activated / invited.

The measure (ONC/CMS Promoting Interoperability, "Provide Patients Electronic Access to Their
Health Information")
    Denominator: the patients seen, as above. A cancelled or no-show visit does not count.

    Access given: the earliest of any enrollment's ``issued_at`` (a PIN or verification question
    issued, whatever became of the enrollment later: voided, expired and declined ones count,
    because access was offered then), any enrollment's ``activated_at`` and any PortalAccess
    ``granted_at``. Access given before the visit counts.

    Deadline: access is timely when it is given no later than the end (local midnight) of the
    4th business day of the visit, counting the visit's own day as the first when it is a
    business day. Business days are Monday to Friday except the practice's Holiday rows.
    A Friday visit: Friday 1, Monday 2, Tuesday 3, Wednesday 4, so access on Wednesday counts
    and access on Thursday (5 business days) misses, as issue 6 specifies. A Saturday visit
    starts counting on Monday. See `access_deadline`.

    Several visits: certified measure calculation (ONC's Cypress test notes for this measure)
    counts a patient only when access was timely for each of their encounters in the period:
    timely at the first visit but late at a later one decrements the numerator; late at the
    first but timely at a later one never enters it. Access, once given, stays given and the
    deadlines only move later, so "timely for every visit" is the same as "timely for the first
    completed visit in the period": that visit's deadline is the patient's deadline.

    Numerator: patients seen whose access was given no later than their deadline.
    Patients not yet given access whose deadline has not passed are *still in time*: outside
    the numerator (as the measure counts them today), flagged in the list so staff can act.

By provider and by location
    Each provider's (location's) own measure: the patients seen by that provider (at that
    location), each with the deadline of their first visit with that provider (there). A patient
    seen by two providers counts for both, so the groups add up to more than the total.

Weekly trend and days to activation
    Invitations are enrollments (re-issued PINs count again) issued in the period to the patients
    seen, by the local week (Monday) they were issued; *activated* are those of them the parent
    activated so far, so the weekly rate is never above 100 %. Days to activation is the time
    from an enrollment's issue to its activation, for the patients seen.

How it is computed
    A small calendar, one row per local day of the period (its UTC bounds, its deadline, its
    week), is built in Python from the practice's timezone and Holiday rows and joined as a
    VALUES CTE, so the SQL never converts timezones or counts business days (which SQLite and
    PostgreSQL would each do differently). A whole practice (no Location or provider filter)
    is read from the visit facts kept by database triggers (services.enrollment_facts): four
    queries, no temporary tables. A filtered scope scans the period's completed visits once
    into two temporary tables (services.enrollment_cohort; per patient, provider and
    location; per patient) and each figure is one GROUP BY or window query over them.
    PostgreSQL refuses temporary tables in a READ ONLY transaction or on a hot standby, so
    these reads need an ordinary transaction.

Where things are
    The page builds one EnrollmentScope (practice, Start Date, End Date, Location, providers)
    from the shared filters and calls build_enrollment_report or
    export_patients_missing_access_csv. The scope's calendar and the cohort tables are in
    services.enrollment_cohort; the charts in services.figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import pandas as pd
from sqlalchemy import Integer, and_, case, cast, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from models import Enrollment, Location, Patient, Provider
from services import enrollment_facts
from services.enrollment_cohort import (
    ACCESS_BUSINESS_DAYS,
    Cohort,
    EnrollmentScope,
    Period,
    access_deadline,
    calendar_cte,
    open_cohort,
    resolve_period,
)
from services.enrollment_facts import DAYS_TO_ACTIVATION_CAP
from services.spreadsheet import frame_csv
from services.status import patient_status_sql

__all__ = [
    "ACCESS_BUSINESS_DAYS", "AccessMeasure", "EnrollmentHeadline", "EnrollmentReport",
    "EnrollmentScope", "access_deadline", "build_enrollment_report",
    "export_patients_missing_access_csv", "list_patients_missing_access",
]

MISSING_PREVIEW_ROWS = 200
SECONDS_PER_DAY = 86_400

MISSING_COLUMNS = [
    "MRN", "Patient", "Date of birth", "First visit", "Provider", "Location", "Access due by",
    "Access given", "Portal status", "Still in time",
]
RATE_COLUMNS = ["name", "seen", "timely", "timely_rate", "invited", "activated", "activated_rate"]


@dataclass(frozen=True)
class EnrollmentHeadline:
    """The headline figures for the patients seen in the period."""

    patients_seen: int
    invited: int
    activated: int
    activation_rate: float | None  # activated / invited
    median_days_to_activation: float | None
    pins_expiring_soon: int  # live PINs that expire within the next 7 days
    reminded: int = 0  # invitations of these patients that got at least one reminder
    activated_after_reminder: int = 0  # of those, activated (reminders stop at activation)


@dataclass(frozen=True)
class AccessMeasure:
    """The "provide patients electronic access" measure for the period."""

    numerator: int
    denominator: int
    rate: float | None
    missing: int  # denominator - numerator
    still_in_time: int  # missing, not yet given access, deadline not passed


@dataclass(frozen=True)
class EnrollmentReport:
    """Everything the Enrollment page shows for one practice, period and filter."""

    start: dt.date
    end: dt.date
    headline: EnrollmentHeadline
    measure: AccessMeasure
    funnel: pd.DataFrame  # stage, patients
    weekly: pd.DataFrame  # week_start, invitations, activated, rate
    by_provider: pd.DataFrame  # RATE_COLUMNS, laggards first
    by_location: pd.DataFrame  # RATE_COLUMNS, laggards first
    days_to_activation: pd.DataFrame  # days (capped), enrollments
    missing_preview: pd.DataFrame  # MISSING_COLUMNS, the first MISSING_PREVIEW_ROWS



def _count(expression) -> ColumnElement[int]:
    return func.coalesce(func.sum(expression), 0)


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _seconds_between(session: Session, later, earlier) -> ColumnElement[int]:
    """Whole seconds from `earlier` to `later`, the same integer on both databases."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.round((func.julianday(later) - func.julianday(earlier)) * SECONDS_PER_DAY),
                    Integer)
    return cast(func.round(func.extract("epoch", later - earlier)), Integer)


# ---------------------------------------------------------------------------------------------
# The figures, each one query over the cohort.


def _headline_counts(session: Session, period: Period, cohort: Cohort):
    patients = cohort.patients
    return session.execute(
        select(
            func.count().label("seen"),
            func.count(patients.c.invited_at).label("invited"),
            func.count(patients.c.activated_at).label("activated"),
            _count(patients.c.timely).label("timely"),
            _count(case((and_(patients.c.timely == 0, patients.c.deadline_end > period.now), 1),
                        else_=0)).label("still_in_time"),
            _count(patients.c.expiring).label("expiring"),
        )
    ).one()


def _reminder_counts(session: Session, cohort: Cohort) -> tuple[int, int]:
    """Invitations reminded, and activated after a reminder, for the patients seen."""
    enrollment = Enrollment.__table__
    reminded = enrollment.c.reminders_sent > 0
    row = session.execute(
        select(_count(case((reminded, 1), else_=0)),
               _count(case((and_(reminded, enrollment.c.activated_at.is_not(None)), 1),
                           else_=0)))
        .join(cohort.patients, cohort.patients.c.patient_id == enrollment.c.patient_id)
    ).one()
    return int(row[0]), int(row[1])


def _measure(counts) -> AccessMeasure:
    return AccessMeasure(
        numerator=counts.timely,
        denominator=counts.seen,
        rate=_rate(counts.timely, counts.seen),
        missing=counts.seen - counts.timely,
        still_in_time=counts.still_in_time,
    )


def _activation_durations(session: Session, period: Period, cohort: Cohort):
    """Seconds from issue to activation of each activated enrollment of the patients seen."""
    enrollment = Enrollment.__table__
    seconds = _seconds_between(session, enrollment.c.activated_at, enrollment.c.issued_at)
    return (
        select(case((seconds < 0, 0), else_=seconds).label("seconds"))
        .join(cohort.patients, cohort.patients.c.patient_id == enrollment.c.patient_id)
        .where(enrollment.c.practice_id == period.practice_id,
               enrollment.c.activated_at.is_not(None))
        .subquery("durations")
    )


def _median_days_to_activation(session: Session, period: Period, cohort: Cohort) -> float | None:
    durations = _activation_durations(session, period, cohort)
    ranked = select(
        durations.c.seconds,
        func.row_number().over(order_by=durations.c.seconds).label("position"),
        func.count().over().label("total"),
    ).subquery("ranked")
    # The middle row, or the mean of the two middle rows when the count is even.
    median_seconds = session.execute(
        select(func.avg(ranked.c.seconds)).where(
            ranked.c.position.in_([(ranked.c.total + 1) // 2, (ranked.c.total + 2) // 2])
        )
    ).scalar()
    return None if median_seconds is None else round(float(median_seconds) / SECONDS_PER_DAY, 1)


def _days_to_activation(session: Session, period: Period, cohort: Cohort) -> pd.DataFrame:
    durations = _activation_durations(session, period, cohort)
    cap = DAYS_TO_ACTIVATION_CAP
    bucket = case(
        (durations.c.seconds >= cap * SECONDS_PER_DAY, cap),
        else_=durations.c.seconds // SECONDS_PER_DAY,
    ).label("days")
    rows = session.execute(
        select(bucket, func.count().label("enrollments")).group_by(bucket).order_by(bucket)
    ).all()
    counts = {int(days): enrollments for days, enrollments in rows}
    # Every day up to the longest one, so the histogram shows its gaps as zero bars.
    longest = max(counts, default=-1)
    return pd.DataFrame({
        "days": list(range(longest + 1)),
        "enrollments": [counts.get(days, 0) for days in range(longest + 1)],
    })


def _weekly(session: Session, period: Period, cohort: Cohort) -> pd.DataFrame:
    calendar = calendar_cte(period)
    enrollment = Enrollment.__table__
    rows = session.execute(
        select(
            calendar.c.week_start,
            func.count(enrollment.c.id).label("invitations"),
            func.count(enrollment.c.activated_at).label("activated"),
        )
        .select_from(calendar)
        .join(enrollment, and_(enrollment.c.practice_id == period.practice_id,
                               enrollment.c.issued_at >= calendar.c.day_start,
                               enrollment.c.issued_at < calendar.c.day_end))
        .join(cohort.patients, cohort.patients.c.patient_id == enrollment.c.patient_id)
        .group_by(calendar.c.week_start)
    ).all()
    return enrollment_facts.weekly_frame(period, {week: (invitations, activated)
                                  for week, invitations, activated in rows})


def _rates_by(session: Session, cohort: Cohort, *, group: str) -> pd.DataFrame:
    """Each provider's (location's) own measure and funnel; laggards first."""
    groups, patients = cohort.groups, cohort.patients
    named = Provider.__table__ if group == "provider" else Location.__table__
    group_column = groups.c.provider_id if group == "provider" else groups.c.location_id
    seen_by_group = (
        select(
            group_column.label("group_id"),
            groups.c.patient_id,
            func.min(groups.c.deadline_end).label("deadline_end"),
        )
        .group_by(group_column, groups.c.patient_id)
        .subquery("seen_by_group")
    )
    rows = session.execute(
        select(
            named.c.name,
            func.count().label("seen"),
            _count(case((patients.c.access_at < seen_by_group.c.deadline_end, 1), else_=0))
            .label("timely"),
            func.count(patients.c.invited_at).label("invited"),
            func.count(patients.c.activated_at).label("activated"),
        )
        .select_from(seen_by_group)
        .join(named, named.c.id == seen_by_group.c.group_id)
        .join(patients, patients.c.patient_id == seen_by_group.c.patient_id)
        .group_by(named.c.id, named.c.name)
    ).all()
    frame = pd.DataFrame(rows, columns=["name", "seen", "timely", "invited", "activated"])
    frame["timely_rate"] = frame["timely"] / frame["seen"]
    frame["activated_rate"] = frame["activated"] / frame["seen"]
    frame = frame.sort_values(["timely_rate", "seen", "name"], ascending=[True, False, True])
    return frame[RATE_COLUMNS].reset_index(drop=True)


def _missing(session: Session, period: Period, cohort: Cohort, *, limit: int | None
             ) -> pd.DataFrame:
    groups, patients = cohort.groups, cohort.patients
    # The provider and location of each missing patient's first visit (ties: lowest ids).
    first_groups = (
        select(
            groups.c.patient_id,
            groups.c.provider_id,
            groups.c.location_id,
            func.row_number().over(
                partition_by=groups.c.patient_id,
                order_by=(groups.c.first_start, groups.c.provider_id, groups.c.location_id),
            ).label("position"),
        )
        .join(patients, and_(patients.c.patient_id == groups.c.patient_id,
                             patients.c.timely == 0))
        .subquery("first_groups")
    )
    query = (
        select(
            Patient.mrn,
            Patient.last_name,
            Patient.first_name,
            Patient.date_of_birth,
            patients.c.first_day,
            Provider.name.label("provider"),
            Location.name.label("location"),
            patients.c.deadline,
            patients.c.deadline_end,
            patients.c.access_at,
            patient_status_sql(period.now).label("portal_status"),
        )
        .select_from(patients)
        .join(first_groups, and_(first_groups.c.patient_id == patients.c.patient_id,
                                 first_groups.c.position == 1))
        .join(Patient, Patient.id == patients.c.patient_id)
        .join(Provider, Provider.id == first_groups.c.provider_id)
        .join(Location, Location.id == first_groups.c.location_id)
        # Today's portal status from the patient row's copy of its live enrollment.
        .where(patients.c.timely == 0)
        .order_by(patients.c.first_day, Patient.last_name, Patient.first_name, Patient.mrn)
    )
    if limit is not None:
        query = query.limit(limit)
    return _missing_frame(period, session.execute(query))


def _missing_frame(period: Period, rows) -> pd.DataFrame:
    records = [
        {
            "MRN": row.mrn,
            "Patient": f"{row.last_name}, {row.first_name}",
            "Date of birth": row.date_of_birth,
            "First visit": row.first_day,
            "Provider": row.provider,
            "Location": row.location,
            "Access due by": row.deadline,
            "Access given": row.access_at.astimezone(period.zone).date() if row.access_at else None,
            "Portal status": row.portal_status,
            "Still in time": row.access_at is None and row.deadline_end > period.now,
        }
        for row in rows
    ]
    return pd.DataFrame(records, columns=MISSING_COLUMNS)


def _report_from_facts(session: Session, period: Period, *, missing_limit: int
                       ) -> EnrollmentReport:
    """The whole practice's report from the visit facts (services.enrollment_facts)."""
    counts = enrollment_facts.counts(session, period)
    figures = enrollment_facts.enrollment_figures(session, period)
    median, days_frame = enrollment_facts.durations_figures(figures.durations)
    headline = EnrollmentHeadline(
        patients_seen=counts.seen,
        invited=counts.invited,
        activated=counts.activated,
        activation_rate=_rate(counts.activated, counts.invited),
        median_days_to_activation=median,
        pins_expiring_soon=counts.expiring,
        reminded=figures.reminded,
        activated_after_reminder=figures.activated_after_reminder,
    )
    return EnrollmentReport(
        start=period.start,
        end=period.end,
        headline=headline,
        measure=_measure(counts),
        funnel=pd.DataFrame({
            "stage": ["Seen", "Invited", "Activated"],
            "patients": [headline.patients_seen, headline.invited, headline.activated],
        }),
        weekly=enrollment_facts.weekly_frame(period, figures.weekly),
        by_provider=enrollment_facts.rates_frame(session, counts.by_provider, group="provider",
                                                 columns=RATE_COLUMNS),
        by_location=enrollment_facts.rates_frame(session, counts.by_location, group="location",
                                                 columns=RATE_COLUMNS),
        days_to_activation=days_frame,
        missing_preview=_missing_frame(
            period, enrollment_facts.missing_rows(session, period, limit=missing_limit,
                                                  last_day=counts.last_day_for(missing_limit))),
    )


# ---------------------------------------------------------------------------------------------
# Use cases.


def build_enrollment_report(
    session: Session,
    *,
    scope: EnrollmentScope,
    now: dt.datetime | None = None,
    missing_limit: int = MISSING_PREVIEW_ROWS,
) -> EnrollmentReport:
    """Every figure of the Enrollment page for the patients seen in the scope's period."""
    period = resolve_period(session, scope, now=now)
    if enrollment_facts.applies(period):
        return _report_from_facts(session, period, missing_limit=missing_limit)
    with open_cohort(session, period) as cohort:
        counts = _headline_counts(session, period, cohort)
        measure = _measure(counts)
        headline = EnrollmentHeadline(
            patients_seen=counts.seen,
            invited=counts.invited,
            activated=counts.activated,
            activation_rate=_rate(counts.activated, counts.invited),
            median_days_to_activation=_median_days_to_activation(session, period, cohort),
            pins_expiring_soon=counts.expiring,
        )
        reminded, activated_after = _reminder_counts(session, cohort)
        headline = replace(headline, reminded=reminded, activated_after_reminder=activated_after)
        return EnrollmentReport(
            start=scope.start,
            end=scope.end,
            headline=headline,
            measure=measure,
            funnel=pd.DataFrame({
                "stage": ["Seen", "Invited", "Activated"],
                "patients": [headline.patients_seen, headline.invited, headline.activated],
            }),
            weekly=_weekly(session, period, cohort),
            by_provider=_rates_by(session, cohort, group="provider"),
            by_location=_rates_by(session, cohort, group="location"),
            days_to_activation=_days_to_activation(session, period, cohort),
            missing_preview=_missing(session, period, cohort, limit=missing_limit),
        )


def list_patients_missing_access(
    session: Session,
    *,
    scope: EnrollmentScope,
    now: dt.datetime | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """The patients seen in the scope's period outside the measure's numerator, by first
    visit."""
    period = resolve_period(session, scope, now=now)
    if enrollment_facts.applies(period):
        return _missing_frame(period, enrollment_facts.missing_rows(session, period, limit=limit))
    with open_cohort(session, period) as cohort:
        return _missing(session, period, cohort, limit=limit)


def export_patients_missing_access_csv(
    session: Session, *, scope: EnrollmentScope, now: dt.datetime | None = None
) -> str:
    """The patients missing the measure as CSV text, every one of them."""
    frame = list_patients_missing_access(session, scope=scope, now=now)
    frame["Still in time"] = frame["Still in time"].map({True: "yes", False: "no"})
    return frame_csv(frame)  # names come from imports and forms: no formulas
