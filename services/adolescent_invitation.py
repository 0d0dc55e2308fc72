"""Invite the patient themself: an adolescent (from the practice's Confidential age, with their
assent recorded: which staff user, when) or a young adult (at the minor age limit, in their own
name, no assent: they consent for themself).

The invitation is an enrollment of its own (recipient "Patient"), beside the parent's: the
database allows one live enrollment per patient and recipient. It reuses the parent pieces: a
PIN (services/pins), the welcome email through the outbox, the PIN letter; activation is the
same public page, with the PIN and the patient's date of birth, and opens an account that is
the patient's own (PortalAccount.patient_id). Everything the patient reads is written to them
(services/messages.py `own_account`) in the language chosen at the desk, the family's (the first
guardian's) at first, recorded on the enrollment for the reminders.

    invite_patient(session, practice_id=..., patient_id=..., form=PatientInvitationForm(...),
                   actor="desk1", staff_user_id=7)
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from models import (
    Enrollment,
    EnrollmentMethod,
    EnrollmentRecipient,
    EnrollmentStatus,
    Guardian,
    Patient,
    PatientGuardian,
    Practice,
)
from services.adolescents import AccessLevel, ParentAccess, parent_access
from services.audit import record_event
from services.errors import Conflict, InvalidInput
from services.i18n import DEFAULT_LANGUAGE, language_not_offered, normalize_language
from services.invitation_setup import (
    insert_enrollment,
    invitation_link,
    practice_letter,
    start_invitation,
    void_enrollment,
)
from services.letters import PinLetter
from services.messages import Invitation, build_welcome_email
from services.outbox import queue_message
from services.pins import format_pin, generate_pin, hash_secret, normalize_pin
from services.registration_context import live_enrollment, status_of
from services.senders import Senders
from services.settings import Settings
from services.status import PortalStatus
from services.validation import normalize_email, normalize_phone

EMAIL = "Patient's email address"
PHONE = "Patient's cell phone"
LANGUAGE = "Language"
ASSENT = "The patient agrees to have their own portal account"
SUBMIT = "Invite the patient"


@dataclass(frozen=True)
class PatientInvitationForm:
    email: str = ""
    cell_phone: str = ""
    assent: bool = False  # required for an adolescent; a young adult consents for themself
    # What the patient reads (email, letter, activation page); None: the family's language.
    language: str | None = None


@dataclass(frozen=True)
class PatientInvitationResult:
    enrollment_id: int
    patient_id: int
    patient_name: str
    access_level: AccessLevel
    pin: str  # grouped for reading; the only plain copy there is
    email: str | None
    cell_phone: str | None
    expires_at: dt.datetime
    activation_url: str
    message_ids: tuple[int, ...]
    letter: PinLetter


def patient_invitation_level(patient: Patient | object, practice: Practice | object, *,
                             today: dt.date) -> AccessLevel | None:
    """Adolescent or Young adult when the patient may be invited themself today, else None
    (under the Confidential age, or the Confidential age is off and they are a minor)."""
    access = parent_access(patient.date_of_birth, today=today,
                           confidential_age=practice.confidential_age,
                           minor_age_limit=practice.minor_age_limit)
    return {ParentAccess.limited: AccessLevel.adolescent,
            ParentAccess.ended: AccessLevel.young_adult}.get(access)


def first_guardian_language(patient_id, practice_id):
    """The patient's first guardian's (the one on file first) preferred language, as a query:
    ids as values, or as columns of an outer query (reminders correlate it per invitation)."""
    return (
        select(Guardian.preferred_language)
        .join(PatientGuardian, PatientGuardian.guardian_id == Guardian.id)
        .where(PatientGuardian.patient_id == patient_id, Guardian.practice_id == practice_id)
        .order_by(Guardian.id)
        .limit(1)
    )


def family_language(session: Session, *, practice_id: int, patient_id: int) -> str:
    """The patient's family's language: their first guardian's preferred language, else the
    practice default (English)."""
    language = session.exec(first_guardian_language(patient_id, practice_id)).first()
    return normalize_language(language) or DEFAULT_LANGUAGE


def _language(session: Session, form: PatientInvitationForm, *, practice_id: int,
              patient_id: int) -> str:
    """The chosen language, or the family's; InvalidInput names the field for one not offered."""
    if form.language is None or not form.language.strip():
        return family_language(session, practice_id=practice_id, patient_id=patient_id)
    language = normalize_language(form.language)
    if language is None:
        raise InvalidInput(language_not_offered(form.language, label=LANGUAGE), field=LANGUAGE)
    return language


