"""Arrivals: imported `checked in` becomes Arrived; the desk's one click is audited; arrived
patients with no invitation are listed for the prompt."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlmodel import select

from models import AppointmentStatus, AuditEvent, Enrollment, EnrollmentStatus
from services.arrivals import (
    EXPECTED_LIMIT,
    arrived_not_registered,
    changes_signature,
    expected_today,
    mark_arrived,
)
from services.errors import Conflict, NotFound
from tests.factories import make_appointment, make_patient, make_practice
from tests.services.test_schedule_import import (  # noqa: F401
    SCHEDULE,
    _appointment,
    _csv,
    _import,
    _row,
    practice,
)

ZONE = zoneinfo.ZoneInfo("America/Chicago")
DAY = dt.date(2030, 5, 6)


def at(hour: int) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour), tzinfo=ZONE).astimezone(dt.UTC)


@pytest.mark.parametrize("word", ["Checked In", "checked-in", "Arrived", "here"])
def test_imported_checked_in_is_arrived(session, practice, word):  # noqa: F811
    _import(session, practice, _csv([_row(**{"Status": word})]))
    assert _appointment(session, "A-1").status == AppointmentStatus.arrived


@pytest.fixture
def desk(session):
    clinic = make_practice(session, name="Lake Kids", timezone="America/Chicago")
    new = make_patient(session, clinic, first_name="Noa", last_name="New")
    known = make_patient(session, clinic, first_name="Kit", last_name="Known")
    session.add(Enrollment(practice_id=clinic.id, patient_id=known.id, link_token="kit",
                           status=EnrollmentStatus.active))
    visits = {
        "new": make_appointment(session, clinic, patient=new, start_at=at(9)),
        "known": make_appointment(session, clinic, patient=known, start_at=at(10)),
        "cancelled": make_appointment(session, clinic, patient=new, start_at=at(11),
                                      status=AppointmentStatus.cancelled.value),
    }
    session.commit()
    return clinic, visits


def test_one_click_marks_arrived_audited_and_prompts_for_the_unregistered(session, desk):
    clinic, visits = desk
    now = at(8)
    assert [v.patient_name for v in expected_today(session, practice_id=clinic.id, day=DAY,
                                                   now=now)] == ["New, Noa", "Known, Kit"]
    before = changes_signature(session, practice_id=clinic.id, day=DAY)
    for name in ("new", "known"):
        mark_arrived(session, practice_id=clinic.id, appointment_id=visits[name].id,
                     actor="frontdesk", now=now)
    session.commit()
    assert changes_signature(session, practice_id=clinic.id, day=DAY) != before
    waiting = arrived_not_registered(session, practice_id=clinic.id, day=DAY, now=now)
    assert [v.patient_name for v in waiting] == ["New, Noa"]  # Kit is Active already
    assert waiting[0].label == "9:00 AM New, Noa"
    events = session.exec(select(AuditEvent.actor, AuditEvent.action, AuditEvent.patient_id)
                          .where(AuditEvent.action == "appointment_arrived")).all()
    assert sorted(e[2] for e in events) == sorted(v.patient_id for k, v in visits.items()
                                                  if k != "cancelled")
    assert {e[0] for e in events} == {"frontdesk"}


def test_arrived_refuses_twice_cancelled_and_another_practice(session, desk):
    clinic, visits = desk
    mark_arrived(session, practice_id=clinic.id, appointment_id=visits["new"].id, actor="a")
    with pytest.raises(Conflict):
        mark_arrived(session, practice_id=clinic.id, appointment_id=visits["new"].id,
                     actor="a")
    with pytest.raises(Conflict):
        mark_arrived(session, practice_id=clinic.id, appointment_id=visits["cancelled"].id,
                     actor="a")
    other = make_practice(session)
    with pytest.raises(NotFound):
        mark_arrived(session, practice_id=other.id, appointment_id=visits["known"].id,
                     actor="a")


def test_the_desk_is_offered_the_next_visits_not_the_whole_day(session):
    clinic = make_practice(session, name="Busy Kids", timezone="America/Chicago")
    patient = make_patient(session, clinic, first_name="Bo", last_name="Busy")
    start = at(7)
    for minute in range(0, 600, 5):  # 120 visits, 7:00 to 16:55
        make_appointment(session, clinic, patient=patient,
                         start_at=start + dt.timedelta(minutes=minute))
    session.commit()
    now = at(12)
    offered = expected_today(session, practice_id=clinic.id, day=DAY, now=now)
    assert len(offered) == EXPECTED_LIMIT
    assert offered[0].starts_at == at(10).astimezone(ZONE)  # two hours back, no further
    assert [v.starts_at for v in offered] == sorted(v.starts_at for v in offered)
    assert len(expected_today(session, practice_id=clinic.id, day=DAY, now=now, limit=500)) \
        == 120  # fewer than the limit ahead: topped up with the earlier ones, in time order
    late = expected_today(session, practice_id=clinic.id, day=DAY, now=at(18))
    assert len(late) == EXPECTED_LIMIT  # after the last visit: the day's latest 40, by time
    assert late[-1].starts_at == (at(16) + dt.timedelta(minutes=55)).astimezone(ZONE)
    assert [v.starts_at for v in late] == sorted(v.starts_at for v in late)
