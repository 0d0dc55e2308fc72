"""What the Register Patient page shows before the form: the patient, the appointment, the portal
status and its history, the guardians on file; and the patient search."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_
from sqlmodel import Session, func, select

from models import (
    Appointment,
    AuditEvent,
    Enrollment,
    EnrollmentRecipient,
    EnrollmentStatus,
    Guardian,
    Location,
    Patient,
    PatientGuardian,
    Provider,
    StaffUser,
    utcnow,
)
from models.public import PracticePublic
from models.registration import (
    AppointmentSummary,
    EnrollmentSummary,
    GuardianOption,
    HistoryEvent,
    PatientMatch,
    PatientSummary,
)
from services.dates import practice_day
from services.errors import InvalidInput, NotFound, quoted
from services.practices import get_practice
from services.registration_form import APPOINTMENT
from services.status import PortalStatus, derive_status
from services.validation import escape_like

HISTORY_LIMIT = 10
EVENTS_LIMIT = 15
SEARCH_LIMIT = 20


@dataclass(frozen=True)
class RegistrationContext:
    """Everything the Register Patient page shows before the form."""

    practice: PracticePublic
    patient: PatientSummary
    appointment: AppointmentSummary | None
    status: PortalStatus
    live_enrollment: EnrollmentSummary | None
    history: list[EnrollmentSummary]
    events: list[HistoryEvent]
    guardians: list[GuardianOption]
    # The patient's own invitation (an adolescent or young adult), beside the parent's.
    own_status: PortalStatus = PortalStatus.not_registered
    own_enrollment: EnrollmentSummary | None = None
    today: dt.date | None = None  # the practice's today, for the access level by age


# --- lookups the use cases share ---------------------------------------------------------------


def find_patient(session: Session, *, practice_id: int, patient_id: int) -> Patient:
    """The practice's patient; NotFound for one outside it."""
    patient = session.exec(
        select(Patient).where(Patient.id == patient_id, Patient.practice_id == practice_id)
    ).first()
    if patient is None:
        raise NotFound("That patient is not on file in this practice.")
    return patient


def find_appointment(session: Session, *, practice_id: int, appointment_id: int) -> Appointment:
    """The practice's appointment; NotFound (naming the field) for one outside it."""
    appointment = session.exec(
        select(Appointment).where(Appointment.id == appointment_id,
                                  Appointment.practice_id == practice_id)
    ).first()
    if appointment is None:
        # The same words whether it does not exist or belongs to another practice.
        raise NotFound(f"Appointment {appointment_id} was not found in this practice. Open "
                       "Register from the Dashboard, or search for the patient below.",
                       field=APPOINTMENT)
    return appointment


def live_enrollment(session: Session, *, patient_id: int,
                    recipient: str = EnrollmentRecipient.parent) -> Enrollment | None:
    """The patient's enrollment that is not voided (at most one per recipient): the parent's,
    or with recipient=Patient the patient's own."""
    return session.exec(
        select(Enrollment).where(Enrollment.patient_id == patient_id,
                                 Enrollment.recipient == recipient,
                                 Enrollment.status != EnrollmentStatus.voided)
    ).first()


def status_of(enrollment: Enrollment | None, now: dt.datetime) -> PortalStatus:
    """The portal status of a live enrollment (or of none)."""
    if enrollment is None:
        return PortalStatus.not_registered
    return derive_status(enrollment.status, enrollment.expires_at, now=now)


def parse_appointment_id(value: str | None) -> int | None:
    """The appointment id from the query string (None when absent); InvalidInput if garbled."""
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise InvalidInput(f"Appointment {quoted(value)} is not a valid appointment number. Open "
                           "Register from the Dashboard, or search for the patient below.",
                           field=APPOINTMENT)
    return int(value)


# --- reads for the page --------------------------------------------------------------------


def _summary(row: Enrollment, issued_by: str | None, now: dt.datetime) -> EnrollmentSummary:
    portal_status = ("Voided" if row.status == EnrollmentStatus.voided
                     else derive_status(row.status, row.expires_at, now=now).value)
    return EnrollmentSummary.model_validate(
        row, update={"portal_status": portal_status, "issued_by": issued_by})


