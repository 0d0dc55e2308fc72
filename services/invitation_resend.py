"""Resend an invitation, and correct a parent's address after a delivery failure and resend.

The PIN exists only as a hash once sent, so a resend is the link (plus any unsent original,
which still carries its sealed PIN)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_
from sqlmodel import Session, select

from models import Enrollment, Guardian, OutboxMessage, OutboxStatus, Practice, utcnow
from services.audit import record_event
from services.dates import practice_day
from services.delivery_failures import clear_delivery_failure
from services.errors import Conflict, InvalidInput
from services.i18n import DEFAULT_LANGUAGE
from services.messages import PIN_PLACEHOLDER, Invitation, activation_url, build_welcome_email
from services.outbox import queue_message
from services.practices import get_practice
from services.registration_context import find_patient, live_enrollment, status_of
from services.registration_form import EMAIL
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
                  now: dt.datetime, field: str) -> Enrollment:
    patient = find_patient(session, practice_id=practice_id, patient_id=patient_id)
    live = live_enrollment(session, patient_id=patient.id)
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


def _queue_link_email(session: Session, *, practice_id: int, live: Enrollment,
                      child: str, senders: Senders, now: dt.datetime) -> int:
    practice = session.get(Practice, practice_id)
    info = get_practice(session, practice_id=practice_id)
    guardian = session.get(Guardian, live.guardian_id) if live.guardian_id else None
    language = guardian.preferred_language if guardian else DEFAULT_LANGUAGE
    invitation = Invitation(
        practice=info,
        guardian_name=f"{guardian.first_name} {guardian.last_name}" if guardian else "",
        patient_first_name=child,
        activation_url=activation_url(info, live.link_token, language),
        expires_on=practice_day(live.expires_at, practice.timezone),
        method=live.method,
        verification_question=live.verification_question,
        resend=True,
        language=language,
    )
    row = queue_message(session, practice_id=practice_id, enrollment_id=live.id,
                        message=build_welcome_email(invitation, recipient=live.email),
                        pin=None, senders=senders, now=now)
    session.flush()
    return row.id


def resend_invitation(
    session: Session,
    *,
    practice_id: int,
    patient_id: int,
    enrollment_id: int,
    actor: str,
    settings: Settings | None = None,
    senders: Senders | None = None,
    now: dt.datetime | None = None,
) -> ResendResult:
    """Send the invitation again: unsent originals go out as they are; otherwise a new email
    with the link (the PIN itself is not kept, so it cannot be sent twice)."""
    settings = settings or get_settings()
    senders = senders or senders_from_settings(settings)
    now = now or utcnow()
    live = _live_invited(session, practice_id=practice_id, patient_id=patient_id,
                         enrollment_id=enrollment_id, now=now, field=RESEND)
    if not live.email:
        raise Conflict("This invitation has no email address: issue a new PIN with one.",
                       field=RESEND)
    ids = _requeue_unsent(session, live, senders, now)
    new_messages = 0
    if not ids:
        child = find_patient(session, practice_id=practice_id, patient_id=patient_id).first_name
        ids.append(_queue_link_email(session, practice_id=practice_id, live=live, child=child,
                                     senders=senders, now=now))
        new_messages = 1
    record_event(session, actor=actor, action="invitation_resent", practice_id=practice_id,
                 patient_id=live.patient_id, enrollment_id=live.id, message_ids=ids,
                 requeued=len(ids) - new_messages, new_messages=new_messages)
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
    child = find_patient(session, practice_id=practice_id, patient_id=patient_id).first_name
    message_id = _queue_link_email(session, practice_id=practice_id, live=live, child=child,
                                   senders=senders, now=now)
    record_event(session, actor=actor, action="email_corrected", practice_id=practice_id,
                 patient_id=live.patient_id, enrollment_id=live.id, previous=previous,
                 email=address, message_id=message_id)
    return ResendResult(message_ids=(message_id,), requeued=0, new_messages=1)
