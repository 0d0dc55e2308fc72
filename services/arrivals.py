"""Arrivals on the Dashboard: the desk marks a visit Arrived with one click (audited), and the
arrived patients who still have no portal invitation are listed first with a prompt to register
them while the family is in the building. An import can also bring Arrived (arrived, checked in,
here: services/schedule_import/checks.py).

    waiting = arrived_not_registered(session, practice_id=..., day=today)
    mark_arrived(session, practice_id=..., appointment_id=..., actor=username)
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlmodel import Session

from models import Appointment, AppointmentStatus, AuditEvent, Enrollment, Patient, utcnow
from services.audit import record_event
from services.dates import time_text
from services.errors import Conflict, NotFound
from services.practices import get_practice
from services.schedule import day_bounds
from services.status import PortalStatus, status_sql

NEEDS_INVITATION = (PortalStatus.not_registered.value, PortalStatus.pin_expired.value)
EXPECTED_LIMIT = 40  # visits offered to mark Arrived: the desk's next hours, not the whole day
EXPECTED_LOOKBACK = dt.timedelta(hours=2)  # a family late for its time can still be marked


@dataclass(frozen=True)
class VisitToday:
    """One of today's visits as the arrivals panel shows it."""

    appointment_id: int
    patient_id: int
    starts_at: dt.datetime  # in the practice's timezone
    patient_name: str
    portal_status: PortalStatus

    @property
    def label(self) -> str:
        return f"{time_text(self.starts_at)} {self.patient_name}"


def _zone(session: Session, practice_id: int) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(get_practice(session, practice_id=practice_id).timezone)


def _visits(session: Session, *, practice_id: int, day: dt.date, status: str,
            location_id: int | None, now: dt.datetime, since: dt.datetime | None = None,
            before: dt.datetime | None = None, limit: int | None = None) -> list[VisitToday]:
    """The day's visits with `status` by time; with `before`, the latest `limit` before it."""
    zone = _zone(session, practice_id)
    lower, upper = day_bounds(day, day, zone.key)
    query = (
        select(Appointment.id, Patient.id, Appointment.start_at, Patient.last_name,
               Patient.first_name, status_sql(now))
        .join(Patient, Patient.id == Appointment.patient_id)
        .outerjoin(Enrollment, Enrollment.id == Patient.live_enrollment_id)
        .where(Appointment.practice_id == practice_id, Appointment.start_at >= lower,
               Appointment.start_at < upper, Appointment.status == status)
    )
    if location_id is not None:
        query = query.where(Appointment.location_id == location_id)
    if since is not None:
        query = query.where(Appointment.start_at >= since)
    if before is not None:  # the latest ones before, read newest first and turned back
        query = query.where(Appointment.start_at < before).order_by(
            Appointment.start_at.desc(), Appointment.id.desc())
    else:
        query = query.order_by(Appointment.start_at, Appointment.id)
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    if before is not None:
        rows.reverse()
    return [
        VisitToday(appointment_id=appointment_id, patient_id=patient_id,
                   starts_at=start_at.astimezone(zone), patient_name=f"{last}, {first}",
                   portal_status=PortalStatus(portal_status))
        for appointment_id, patient_id, start_at, last, first, portal_status
        in rows
    ]


def arrived_not_registered(session: Session, *, practice_id: int, day: dt.date,
                           location_id: int | None = None,
                           now: dt.datetime | None = None) -> list[VisitToday]:
    """Today's arrived patients with no invitation yet (or a PIN that expired), by time."""
    visits = _visits(session, practice_id=practice_id, day=day,
                     status=AppointmentStatus.arrived.value, location_id=location_id,
                     now=now or utcnow())
    return [visit for visit in visits if visit.portal_status in NEEDS_INVITATION]


def expected_today(session: Session, *, practice_id: int, day: dt.date,
                   location_id: int | None = None,
                   now: dt.datetime | None = None,
                   limit: int = EXPECTED_LIMIT) -> list[VisitToday]:
    """Today's visits still Scheduled that the desk can mark Arrived, by time: the next `limit`
    from two hours before now, topped up with the latest earlier ones when fewer remain (a busy
    day holds thousands; the panel offers the desk's next hours)."""
    now = now or utcnow()
    since = now - EXPECTED_LOOKBACK
    ahead = _visits(session, practice_id=practice_id, day=day,
                    status=AppointmentStatus.scheduled.value, location_id=location_id,
                    now=now, since=since, limit=limit)
    if len(ahead) >= limit:
        return ahead
    earlier = _visits(session, practice_id=practice_id, day=day,
                      status=AppointmentStatus.scheduled.value, location_id=location_id,
                      now=now, before=since, limit=limit - len(ahead))
    return earlier + ahead


def mark_arrived(session: Session, *, practice_id: int, appointment_id: int, actor: str,
                 now: dt.datetime | None = None) -> None:
    """Scheduled → Arrived for one visit, audited; Conflict when it is no longer Scheduled."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.practice_id != practice_id:
        raise NotFound("That appointment is not on this practice's schedule.")
    changed = session.execute(
        update(Appointment)
        .where(Appointment.id == appointment_id,
               Appointment.status == AppointmentStatus.scheduled.value)
        .values(status=AppointmentStatus.arrived.value)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise Conflict("This visit is no longer Scheduled (someone changed it, or a new import "
                       "did): reload the Dashboard.", field="Arrived")
    record_event(session, actor=actor, action="appointment_arrived", practice_id=practice_id,
                 patient_id=appointment.patient_id, appointment_id=appointment_id,
                 at=(now or utcnow()).isoformat())


def changes_signature(session: Session, *, practice_id: int, day: dt.date) -> tuple:
    """A fingerprint of what the Dashboard shows for `day` that arrivals and activations
    change: the refresh reruns the page only when it moves."""
    zone = _zone(session, practice_id)
    lower, upper = day_bounds(day, day, zone.key)
    arrived = session.execute(
        select(func.count()).select_from(Appointment).where(
            Appointment.practice_id == practice_id, Appointment.start_at >= lower,
            Appointment.start_at < upper,
            Appointment.status == AppointmentStatus.arrived.value)
    ).scalar_one()
    # Every change to a patient's portal access (registration, new PIN, activation, lock,
    # decline, arrival) records an audit event for the practice: the newest one's time moves
    # with them, read from the end of ix_auditevent_practice_at (an aggregate over the
    # practice's enrollments cost ~220 ms a run at 1,000,000 appointments).
    latest = session.execute(
        select(func.max(AuditEvent.at)).where(AuditEvent.practice_id == practice_id)
    ).scalar()
    return (arrived, latest)
