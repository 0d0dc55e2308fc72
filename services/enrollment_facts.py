"""The Enrollment figures for a whole practice (no Location or provider filter) from the visit
facts kept ahead of time (models.VisitFact, patient.first_invited_at / first_activated_at, all
maintained by database triggers: migration 0008_visit_facts), with no temporary tables. The
rules are services.enrollment's; that module calls this one.

Each completed visit's fact row carries the start of the same patient's previous completed
visit (overall, with the same provider, at the same location). A visit is the patient's
(provider's, location's) first in the period exactly when that previous start is missing or
before the period's first local midnight, so "first visit in the period" is a filter on an index
and no GROUP BY over every visit. The period's calendar (local days, deadlines after holidays)
is applied at query time, so holidays and a timezone change apply at once.

    1. counts: one small grouped query per local day over that day's first visits (one
       packed integer key: provider, location, which firsts; sums of timely, invited,
       activated, PIN expiring), summed here into the headline, the measure and both rate
       tables;
    2. the missing list, ordered and limited in SQL;
    3. the enrollments of the patients seen: reminders, invitations by local week and days
       to activation in one grouped scan (the durations joined per week, sorted here).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Integer,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlmodel import Session
from sqlmodel.sql.sqltypes import UTCDateTime

from models import Enrollment as EnrollmentModel
from models import EnrollmentStatus, Location, Patient, Provider, VisitFact
from services.enrollment_cohort import EXPIRING_WITHIN, Period, calendar_cte
from services.status import patient_status_sql

SECONDS_PER_DAY = 86_400
DAYS_TO_ACTIVATION_CAP = 21  # the histogram's last bar holds this many days and more


@dataclass(frozen=True)
class Counts:
    """Sums over the period's first visits, for the whole practice and per group."""

    seen: int
    invited: int
    activated: int
    timely: int
    still_in_time: int
    expiring: int
    by_provider: dict[int, list[int]]  # provider id -> [seen, timely, invited, activated]
    by_location: dict[int, list[int]]
    missing_by_day: dict[dt.date, int]  # patients outside the numerator, by first visit

    def last_day_for(self, rows: int | None) -> dt.date | None:
        """The first visit day by which the missing list has `rows` rows (None: all)."""
        if rows is None:
            return None
        total = 0
        for day in sorted(self.missing_by_day):
            total += self.missing_by_day[day]
            if total >= rows:
                return day
        return None


def applies(period: Period) -> bool:
    """The facts answer a whole practice's period; filtered scopes use the cohort tables."""
    return period.location_id is None and period.provider_ids is None


def _bounds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    return period.calendar_rows[0][1], period.calendar_rows[-1][2]


def access_at_sql(source=None):
    """The patient's first access: the earlier of first invitation and first activation (of
    the patient row, or of a visit fact's copy of it)."""
    columns = Patient.__table__.c if source is None else source.c
    invited, activated = columns.first_invited_at, columns.first_activated_at
    return case(
        (invited.is_(None), activated),
        (activated.is_(None), invited),
        (invited <= activated, invited),
        else_=activated,
    )


def _flag(condition):
    return case((condition, 1), else_=0)


def _first(column, start: dt.datetime):
    return or_(column.is_(None), column < start)


def _period_visits(period: Period, calendar, *columns):
    """The period's completed visits of the practice, each with its local day's calendar row;
    the calendar drives the join, one range of ix_visit_fact_window per day."""
    fact = VisitFact.__table__
    return (
        select(*columns)
        .select_from(calendar)
        .join(fact, and_(fact.c.practice_id == period.practice_id,
                         fact.c.start_at >= calendar.c.day_start,
                         fact.c.start_at < calendar.c.day_end))
    )


_FLAG_BITS = 3
_LOCATION_BITS = 29  # location ids below 2**29, provider ids below 2**31: a 63-bit key


def _group_key(provider, location, first_patient, first_provider, first_location):
    """(provider, location, three 0/1 flags) as one integer below 2**63, exact for provider
    ids below 2**31 and location ids below 2**29 (counts checks), and far cheaper for
    SQLite's sorter than five columns."""
    flags = first_patient * 4 + first_provider * 2 + first_location
    shift = literal(2 ** (_LOCATION_BITS + _FLAG_BITS), BigInteger)  # BIGINT on PostgreSQL
    return cast(provider, BigInteger) * shift + location * (2 ** _FLAG_BITS) + flags


