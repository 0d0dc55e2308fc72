"""A family in one form (Register Patient): the patient's siblings, and one Complete Registration
that enrolls each chosen child with a PIN of its own, queues one welcome email listing the
children (services/messages.build_family_welcome_email, in the guardian's preferred language)
and returns one family letter (each child's name, PIN and QR code).

Siblings are children sharing one of the patient's guardians, and children on the day's schedule
whose guardian has the same email or cell phone. An Active sibling is listed, never registered
again. The PINs go on the family letter, handed to the parent at the desk; the email carries each
child's activation link. The parent activates each child with its own PIN, the second and later
ones through "I already have an account".

    siblings = find_siblings(session, practice_id=..., patient_id=..., day=today)
    family = register_family(session, practice_id=..., patient_id=..., sibling_ids=[...],
                             form=RegistrationForm(...), actor=username)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy import and_, or_, select
from sqlmodel import Session

from models import (
    Appointment,
    AppointmentStatus,
    Enrollment,
    Guardian,
    Patient,
    PatientGuardian,
    utcnow,
)
from models.public import PracticePublic
from services.audit import record_event
from services.errors import InvalidInput
from services.family_letter import render_family_letters
from services.i18n import DEFAULT_LANGUAGE
from services.letters import PinLetter
from services.messages import (
    FamilyChild,
    FamilyInvitation,
    OutgoingMessage,
    build_family_welcome_email,
)
from services.outbox import queue_message
from services.practices import get_practice
from services.registration import RegistrationResult, register_patient
from services.registration_context import live_enrollment, status_of
from services.registration_form import RegistrationForm
from services.schedule import day_bounds
from services.senders import Senders, senders_from_settings
from services.settings import Settings, get_settings
from services.status import PortalStatus

SIBLINGS = "Siblings"
REGISTRABLE = (PortalStatus.not_registered, PortalStatus.declined)


@dataclass(frozen=True)
class Sibling:
    patient_id: int
    name: str  # "First Last"
    date_of_birth: dt.date
    status: PortalStatus
    why: str  # "shares Maria Rivera" or "same email on today's schedule"

    @property
    def can_register(self) -> bool:
        return self.status in REGISTRABLE


@dataclass(frozen=True)
class FamilyResult:
    """What one family registration did: a result per child, the one email, the letter."""

    children: tuple[RegistrationResult, ...]
    message_id: int
    letters: tuple[PinLetter, ...]

    def letter_pdf(self) -> bytes:
        return render_family_letters([list(self.letters)])


def _guardians(session: Session, patient_id: int) -> list[Guardian]:
    return list(session.execute(
        select(Guardian).join(PatientGuardian, PatientGuardian.guardian_id == Guardian.id)
        .where(PatientGuardian.patient_id == patient_id).order_by(Guardian.id)
    ).scalars())


def find_siblings(session: Session, *, practice_id: int, patient_id: int, day: dt.date,
                  now: dt.datetime | None = None) -> list[Sibling]:
    """The patient's siblings by guardian, then by contact on `day`'s schedule (by name)."""
    now = now or utcnow()
    guardians = _guardians(session, patient_id)
    found: dict[int, str] = {}
    for guardian in guardians:
        for child_id in session.execute(
            select(PatientGuardian.patient_id).where(PatientGuardian.guardian_id == guardian.id,
                                                     PatientGuardian.patient_id != patient_id)
        ).scalars():
            found.setdefault(child_id, f"shares {guardian.first_name} {guardian.last_name}")
    emails = {g.email.lower() for g in guardians if g.email}
    phones = {g.cell_phone for g in guardians if g.cell_phone}
    if emails or phones:
        timezone = get_practice(session, practice_id=practice_id).timezone
        lower, upper = day_bounds(day, day, timezone)
        on_schedule = session.execute(
            select(Appointment.patient_id)
            .join(PatientGuardian, PatientGuardian.patient_id == Appointment.patient_id)
            .join(Guardian, Guardian.id == PatientGuardian.guardian_id)
            .where(Appointment.practice_id == practice_id, Appointment.start_at >= lower,
                   Appointment.start_at < upper, Appointment.patient_id != patient_id,
                   Appointment.status != AppointmentStatus.cancelled.value,
                   or_(and_(Guardian.email.is_not(None), Guardian.email.in_(emails)),
                       Guardian.cell_phone.in_(phones)))
        ).scalars()
        for child_id in on_schedule:
            found.setdefault(child_id, "same guardian email or phone on today's schedule")
    siblings = []
    for child_id, why in found.items():
        child = session.get(Patient, child_id)
        if child is None or child.practice_id != practice_id:
            continue
        siblings.append(Sibling(
            patient_id=child.id, name=f"{child.first_name} {child.last_name}",
            date_of_birth=child.date_of_birth, why=why,
            status=status_of(live_enrollment(session, patient_id=child.id), now)))
    return sorted(siblings, key=lambda sibling: (sibling.name, sibling.patient_id))


def _family_email(session: Session, results: list[RegistrationResult], *, guardian_id: int,
                  practice: PracticePublic, expires_on: dt.date) -> OutgoingMessage:
    """The one welcome email for the family, in the guardian's preferred language (which
    register_patient has just set from the form, or kept from the file)."""
    guardian = session.get(Guardian, guardian_id)
    children = tuple(FamilyChild(name=result.patient_name,
                                 first_name=session.get(Patient, result.patient_id).first_name,
                                 activation_url=result.activation_url) for result in results)
    family = FamilyInvitation(
        practice=practice, children=children, expires_on=expires_on,
        guardian_name=f"{guardian.first_name} {guardian.last_name}".strip(),
        language=guardian.preferred_language or DEFAULT_LANGUAGE)
    return build_family_welcome_email(family, recipient=results[0].email)


def register_family(session: Session, *, practice_id: int, patient_id: int,
                    sibling_ids: list[int], form: RegistrationForm, actor: str,
                    staff_user_id: int | None = None, appointment_id: int | None = None,
                    day: dt.date | None = None, settings: Settings | None = None,
                    senders: Senders | None = None, now: dt.datetime | None = None
                    ) -> FamilyResult:
    """Enroll the patient and the chosen siblings in the caller's one transaction."""
    settings = settings or get_settings()
    senders = senders or senders_from_settings(settings)
    now = now or utcnow()
    practice = get_practice(session, practice_id=practice_id)
    day = day or now.date()
    allowed = {s.patient_id: s for s in find_siblings(
        session, practice_id=practice_id, patient_id=patient_id, day=day, now=now)}
    for sibling_id in sibling_ids:
        if sibling_id not in allowed or not allowed[sibling_id].can_register:
            raise InvalidInput("A chosen sibling is not this family's, or already has a portal "
                               "invitation: reload the page and choose again.", field=SIBLINGS)
    family_form = replace(form, method="pin", send_pin=False, send_text=False)
    first = register_patient(session, practice_id=practice_id, patient_id=patient_id,
                             form=family_form, actor=actor, staff_user_id=staff_user_id,
                             appointment_id=appointment_id, settings=settings, senders=senders,
                             now=now, send_messages=False)
    guardian_id = session.get(Enrollment, first.enrollment_id).guardian_id
    results = [first]
    for sibling_id in dict.fromkeys(sibling_ids):
        linked = session.get(PatientGuardian, (sibling_id, guardian_id))
        if linked is None:  # matched by email or phone: the same parent, now on file
            session.add(PatientGuardian(patient_id=sibling_id, guardian_id=guardian_id))
            session.flush()
        results.append(register_patient(
            session, practice_id=practice_id, patient_id=sibling_id,
            form=replace(family_form, guardian_id=guardian_id, new_guardian=None),
            actor=actor, staff_user_id=staff_user_id, settings=settings, senders=senders,
            now=now, send_messages=False))
    expires_on = results[0].letter.expires_on or day
    message = _family_email(session, results, guardian_id=guardian_id, practice=practice,
                            expires_on=expires_on)
    row = queue_message(session, practice_id=practice_id, enrollment_id=first.enrollment_id,
                        message=message, pin=None, senders=senders, now=now)
    session.flush()
    record_event(session, actor=actor, action="family_registered", practice_id=practice_id,
                 patient_id=patient_id, children=[r.patient_id for r in results],
                 message_id=row.id)
    return FamilyResult(children=tuple(results), message_id=row.id,
                        letters=tuple(r.letter for r in results))
