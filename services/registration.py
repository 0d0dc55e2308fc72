"""Register Patient's use cases: register, issue a new PIN, resend, decline, audit a letter.

Each writes the enrollment, its outbox messages and its audit events in the caller's single
transaction; delivery happens after the commit (services/outbox.send_due_messages). The plain PIN
leaves these functions only in the returned result, for the confirmation screen and the letter;
the database holds its salted hash and, until sent, a sealed copy in the outbox. The form and its
checks are in services/registration_form.py; what the page shows before the form, in
services/registration_context.py.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from models import (
    Enrollment,
    EnrollmentMethod,
    EnrollmentStatus,
    Guardian,
    Patient,
    PatientGuardian,
    Practice,
    StaffUser,
    utcnow,
)
from services import text_opt_out
from services.adolescents import ParentAccess, parent_access
from services.audit import record_event
from services.dates import date_text, in_practice_time, time_text
from services.errors import Conflict, InvalidInput
from services.i18n import DEFAULT_LANGUAGE
from services.invitation_resend import ResendResult, resend_invitation  # noqa: F401
from services.invitation_setup import (
    change_live_enrollment,
    insert_enrollment,
    invitation_link,
    practice_letter,
    start_invitation,
    void_enrollment,
)
from services.letters import PinLetter
from services.messages import (
    Invitation,
    build_text_message,
    build_welcome_email,
)
from services.outbox import cancel_unsent_pins, queue_message
from services.pins import format_pin, generate_pin, hash_secret, normalize_pin
from services.registration_context import (
    find_appointment,
    find_patient,
    live_enrollment,
    status_of,
)
from services.registration_form import (
    GUARDIAN,
    REASON,
    SUBMIT,
    CheckedForm,
    RegistrationForm,
    checked_form,
    checked_reason,
)
from services.senders import Senders
from services.settings import Settings
from services.status import PortalStatus

# --- what the use cases return -----------------------------------------------------------------


@dataclass(frozen=True)
class RegistrationResult:
    """A completed registration; `pin` is the only plain copy there is."""

    enrollment_id: int
    patient_id: int
    patient_name: str
    method: str
    pin: str | None  # grouped for reading, e.g. 7KQ4M-9TXR2
    email: str
    text_recipient: str | None
    pin_channel: str  # where the PIN went: email, text, letter (or none for a question)
    expires_at: dt.datetime
    activation_url: str
    message_ids: tuple[int, ...]
    letter: PinLetter
    text_refusal: str | None = None  # why no text went (opted out, or over the caps)


# --- helpers -------------------------------------------------------------------------------


def _already(session: Session, enrollment: Enrollment, patient: Patient, practice: Practice,
             status: PortalStatus) -> str:
    when = in_practice_time(enrollment.issued_at, practice.timezone)
    who = session.exec(select(StaffUser.name).where(
        StaffUser.id == enrollment.issued_by_id)).first() if enrollment.issued_by_id else None
    return (
        f"{patient.first_name} {patient.last_name} was already registered "
        f"({status.value}) by {who or 'someone'} on "
        f"{date_text(when)} at {time_text(when)}. Use Resend invitation or Issue new PIN instead."
    )


def _guardian(session: Session, *, practice_id: int, patient: Patient, form: RegistrationForm,
              checked: CheckedForm, actor: str) -> Guardian:
    if form.new_guardian is not None:
        guardian = Guardian(
            practice_id=practice_id,
            first_name=form.new_guardian.first_name.strip(),
            last_name=form.new_guardian.last_name.strip(),
            relationship=(form.new_guardian.relationship or "Parent").strip()[:40],
            email=checked.email,
            cell_phone=checked.cell_phone,
            preferred_language=checked.language or DEFAULT_LANGUAGE,
        )
        session.add(guardian)
        session.flush()
        session.add(PatientGuardian(patient_id=patient.id, guardian_id=guardian.id))
        return guardian
    guardian = session.exec(
        select(Guardian)
        .join(PatientGuardian, PatientGuardian.guardian_id == Guardian.id)
        .where(Guardian.id == form.guardian_id, Guardian.practice_id == practice_id,
               PatientGuardian.patient_id == patient.id)
    ).first()
    if guardian is None:
        raise InvalidInput("That guardian is not on file for this patient: choose another or "
                           "add a new guardian.", field=GUARDIAN)
    # The contact the front desk just typed is the one the parent gave: keep it, so that a new
    # PIN, a resend and the Dashboard use it; the audit event keeps the previous value.
    typed = {"email": checked.email, "cell_phone": checked.cell_phone}
    changes = {field: [getattr(guardian, field), value] for field, value in typed.items()
               if value and getattr(guardian, field) != value}
    for field, (_previous, value) in changes.items():
        setattr(guardian, field, value)
    if checked.language:  # staff asked; the drop-down showed the language on file
        guardian.preferred_language = checked.language
    session.add(guardian)
    if changes:
        record_event(session, actor=actor, action="guardian_contact_updated",
                     practice_id=practice_id, patient_id=patient.id, guardian_id=guardian.id,
                     changes=changes)
    return guardian


# --- use cases -----------------------------------------------------------------------------


def _enroll(
    session: Session,
    *,
    practice_id: int,
    patient_id: int,
    form: RegistrationForm,
    actor: str,
    staff_user_id: int | None,
    appointment_id: int | None,
    replacing: int | None,
    new_pin: bool,
    settings: Settings | None,
    senders: Senders | None,
    now: dt.datetime | None,
    send_messages: bool = True,
) -> RegistrationResult:
    setup = start_invitation(session, practice_id=practice_id, patient_id=patient_id,
                             settings=settings, senders=senders, now=now)
    practice, patient, now = setup.practice, setup.patient, setup.now
    patient_name = setup.patient_name
    if appointment_id is not None:
        find_appointment(session, practice_id=practice_id, appointment_id=appointment_id)
    checked = checked_form(form, setup.settings)

    access = parent_access(patient.date_of_birth, today=setup.today,
                           confidential_age=practice.confidential_age,
                           minor_age_limit=practice.minor_age_limit)
    if access == ParentAccess.ended:
        raise Conflict(f"{patient_name} is {practice.minor_age_limit} "
                       "or older: a parent can no longer be invited. Invite the patient in "
                       "their own name instead.", field=SUBMIT)
    live = live_enrollment(session, patient_id=patient.id)
    status = status_of(live, now)
    if status == PortalStatus.active:
        raise Conflict(f"{patient_name} already has portal access: "
                       "no new registration is needed.", field=SUBMIT)
    if new_pin:
        if live is None or live.id != replacing:
            raise Conflict("This patient's portal invitation changed since the page was "
                           "loaded. Reload the page and try again.", field=SUBMIT)
    elif live is not None and live.status != EnrollmentStatus.declined:
        raise Conflict(_already(session, live, patient, practice, status), field=SUBMIT)

    guardian = _guardian(session, practice_id=practice_id, patient=patient, form=form,
                         checked=checked, actor=actor)
    if live is not None:
        void_enrollment(session, live=live, now=now, actor=actor,
                        reason="new PIN issued" if new_pin else "registered again after a decline")

    # A number that opted out (or had its texts for today or this week) gets no text; the PIN
    # then goes by email as if Text Message were unticked, and staff are told why.
    text_refusal = (text_opt_out.text_refusal(session, phone=checked.cell_phone, now=now)
                    if checked.text_channel else None)
    text_channel = None if text_refusal else checked.text_channel
    pin = generate_pin() if checked.method == EnrollmentMethod.pin else None
    secret_hash = hash_secret(normalize_pin(pin)) if pin else hash_secret(checked.answer)
    pin_by_text = bool(pin and form.send_pin and text_channel)
    pin_in_email = bool(pin and form.send_pin and not text_channel)
    expires_at = now + dt.timedelta(days=practice.pin_lifetime_days)
    enrollment = Enrollment(
        practice_id=practice_id,
        patient_id=patient.id,
        guardian_id=guardian.id,
        method=checked.method,
        secret_hash=secret_hash,
        verification_question=checked.question,
        link_token=secrets.token_urlsafe(18),
        email=checked.email,
        cell_phone=checked.cell_phone,
        cell_carrier=checked.carrier,
        send_text=bool(checked.text_channel),
        text_consent_at=now if checked.text_channel else None,
        text_consent_by_id=staff_user_id if checked.text_channel else None,
        send_pin=pin_by_text or pin_in_email,
        status=EnrollmentStatus.invited,
        issued_by_id=staff_user_id,
        issued_at=now,
        expires_at=expires_at,
        access_level=access.value,  # Full or Limited: the child's age on the day of issue
    )
    insert_enrollment(session, enrollment, field=SUBMIT,
                      raced=f"{patient_name} was registered by someone else just now. Reload "
                      "the page to see their invitation.")

    language = guardian.preferred_language  # set from the form above, or the one on file
    info, url = invitation_link(session, setup, enrollment, language)
    expires_on = setup.local_date(expires_at)
    invitation = Invitation(
        practice=info,
        guardian_name=f"{guardian.first_name} {guardian.last_name}".strip(),
        patient_first_name=patient.first_name,
        activation_url=url,
        expires_on=expires_on,
        method=checked.method,
        verification_question=checked.question,
        pin_in_email=pin_in_email,
        pin_by_text=pin_by_text,
        pin_on_letter=bool(pin and not form.send_pin),
        language=language,
    )
    # A family registration (services/family.py) sends one email for every child instead.
    messages = [build_welcome_email(invitation, recipient=checked.email)] if send_messages else []
    if send_messages and text_channel:
        messages.append(build_text_message(invitation, channel=text_channel,
                                           recipient=checked.text_recipient))
    rows = [queue_message(session, practice_id=practice_id, enrollment_id=enrollment.id,
                          message=message, pin=pin, senders=setup.senders, now=now)
            for message in messages]
    session.flush()
    if send_messages and text_channel:
        text_opt_out.record_text(session, phone=checked.cell_phone, practice_id=practice_id,
                                 outbox_message_id=rows[-1].id, now=now)

    pin_channel = ("text" if pin_by_text else "email" if pin_in_email
                   else "letter" if pin else "none")
    detail = {"enrollment_id": enrollment.id, "method": checked.method, "email": checked.email,
              "text": text_channel, "pin_sent_by": pin_channel,
              "language": language, "text_consent": bool(checked.text_channel),
              "appointment_id": appointment_id, "guardian_id": guardian.id,
              "access_level": access.value, "expires_at": expires_at.isoformat()}
    actions = [] if new_pin else ["registration"]
    actions.append("pin_issued" if pin else "verification_question_set")
    for action in actions:
        record_event(session, actor=actor, action=action, practice_id=practice_id,
                     patient_id=patient.id, **detail)

    letter = practice_letter(
        setup,
        date_of_birth_hint=pin is not None,
        activation_url=url,
        expires_on=expires_on,
        pin=format_pin(pin) if pin else None,
        verification_question=checked.question,
        language=language,
        limited=access == ParentAccess.limited,
    )
    return RegistrationResult(
        enrollment_id=enrollment.id,
        patient_id=patient.id,
        patient_name=patient_name,
        method=checked.method,
        pin=format_pin(pin) if pin else None,
        email=checked.email,
        text_recipient=checked.cell_phone,
        pin_channel=pin_channel,
        expires_at=expires_at,
        activation_url=url,
        message_ids=tuple(row.id for row in rows),
        letter=letter,
        text_refusal=text_refusal,
    )


def register_patient(
    session: Session,
    *,
    practice_id: int,
    patient_id: int,
    form: RegistrationForm,
    actor: str,
    staff_user_id: int | None = None,
    appointment_id: int | None = None,
    settings: Settings | None = None,
    senders: Senders | None = None,
    now: dt.datetime | None = None,
    send_messages: bool = True,
) -> RegistrationResult:
    """Complete Registration: a new invitation with a fresh PIN (or question), its messages
    queued and audited; refused when the patient already has a live invitation or access."""
    return _enroll(session, practice_id=practice_id, patient_id=patient_id, form=form,
                   actor=actor, staff_user_id=staff_user_id, appointment_id=appointment_id,
                   replacing=None, new_pin=False, settings=settings, senders=senders, now=now,
                   send_messages=send_messages)


def issue_new_pin(
    session: Session,
    *,
    practice_id: int,
    patient_id: int,
    replacing_enrollment_id: int,
    form: RegistrationForm,
    actor: str,
    staff_user_id: int | None = None,
    appointment_id: int | None = None,
    settings: Settings | None = None,
    senders: Senders | None = None,
    now: dt.datetime | None = None,
) -> RegistrationResult:
    """Void the patient's current invitation and issue a new one, in one transaction."""
    return _enroll(session, practice_id=practice_id, patient_id=patient_id, form=form,
                   actor=actor, staff_user_id=staff_user_id, appointment_id=appointment_id,
                   replacing=replacing_enrollment_id, new_pin=True, settings=settings,
                   senders=senders, now=now)