def _unpack(packed: int) -> tuple[int, int, int, int, int]:
    packed = int(packed)
    flags = packed % (2 ** _FLAG_BITS)
    location = packed // (2 ** _FLAG_BITS) % (2 ** _LOCATION_BITS)
    provider = packed // (2 ** (_LOCATION_BITS + _FLAG_BITS))
    return provider, location, flags >> 2 & 1, flags >> 1 & 1, flags & 1


def _keys_fit(session: Session) -> bool:
    """Do every provider's and location's ids fit _group_key? (two index lookups)"""
    largest_provider = session.execute(select(func.max(Provider.id))).scalar() or 0
    largest_location = session.execute(select(func.max(Location.id))).scalar() or 0
    return largest_provider < 2 ** 31 and largest_location < 2 ** _LOCATION_BITS


def counts(session: Session, period: Period) -> Counts:
    """One small grouped query per day of the period over its first visits (a range of
    ix_visit_fact_window, the day's deadline a bound value, no calendar join). SQLite has no
    hash aggregation: it sorts the rows for GROUP BY, so the sort is most of the cost. A day's
    few thousand rows sort in memory far faster than the whole period's at once, and the
    group is one integer (provider, location and the three "first" flags packed by
    _group_key) rather than five columns; everything else is a sum inside the group. "Still
    in time" is "not timely" on a day whose deadline is still ahead."""
    if not _keys_fit(session):
        raise ValueError("provider or location ids too large for the Enrollment group key")
    fact = VisitFact.__table__
    start, _ = _bounds(period)
    access_at = access_at_sql(fact)  # the facts' copies: no patient row read
    first_patient = _flag(_first(fact.c.prev_start_at, start))
    first_provider = _flag(_first(fact.c.prev_provider_start_at, start))
    first_location = _flag(_first(fact.c.prev_location_start_at, start))
    timely = _flag(access_at < bindparam("deadline_end", type_=UTCDateTime()))
    # Only invited PINs are live and unique per patient: the copy of the live enrollment says
    # whether one expires soon.
    expiring = _flag(and_(fact.c.live_enrollment_status == EnrollmentStatus.invited.value,
                          fact.c.live_enrollment_expires_at > period.now,
                          fact.c.live_enrollment_expires_at <= period.now + EXPIRING_WITHIN))
    key = _group_key(fact.c.provider_id, fact.c.location_id, first_patient, first_provider,
                     first_location).label("group_key")
    query = (
        select(key, func.count(), func.sum(timely), func.count(fact.c.first_invited_at),
               func.count(fact.c.first_activated_at), func.sum(expiring))
        .where(fact.c.practice_id == period.practice_id,
               fact.c.start_at >= bindparam("day_start", type_=UTCDateTime()),
               fact.c.start_at < bindparam("day_end", type_=UTCDateTime()),
               or_(_first(fact.c.prev_start_at, start),
                   _first(fact.c.prev_provider_start_at, start),
                   _first(fact.c.prev_location_start_at, start)))
        .group_by(key)
    )
    totals = [0] * 6
    by_provider: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    by_location: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    missing_by_day: dict[dt.date, int] = defaultdict(int)
    for day, day_start, day_end, _deadline, deadline_end, _week in period.calendar_rows:
        ahead = deadline_end > period.now
        for (packed, number, number_timely, number_invited, number_activated, number_expiring
             ) in session.execute(query, {"day_start": day_start, "day_end": day_end,
                                          "deadline_end": deadline_end}):
            provider, location, is_first, provider_first, location_first = _unpack(packed)
            figures = (int(number), int(number_timely), int(number_invited),
                       int(number_activated))
            if is_first:
                late = figures[0] - figures[1]
                missing_by_day[day] += late
                for index, value in enumerate((*figures, late if ahead else 0,
                                               int(number_expiring))):
                    totals[index] += value
            for first, groups, key in ((provider_first, by_provider, provider),
                                       (location_first, by_location, location)):
                if first:
                    for index, value in enumerate(figures):
                        groups[key][index] += value
    seen, timely_total, invited_total, activated_total, still_total, expiring_total = totals
    return Counts(seen=seen, invited=invited_total, activated=activated_total,
                  timely=timely_total, still_in_time=still_total, expiring=expiring_total,
                  by_provider=dict(by_provider), by_location=dict(by_location),
                  missing_by_day=dict(missing_by_day))


