"""What every new portal invitation starts and ends with, whoever it is for: the practice and
patient it is for, the voiding of the one it replaces, its insert (a desk racing us gets a clear
refusal), its web address and its PIN letter. Used by a parent's registration
(services/registration.py) and by the patient's own invitation (services/adolescent_invitation.py).

    setup = start_invitation(session, practice_id=1, patient_id=2, settings=None, senders=None,
                             now=None)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models import Enrollment, EnrollmentStatus, Patient, Practice, utcnow
from models.public import PracticePublic
from services.audit import record_event
from services.dates import practice_day
from services.errors import Conflict, NotFound
from services.letters import PinLetter
from services.messages import activation_url
from services.outbox import cancel_unsent_pins
from services.practices import get_practice
from services.registration_context import find_patient
from services.registration_form import SUBMIT
from services.senders import Senders, senders_from_settings
from services.settings import Settings, get_settings


@dataclass(frozen=True)
class InvitationSetup:
    """The practice and patient an invitation is for, and the moment it is issued."""

    settings: Settings
    senders: Senders
    now: dt.datetime
    practice: Practice
    patient: Patient
    patient_name: str  # read now: a failed flush later expires the patient row

    def local_date(self, moment: dt.datetime) -> dt.date:
        """The day `moment` falls on in the practice's timezone."""
        return practice_day(moment, self.practice.timezone)

    @property
    def today(self) -> dt.date:
        """The practice's today, at the moment of issue."""
        return self.local_date(self.now)


def start_invitation(session: Session, *, practice_id: int, patient_id: int,
                     settings: Settings | None, senders: Senders | None,
                     now: dt.datetime | None) -> InvitationSetup:
    """The practice and patient (NotFound when either is not the practice's), with defaults."""
    settings = settings or get_settings()
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise NotFound("That practice does not exist.")
    patient = find_patient(session, practice_id=practice_id, patient_id=patient_id)
    return InvitationSetup(
        settings=settings, senders=senders or senders_from_settings(settings),
        now=now or utcnow(), practice=practice, patient=patient,
        patient_name=f"{patient.first_name} {patient.last_name}")


def change_live_enrollment(session: Session, *, live: Enrollment, field: str,
                           **values) -> None:
    """Write `values` to the invitation unless another desk changed its status since we read
    it (then Conflict, on `field`, and nothing is written)."""
    changed = session.exec(
        update(Enrollment)
        .where(Enrollment.id == live.id, Enrollment.status == live.status)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise Conflict("Someone else changed this patient's portal invitation just now. "
                       "Reload the page and try again.", field=field)


def void_enrollment(session: Session, *, live: Enrollment, now: dt.datetime, actor: str,
                    reason: str, field: str = SUBMIT, declined_reason: str | None = None) -> None:
    """Void a live invitation (its PIN stops working, its unsent PIN messages are cancelled);
    `declined_reason` keeps why, when the reader said no (or the address was wrong)."""
    values = {"declined_reason": declined_reason} if declined_reason else {}
    change_live_enrollment(session, live=live, field=field, status=EnrollmentStatus.voided,
                           voided_at=now, secret_hash=None, **values)
    cancel_unsent_pins(session, enrollment_id=live.id, reason=f"Not sent: {reason}")
    record_event(session, actor=actor, action="pin_voided", practice_id=live.practice_id,
                 patient_id=live.patient_id, enrollment_id=live.id, previous_status=live.status,
                 reason=reason)


def insert_enrollment(session: Session, enrollment: Enrollment, *, raced: str,
                      field: str) -> None:
    """Insert the new invitation; Conflict(`raced`) when another desk's live one got in first."""
    session.add(enrollment)
    try:
        session.flush()
    except IntegrityError:
        # PostgreSQL reaches here; SQLite's BEGIN IMMEDIATE already made us wait and see theirs.
        raise Conflict(raced, field=field) from None


def invitation_link(session: Session, setup: InvitationSetup, enrollment: Enrollment,
                    language: str) -> tuple[PracticePublic, str]:
    """The practice as messages show it, and the invitation's web address in `language`."""
    info = get_practice(session, practice_id=setup.practice.id)
    return info, activation_url(info, enrollment.link_token, language)


def practice_letter(setup: InvitationSetup, **letter) -> PinLetter:
    """The PIN letter, headed with the practice's contact details and dated today."""
    practice = setup.practice
    return PinLetter(practice_name=practice.name, practice_phone=practice.phone,
                     practice_email=practice.email, practice_address=practice.address,
                     patient_name=setup.patient_name, issued_on=setup.today, **letter)
