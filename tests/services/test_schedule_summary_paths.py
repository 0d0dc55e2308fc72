"""The schedule summary's two ways of counting patients (grouping a small window's visits,
probing each patient for a large one) give the same figures for every kind of filter."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from models import AppointmentStatus
from services import schedule
from services.schedule import ScheduleCriteria, summarize_schedule
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


def test_grouping_and_probing_agree_for_every_filter(session, practice_with_visits, monkeypatch):
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

    def summaries():
        return [summarize_schedule(session, practice_id=practice.id, criteria=c, now=NOW)
                for c in criteria]

    grouped = summaries()
    monkeypatch.setattr(schedule, "EXISTS_FROM_VISITS", 0)
    monkeypatch.setattr(schedule, "EXISTS_SHARE", 0)
    probed = summaries()
    assert probed == grouped
    assert any(summary.patients_by_status for summary in grouped)
    assert grouped[-1].appointments == 0