def rates_frame(session: Session, groups: dict[int, list[int]], *, group: str,
                columns: list[str]) -> pd.DataFrame:
    """Each provider's (location's) own measure and funnel; laggards first."""
    named = Provider if group == "provider" else Location
    names = dict(session.execute(select(named.id, named.name).where(named.id.in_(list(groups)))
                                 ).all()) if groups else {}
    frame = pd.DataFrame(
        [(names[key], *figures) for key, figures in groups.items()],
        columns=["name", "seen", "timely", "invited", "activated"],
    )
    frame["timely_rate"] = frame["timely"] / frame["seen"]
    frame["activated_rate"] = frame["activated"] / frame["seen"]
    frame = frame.sort_values(["timely_rate", "seen", "name"], ascending=[True, False, True])
    return frame[columns].reset_index(drop=True)


def missing_rows(session: Session, period: Period, *, limit: int | None,
                 last_day: dt.date | None = None):
    """The patients seen outside the numerator, by first visit, with that visit's provider
    and location (the fact row of the first visit itself). `last_day` (from
    Counts.last_day_for) spares reading the patients of later days for a limited list."""
    calendar = calendar_cte(period)
    fact = VisitFact.__table__
    start, _ = _bounds(period)
    access_at = access_at_sql()
    query = (
        _period_visits(
            period, calendar,
            Patient.mrn, Patient.last_name, Patient.first_name, Patient.date_of_birth,
            calendar.c.day.label("first_day"), Provider.name.label("provider"),
            Location.name.label("location"), calendar.c.deadline, calendar.c.deadline_end,
            access_at.label("access_at"), patient_status_sql(period.now).label("portal_status"),
        )
        .join(Patient, Patient.id == fact.c.patient_id)
        .join(Provider, Provider.id == fact.c.provider_id)
        .join(Location, Location.id == fact.c.location_id)
        .where(_first(fact.c.prev_start_at, start),
               or_(access_at.is_(None), access_at >= calendar.c.deadline_end))
        .order_by(calendar.c.day, Patient.last_name, Patient.first_name, Patient.mrn)
    )
    if last_day is not None:
        query = query.where(calendar.c.day <= last_day)
    if limit is not None:
        query = query.limit(limit)
    return session.execute(query).all()


def _seen_patient(period: Period, patient_id):
    """Has this patient a completed visit in the period? (the patients seen; a probe of
    ix_visit_fact_patient: the patient is the practice's, as the caller's rows are)"""
    fact = VisitFact.__table__
    start, end = _bounds(period)
    # SELECT 1, not EXISTS (SELECT *): with * SQLite reads each probed visit_fact row, not
    # only the index.
    return exists(select(literal(1)).where(fact.c.patient_id == patient_id,
                                           fact.c.start_at >= start, fact.c.start_at < end))


def _seconds_between(session: Session, later, earlier):
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.round((func.julianday(later) - func.julianday(earlier))
                               * SECONDS_PER_DAY), Integer)
    return cast(func.round(func.extract("epoch", later - earlier)), Integer)


@dataclass(frozen=True)
class EnrollmentFigures:
    reminded: int
    activated_after_reminder: int
    durations: list[int]  # seconds from issue to activation, sorted
    weekly: dict[dt.date, tuple[int, int]]  # local week -> (invitations, activated)


def _weeks(period: Period) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
    """The period's local weeks (Monday) with their UTC bounds, in order."""
    weeks: dict[dt.date, tuple[dt.datetime, dt.datetime]] = {}
    for _day, day_start, day_end, _deadline, _deadline_end, week in period.calendar_rows:
        first, _ = weeks.get(week, (day_start, day_end))
        weeks[week] = (first, day_end)
    return [(week, first, last) for week, (first, last) in weeks.items()]


