"""The schedule summary's one grouped query gives, for every kind of filter, the figures a
plain reading of the visits gives (visits, unique patients, patients per portal status)."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest
from sqlmodel import select

from models import Appointment, AppointmentStatus, Enrollment, Patient
from services import schedule
from services.schedule import ScheduleCriteria, ScheduleSummary, summarize_schedule
from services.status import derive_status
from tests.factories import (
    make_appointment,
    make_enrollment,
    make_location,
    make_patient,
    make_practice,
    make_provider,
)

NOW = dt.datetime(2026, 6, 15, 16, 0, tzinfo=dt.UTC)


@pytest.fixture
def practice_with_visits(session):
    rng = random.Random(5)
    practice = make_practice(session)
    other = make_practice(session)  # its visits must never count
    locations = [make_location(session, practice) for _ in range(2)]
    providers = [make_provider(session, practice) for _ in range(3)]
    patients = [
        make_patient(session, practice, last_name="Rivera" if i % 4 == 0 else f"Other{i}")
        for i in range(24)]
    for index, patient in enumerate(patients):
        if index % 3 == 0:
            make_enrollment(session, practice, patient=patient,
                            expires_at=NOW + dt.timedelta(days=rng.choice([-2, 5])))
        elif index % 3 == 1 and index % 2:
            make_enrollment(session, practice, patient=patient, status="active")
        for _ in range(rng.randint(0, 4)):
            make_appointment(
                session, practice, patient=patient, location=rng.choice(locations),
                provider=rng.choice(providers),
                start_at=NOW + dt.timedelta(days=rng.randint(-6, 6), hours=rng.randint(-3, 3)),
                status=rng.choice([AppointmentStatus.scheduled.value,
                                   AppointmentStatus.cancelled.value]))
    make_appointment(session, other, start_at=NOW)
    session.commit()
    return practice, locations, providers


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(tzinfo=dt.UTC) if moment and moment.tzinfo is None else moment


def _status(session, patient_id: int) -> str:
    """From the patient's enrollments (one at most here), not the patient row's copy."""
    [enrollment] = session.exec(select(Enrollment).where(
        Enrollment.patient_id == patient_id)).all() or [None]
    if enrollment is None:
        return derive_status(None, None, now=NOW).value
    return derive_status(enrollment.status, _aware(enrollment.expires_at), now=NOW).value


def _reference(session, practice_id: int, criteria: ScheduleCriteria) -> ScheduleSummary:
    """Visit by visit in Python: what the summary must say."""
    lower, upper = schedule.day_bounds(criteria.start, criteria.end, "America/New_York")
    seen: set[int] = set()
    visits = 0
    for visit in session.exec(select(Appointment).where(
            Appointment.practice_id == practice_id)).all():
        if not lower <= _aware(visit.start_at) < upper:
            continue
        if criteria.location_id is not None and visit.location_id != criteria.location_id:
            continue
        if criteria.provider_ids is not None and visit.provider_id not in criteria.provider_ids:
            continue
        if not criteria.include_cancelled and visit.status == AppointmentStatus.cancelled.value:
            continue
        patient = session.get(Patient, visit.patient_id)
        if criteria.search and criteria.search.lower() not in patient.last_name.lower():
            continue
        visits += 1
        seen.add(patient.id)
    if not visits:
        return ScheduleSummary(appointments=0, patients=0)
    by_status = Counter(_status(session, patient_id) for patient_id in seen)
    return ScheduleSummary(appointments=visits, patients=len(seen),
                           patients_by_status=dict(by_status))


def test_the_summary_matches_the_visits_for_every_filter(session, practice_with_visits):
    practice, locations, providers = practice_with_visits
    today = NOW.date()
    criteria = [
        ScheduleCriteria(start=today, end=today),
        ScheduleCriteria(start=today - dt.timedelta(days=7), end=today + dt.timedelta(days=7)),
        ScheduleCriteria(start=today - dt.timedelta(days=3), end=today,
                         location_id=locations[0].id),
        ScheduleCriteria(start=today - dt.timedelta(days=7), end=today + dt.timedelta(days=7),
                         provider_ids=(providers[0].id, providers[2].id)),
        ScheduleCriteria(start=today - dt.timedelta(days=7), end=today + dt.timedelta(days=7),
                         search="rivera"),
        ScheduleCriteria(start=today - dt.timedelta(days=7), end=today + dt.timedelta(days=7),
                         include_cancelled=True, location_id=locations[1].id),
        ScheduleCriteria(start=today + dt.timedelta(days=30), end=today + dt.timedelta(days=31)),
    ]
    summaries = [summarize_schedule(session, practice_id=practice.id, criteria=c, now=NOW)
                 for c in criteria]
    assert summaries == [_reference(session, practice.id, c) for c in criteria]
    assert any(len(summary.patients_by_status) > 1 for summary in summaries)
    assert summaries[1].appointments > summaries[1].patients  # some patients have two visits
    assert summaries[-1].appointments == 0