def decline_enrollment(
    session: Session,
    *,
    practice_id: int,
    patient_id: int,
    reason: str,
    actor: str,
    staff_user_id: int | None = None,
    expected_enrollment_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Record that the family declines portal access, with their reason; returns the
    enrollment id. A live PIN stops working at once."""
    now = now or utcnow()
    reason = checked_reason(reason)
    patient = find_patient(session, practice_id=practice_id, patient_id=patient_id)
    live = live_enrollment(session, patient_id=patient.id)
    if (live.id if live else None) != expected_enrollment_id:
        raise Conflict("This patient's portal invitation changed since the page was loaded. "
                       "Reload the page and try again.", field=REASON)
    status = status_of(live, now)
    if status == PortalStatus.active:
        raise Conflict("The parent already activated portal access; it cannot be marked "
                       "declined here.", field=REASON)
    if status == PortalStatus.declined:
        raise Conflict("This patient is already marked declined.", field=REASON)
    if live is not None:
        change_live_enrollment(session, live=live, field=REASON,
                               status=EnrollmentStatus.declined, declined_reason=reason,
                               secret_hash=None)
        cancel_unsent_pins(session, enrollment_id=live.id, reason="Not sent: family declined")
        enrollment_id = live.id
    else:
        enrollment = Enrollment(
            practice_id=practice_id, patient_id=patient.id, method=EnrollmentMethod.pin,
            secret_hash=None, link_token=secrets.token_urlsafe(18), send_pin=False,
            status=EnrollmentStatus.declined, declined_reason=reason,
            issued_by_id=staff_user_id, issued_at=now,
        )
        insert_enrollment(session, enrollment, field=REASON,
                          raced="Someone else registered this patient just now. Reload the "
                          "page.")
        enrollment_id = enrollment.id
    record_event(session, actor=actor, action="declined", practice_id=practice_id,
                 patient_id=patient.id, enrollment_id=enrollment_id, reason=reason)
    return enrollment_id


def record_letter_download(
    session: Session, *, practice_id: int, patient_id: int, enrollment_id: int, actor: str
) -> None:
    """Audit that staff downloaded (to print) a PIN letter."""
    find_patient(session, practice_id=practice_id, patient_id=patient_id)
    record_event(session, actor=actor, action="letter_downloaded", practice_id=practice_id,
                 patient_id=patient_id, enrollment_id=enrollment_id)