def _appointment_summary(session: Session, *, practice_id: int,
                         appointment_id: int) -> tuple[AppointmentSummary, int]:
    found = find_appointment(session, practice_id=practice_id, appointment_id=appointment_id)
    row = session.exec(
        select(Appointment.id, Appointment.start_at,
               func.coalesce(Provider.name, "").label("provider"),
               func.coalesce(Location.name, "").label("location"),
               Appointment.visit_type, Appointment.status, Appointment.patient_id)
        .outerjoin(Provider, Provider.id == Appointment.provider_id)
        .outerjoin(Location, Location.id == Appointment.location_id)
        .where(Appointment.id == found.id)
    ).one()
    return AppointmentSummary.model_validate(row), row.patient_id


def get_registration_context(
    session: Session,
    *,
    practice_id: int,
    appointment_id: int | None = None,
    patient_id: int | None = None,
    now: dt.datetime | None = None,
) -> RegistrationContext:
    """Who is being registered: patient, appointment, portal status and its history, and
    the guardians on file. NotFound for an appointment or patient outside the practice."""
    now = now or utcnow()
    practice = get_practice(session, practice_id=practice_id)
    appointment = None
    if appointment_id is not None:
        appointment, patient_id = _appointment_summary(session, practice_id=practice_id,
                                                       appointment_id=appointment_id)
    if patient_id is None:
        raise NotFound("Choose a patient: open Register from the Dashboard or search below.",
                       field=APPOINTMENT)
    patient = find_patient(session, practice_id=practice_id, patient_id=patient_id)

    rows = session.exec(
        select(Enrollment, StaffUser.username)
        .outerjoin(StaffUser, StaffUser.id == Enrollment.issued_by_id)
        .where(Enrollment.patient_id == patient.id, Enrollment.practice_id == practice_id)
        .order_by(Enrollment.issued_at.desc(), Enrollment.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    history = [_summary(row, username, now) for row, username in rows]
    live_row = live_enrollment(session, patient_id=patient.id)
    own_row = live_enrollment(session, patient_id=patient.id,
                              recipient=EnrollmentRecipient.patient)
    live, own = (
        None if row is None else
        next((item for item in history if item.id == row.id), None) or _summary(row, None, now)
        for row in (live_row, own_row))
    events = session.exec(
        select(AuditEvent.at, AuditEvent.actor, AuditEvent.action, AuditEvent.detail)
        .where(AuditEvent.practice_id == practice_id, AuditEvent.patient_id == patient.id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(EVENTS_LIMIT)
    ).all()
    guardians = session.exec(
        select(Guardian)
        .join(PatientGuardian, PatientGuardian.guardian_id == Guardian.id)
        .where(PatientGuardian.patient_id == patient.id, Guardian.practice_id == practice_id)
        .order_by(Guardian.id)
    ).all()
    return RegistrationContext(
        practice=practice,
        patient=PatientSummary.model_validate(patient),
        appointment=appointment,
        status=status_of(live_row, now),
        live_enrollment=live,
        history=history,
        events=[HistoryEvent.model_validate(event) for event in events],
        guardians=[GuardianOption.model_validate(guardian) for guardian in guardians],
        own_status=status_of(own_row, now),
        own_enrollment=own,
        today=practice_day(now, practice.timezone),
    )


def search_patients(
    session: Session, *, practice_id: int, query: str, limit: int = SEARCH_LIMIT
) -> list[PatientMatch]:
    """Patients of the practice whose MRN or names start with the words typed."""
    words = [word for word in (query or "").replace(",", " ").split() if word][:4]
    if not words:
        return []
    conditions = [Patient.practice_id == practice_id]
    for word in words:
        prefix = escape_like(word.lower()) + "%"
        matches = [func.lower(Patient.first_name).like(prefix, escape="\\"),
                   func.lower(Patient.last_name).like(prefix, escape="\\")]
        if len(words) == 1:
            matches.append(func.lower(Patient.mrn).like(prefix, escape="\\"))
        conditions.append(or_(*matches))
    rows = session.exec(
        select(Patient.id, Patient.mrn, Patient.first_name, Patient.last_name,
               Patient.date_of_birth)
        .where(*conditions)
        .order_by(Patient.last_name, Patient.first_name, Patient.id)
        .limit(limit)
    ).all()
    return [PatientMatch.model_validate(row, update={"name": f"{row.first_name} "
                                                             f"{row.last_name}"})
            for row in rows]
