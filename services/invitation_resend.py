"""Resend an invitation, and correct a parent's address after a delivery failure and resend.

The PIN exists only as a hash once sent, so a resend is the link (plus any unsent original,
which still carries its sealed PIN). The patient's own invitation (recipient Patient) is resent
the same way, written to the patient in the invitation's language, to its own email; one with
no email but a text gets the link by text again (never to a number that opted out)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_
from sqlmodel import Session, select

from models import (
    Enrollment,
    EnrollmentRecipient,
    Guardian,
    OutboxMessage,
    OutboxStatus,
    Patient,
    Practice,
    utcnow,
)
from services import text_opt_out
from services.adolescent_invitation import family_language
from services.audit import record_event
from services.dates import practice_day
from services.delivery_failures import clear_delivery_failure
from services.errors import Conflict, InvalidInput
from services.i18n import DEFAULT_LANGUAGE
from services.messages import (
    PIN_PLACEHOLDER,
    Invitation,
    OutgoingMessage,
    activation_url,
    build_text_message,
    build_welcome_email,
)
from services.outbox import queue_message
from services.practices import get_practice
from services.registration_context import find_patient, live_enrollment, status_of
from services.registration_form import EMAIL
from services.reminders import text_route
from services.senders import Senders, senders_from_settings
from services.settings import Settings, get_settings
from services.status import PortalStatus
from services.validation import normalize_email

RESEND = "Resend invitation"


@dataclass(frozen=True)
class ResendResult:
    """What `resend_invitation` queued."""

    message_ids: tuple[int, ...]
    requeued: int  # unsent originals (still carrying their sealed PIN) sent again
    new_messages: int  # a fresh link-only email (the PIN is not kept, so it cannot be re-sent)


def _live_invited(session: Session, *, practice_id: int, patient_id: int, enrollment_id: int,
                  now: dt.datetime, field: str,
                  recipient: str = EnrollmentRecipient.parent) -> Enrollment:
    patient = find_patient(session, practice_id=practice_id, patient_id=patient_id)
    live = live_enrollment(session, patient_id=patient.id, recipient=recipient)
    if live is None or live.id != enrollment_id:
        raise Conflict("This patient's portal invitation changed since the page was loaded. "
                       "Reload the page and try again.", field=field)
    status = status_of(live, now)
    if status != PortalStatus.invited:
        raise Conflict(f"The invitation is {status.value}: issue a new PIN instead of resending.",
                       field=field)
    return live


def _requeue_unsent(session: Session, live: Enrollment, senders: Senders,
                    now: dt.datetime) -> list[int]:
    unsent = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.enrollment_id == live.id,
            OutboxMessage.status.in_([OutboxStatus.held, OutboxStatus.pending,
                                      OutboxStatus.failed]),
            or_(OutboxMessage.sealed_secret.is_not(None),
                ~OutboxMessage.body_text.contains(PIN_PLACEHOLDER)),
        )
    ).all()
    for message in unsent:
        ready = senders.ready(message.channel)
        message.status = OutboxStatus.pending if ready else OutboxStatus.held
        message.attempts = 0
        message.next_attempt_at = now if ready else None
        session.add(message)
    return [message.id for message in unsent]


def _link_invitation(session: Session, *, practice_id: int, live: Enrollment,
                     patient: Patient) -> Invitation:
    """The invitation again, link only: to the parent in their language, or to the patient
    themself in the language recorded on their own invitation (else the family's)."""
    practice = session.get(Practice, practice_id)
    info = get_practice(session, practice_id=practice_id)
    own = live.recipient == EnrollmentRecipient.patient
    guardian = session.get(Guardian, live.guardian_id) if live.guardian_id else None
    if own:
        name = f"{patient.first_name} {patient.last_name}"
        language = live.language or family_language(session, practice_id=practice_id,
                                                    patient_id=patient.id)
    else:
        name = f"{guardian.first_name} {guardian.last_name}" if guardian else ""
        language = guardian.preferred_language if guardian else DEFAULT_LANGUAGE
    return Invitation(
        practice=info,
        guardian_name=name,
        patient_first_name=patient.first_name,
        activation_url=activation_url(info, live.link_token, language),
        expires_on=practice_day(live.expires_at, practice.timezone),
        method=live.method,
        verification_question=live.verification_question,
        resend=True,
        language=language,
        own_account=own,
        link_in_text=own and not live.email,
    )


def _queue(session: Session, *, practice_id: int, live: Enrollment, message: OutgoingMessage,
           senders: Senders, now: dt.datetime) -> int:
    row = queue_message(session, practice_id=practice_id, enrollment_id=live.id,
                        message=message, pin=None, senders=senders, now=now)
    session.flush()
    return row.id


def _queue_link_email(session: Session, *, practice_id: int, live: Enrollment,
                      patient: Patient, senders: Senders, now: dt.datetime) -> int:
    invitation = _link_invitation(session, practice_id=practice_id, live=live, patient=patient)
    return _queue(session, practice_id=practice_id, live=live, senders=senders, now=now,
                  message=build_welcome_email(invitation, recipient=live.email))


def _queue_link_text(session: Session, *, practice_id: int, live: Enrollment,
                     patient: Patient, settings: Settings, senders: Senders,
                     now: dt.datetime) -> int:
    """The patient's own invitation without an email: the link by text again, unless the
    number opted out or reached its caps (Conflict, in words, on Resend)."""
    route = text_route(live, settings)
    if route is None:
        raise Conflict("The patient's invitation has no email address, and its text cannot be "
                       "sent (no consent to texts, or the carrier's gateway closed): hand them "
                       "the PIN letter, or invite them again.", field=RESEND)
    refusal = text_opt_out.text_refusal(session, phone=live.cell_phone, now=now)
    if refusal:
        raise Conflict(f"No text sent: {refusal} Hand the patient the PIN letter instead.",
                       field=RESEND)
    invitation = _link_invitation(session, practice_id=practice_id, live=live, patient=patient)
    message_id = _queue(session, practice_id=practice_id, live=live, senders=senders, now=now,
                        message=build_text_message(invitation, channel=route[0],
                                                   recipient=route[1]))
    text_opt_out.record_text(session, phone=live.cell_phone, practice_id=practice_id,
                             outbox_message_id=message_id, now=now)
    return message_id


def resend_invitation(
    session: Session,
    *,
    practice_id: int,
    patient_id: int,
    enrollment_id: int,
    actor: str,
    recipient: str = EnrollmentRecipient.parent,
    settings: Settings | None = None,
    senders: Senders | None = None,
    now: dt.datetime | None = None,
) -> ResendResult:
    """Send the invitation again: unsent originals go out as they are; otherwise a new email
    with the link (the PIN itself is not kept, so it cannot be sent twice). With
    recipient=Patient, the patient's own invitation, in words written to them."""
    settings = settings or get_settings()
    senders = senders or senders_from_settings(settings)
    now = now or utcnow()
    own = recipient == EnrollmentRecipient.patient
    live = _live_invited(session, practice_id=practice_id, patient_id=patient_id,
                         enrollment_id=enrollment_id, now=now, field=RESEND, recipient=recipient)
    if not live.email and not (own and live.send_text):
        raise Conflict("The patient's invitation has no email address and no text: hand them "
                       "the PIN letter, or invite them again with one." if own else
                       "This invitation has no email address: issue a new PIN with one.",
                       field=RESEND)
    ids = _requeue_unsent(session, live, senders, now)
    new_messages = 0
    if not ids:
        patient = find_patient(session, practice_id=practice_id, patient_id=patient_id)
        common = {"practice_id": practice_id, "live": live, "patient": patient,
                  "senders": senders, "now": now}
        ids.append(_queue_link_email(session, **common) if live.email else
                   _queue_link_text(session, settings=settings, **common))
        new_messages = 1
    record_event(session, actor=actor, action="invitation_resent", practice_id=practice_id,
                 patient_id=live.patient_id, enrollment_id=live.id, message_ids=ids,
                 requeued=len(ids) - new_messages, new_messages=new_messages,
                 recipient=live.recipient)
    return ResendResult(message_ids=tuple(ids), requeued=len(ids) - new_messages,
                        new_messages=new_messages)


def correct_email_and_resend(
    session: Session,
    *,
    practice_id: int,
    patient_id: int,
    enrollment_id: int,
    email: str,
    actor: str,
    settings: Settings | None = None,
    senders: Senders | None = None,
    now: dt.datetime | None = None,
) -> ResendResult:
    """After a delivery failure: put the corrected address on the invitation (and the guardian),
    clear the failure and send the link to the new address."""
    settings = settings or get_settings()
    senders = senders or senders_from_settings(settings)
    now = now or utcnow()
    address = normalize_email(email, field=EMAIL)
    live = _live_invited(session, practice_id=practice_id, patient_id=patient_id,
                         enrollment_id=enrollment_id, now=now, field=EMAIL)
    if address.casefold() == (live.email or "").casefold() and live.delivery_failed_at:
        raise InvalidInput(f"{EMAIL} is unchanged: this address was refused. Type the corrected "
                           "address.", field=EMAIL)
    previous = live.email
    live.email = address
    session.add(live)
    if live.guardian_id:
        guardian = session.get(Guardian, live.guardian_id)
        if guardian is not None and (guardian.email or "").casefold() == (previous or
                                                                         "").casefold():
            guardian.email = address
            session.add(guardian)
    clear_delivery_failure(session, enrollment_id=live.id)
    session.flush()
    patient = find_patient(session, practice_id=practice_id, patient_id=patient_id)
    message_id = _queue_link_email(session, practice_id=practice_id, live=live, patient=patient,
                                   senders=senders, now=now)
    record_event(session, actor=actor, action="email_corrected", practice_id=practice_id,
                 patient_id=live.patient_id, enrollment_id=live.id, previous=previous,
                 email=address, message_id=message_id)
    return ResendResult(message_ids=(message_id,), requeued=0, new_messages=1)