def _checked(form: PatientInvitationForm, level: AccessLevel) -> tuple[str | None, str | None]:
    """The email and cell phone (either may be empty, not both); InvalidInput names the field."""
    if not form.email.strip() and not form.cell_phone.strip():
        raise InvalidInput(f"{EMAIL} is empty: enter the patient's own email address (or their "
                           "cell phone, and hand them the PIN letter).", field=EMAIL)
    email = normalize_email(form.email, field=EMAIL).lower() if form.email.strip() else None
    phone = normalize_phone(form.cell_phone, field=PHONE) if form.cell_phone.strip() else None
    if level == AccessLevel.adolescent and not form.assent:
        raise InvalidInput(f"Tick \"{ASSENT}\": an adolescent's own account needs their "
                           "agreement, asked for at the desk.", field=ASSENT)
    return email, phone


def invite_patient(
    session: Session,
    *,
    practice_id: int,
    patient_id: int,
    form: PatientInvitationForm,
    actor: str,
    staff_user_id: int | None = None,
    settings: Settings | None = None,
    senders: Senders | None = None,
    now: dt.datetime | None = None,
) -> PatientInvitationResult:
    """The patient's own invitation with a fresh PIN, emailed (when an email is given) through
    the outbox and audited; a previous unused one of their own is voided."""
    setup = start_invitation(session, practice_id=practice_id, patient_id=patient_id,
                             settings=settings, senders=senders, now=now)
    practice, patient, now = setup.practice, setup.patient, setup.now
    patient_name = setup.patient_name
    level = patient_invitation_level(patient, practice, today=setup.today)
    if level is None:
        raise Conflict(f"{patient_name} is under the practice's Confidential age: invite a "
                       "parent instead.", field=SUBMIT)
    email, phone = _checked(form, level)
    language = _language(session, form, practice_id=practice_id, patient_id=patient.id)

    live = live_enrollment(session, patient_id=patient.id, recipient=EnrollmentRecipient.patient)
    if status_of(live, now) == PortalStatus.active:
        raise Conflict(f"{patient_name} already has a portal account of their own.",
                       field=SUBMIT)
    if live is not None:
        void_enrollment(session, live=live, now=now, actor=actor,
                        reason="the patient was invited again")

    pin = generate_pin()
    expires_at = now + dt.timedelta(days=practice.pin_lifetime_days)
    assent = level == AccessLevel.adolescent
    enrollment = Enrollment(
        practice_id=practice_id, patient_id=patient.id, guardian_id=None,
        recipient=EnrollmentRecipient.patient, access_level=level.value,
        method=EnrollmentMethod.pin, secret_hash=hash_secret(normalize_pin(pin)),
        link_token=secrets.token_urlsafe(18), email=email, cell_phone=phone,
        send_pin=email is not None, status=EnrollmentStatus.invited,
        issued_by_id=staff_user_id, issued_at=now, expires_at=expires_at,
        assent_at=now if assent else None, assent_by_id=staff_user_id if assent else None,
        language=language,
    )
    insert_enrollment(session, enrollment, field=SUBMIT,
                      raced=f"{patient_name} was invited by someone else just now. Reload the "
                      "page to see their invitation.")

    info, url = invitation_link(session, setup, enrollment, language)
    expires_on = setup.local_date(expires_at)
    rows = []
    if email:
        invitation = Invitation(practice=info, guardian_name=patient_name,
                                patient_first_name=patient.first_name, activation_url=url,
                                expires_on=expires_on, method=EnrollmentMethod.pin,
                                pin_in_email=True, language=language, own_account=True)
        rows.append(queue_message(session, practice_id=practice_id,
                                  enrollment_id=enrollment.id,
                                  message=build_welcome_email(invitation, recipient=email),
                                  pin=pin, senders=setup.senders, now=now))
        session.flush()

    detail = {"enrollment_id": enrollment.id, "access_level": level.value, "email": email,
              "cell_phone": phone, "pin_sent_by": "email" if email else "letter",
              "language": language,
              "expires_at": expires_at.isoformat()}
    record_event(session, actor=actor, action="patient_invited", practice_id=practice_id,
                 patient_id=patient.id, **detail)
    if assent:
        record_event(session, actor=actor, action="assent_recorded", practice_id=practice_id,
                     patient_id=patient.id, enrollment_id=enrollment.id,
                     staff_user_id=staff_user_id, at=now.isoformat())
    record_event(session, actor=actor, action="pin_issued", practice_id=practice_id,
                 patient_id=patient.id, **detail)

    letter = practice_letter(setup, date_of_birth_hint=True, activation_url=url,
                             expires_on=expires_on, pin=format_pin(pin), own_account=True,
                             language=language)
    return PatientInvitationResult(
        enrollment_id=enrollment.id, patient_id=patient.id, patient_name=patient_name,
        access_level=level, pin=format_pin(pin), email=email, cell_phone=phone,
        expires_at=expires_at, activation_url=url,
        message_ids=tuple(row.id for row in rows), letter=letter,
    )