def _issued_week(period: Period, issued_at):
    """The index in _weeks of the local week of an issue inside the period, else NULL: a
    CASE over the weeks' UTC bounds (no timezone arithmetic in SQL), nested by halves so that
    a row costs a few comparisons rather than two per week."""
    weeks = _weeks(period)

    def within(low: int, high: int):  # weeks[low:high]
        if high - low == 1:
            return literal(low)
        middle = (low + high) // 2
        return case((issued_at < weeks[middle][1], within(low, middle)),
                    else_=within(middle, high))

    return case((or_(issued_at < weeks[0][1], issued_at >= weeks[-1][2]), literal(None)),
                else_=within(0, len(weeks)))


def _joined(session: Session, values):
    """The non-null integers of `values` in a group as one comma-separated text (one value
    per group instead of a row per enrollment)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.group_concat(values, ",")
    return func.string_agg(cast(values, Text), ",")


def enrollment_figures(session: Session, period: Period) -> EnrollmentFigures:
    """Reminders, days to activation and invitations by week over the enrollments of the
    patients seen: one scan of the enrollments, one index probe each, grouped by local week
    of issue. The durations come back joined in one text per week (no GROUP BY over the
    durations, no row per activation) and are sorted here."""
    enrollment = EnrollmentModel.__table__
    seconds = _seconds_between(session, enrollment.c.activated_at, enrollment.c.issued_at)
    ours = enrollment.c.practice_id == period.practice_id
    seen = _seen_patient(period, enrollment.c.patient_id)
    reminded = _flag(enrollment.c.reminders_sent > 0)
    activated = _flag(enrollment.c.activated_at.is_not(None))
    # Inside CASE, not a WHERE term, so that the planner scans the table instead of reading
    # ix_enrollment_practice_issued and then every row by its id.
    duration = case(
        (and_(ours, enrollment.c.activated_at.is_not(None)), case((seconds < 0, 0),
                                                                    else_=seconds)),
        else_=literal(None),
    )
    week = case((ours, _issued_week(period, enrollment.c.issued_at)), else_=literal(None))
    rows = session.execute(
        select(week, func.count(), func.sum(activated), func.sum(reminded),
               func.sum(reminded * activated), _joined(session, duration))
        .where(seen)
        .group_by(week)
    ).all()
    weeks = _weeks(period)
    weekly: dict[dt.date, tuple[int, int]] = {}
    total_reminded = reminded_activated = 0
    durations: list[int] = []
    for (issued_week, number, number_activated, number_reminded, reminded_and_activated,
         joined) in rows:
        total_reminded += int(number_reminded or 0)
        reminded_activated += int(reminded_and_activated or 0)
        if issued_week is not None:
            weekly[weeks[int(issued_week)][0]] = (int(number), int(number_activated))
        if joined:
            durations.extend(map(int, joined.split(",")))
    durations.sort()
    return EnrollmentFigures(total_reminded, reminded_activated, durations, weekly)


def weekly_frame(period: Period, counts: dict) -> pd.DataFrame:
    weeks = sorted({row[5] for row in period.calendar_rows})
    invitations = [counts.get(week, (0, 0))[0] for week in weeks]
    activated = [counts.get(week, (0, 0))[1] for week in weeks]
    return pd.DataFrame({
        "week_start": weeks,
        "invitations": invitations,
        "activated": activated,
        "rate": [a / i if i else None for a, i in zip(activated, invitations, strict=True)],
    })


def durations_figures(durations: list[int]) -> tuple[float | None, pd.DataFrame]:
    """The median in days (sorted seconds) and the days-to-activation histogram."""
    median = None
    if durations:
        middle = len(durations) // 2
        seconds = (durations[middle] if len(durations) % 2
                   else (durations[middle - 1] + durations[middle]) / 2)
        median = round(float(seconds) / SECONDS_PER_DAY, 1)
    counts: dict[int, int] = {}
    for seconds in durations:
        days = min(seconds // SECONDS_PER_DAY, DAYS_TO_ACTIVATION_CAP)
        counts[days] = counts.get(days, 0) + 1
    longest = max(counts, default=-1)
    return median, pd.DataFrame({
        "days": list(range(longest + 1)),
        "enrollments": [counts.get(days, 0) for days in range(longest + 1)],
    })
