"""Reminders to invited parents who have not activated: which enrollments are due one, and
queueing it (an email, and a text when the parent agreed to texts), in the parent's language.
A patient's own invitation (an adolescent or young adult) is reminded in words written to the
patient, in the language recorded on it (else the family's: the first guardian's).

Points per practice: `Remind after (days)` from the invitation (3 and 10 by default) and
`Remind before PIN expiry (days)` (2). A point is reminded at most once (a unique row per
enrollment and point); never after activation, decline, void, a lock or a delivery failure;
never a text to a number that opted out or reached its caps. A reminder carries the link only:
the PIN exists as a hash and is never re-sent. Run by `send-outbox` (and the worker).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models import (
    Enrollment,
    EnrollmentMethod,
    EnrollmentRecipient,
    EnrollmentStatus,
    Guardian,
    Patient,
    Practice,
    ReminderSent,
    utcnow,
)
from services import carriers, text_opt_out
from services.adolescent_invitation import first_guardian_language
from services.audit import record_event
from services.dates import practice_day
from services.errors import InvalidInput
from services.i18n import DEFAULT_LANGUAGE, language_or_default
from services.messages import (
    Channel,
    Reminder,
    activation_url,
    build_reminder_email,
    build_reminder_text,
)
from services.outbox import queue_message
from services.practices import get_practice
from services.reminder_settings import parse_remind_after
from services.senders import Senders, senders_from_settings
from services.settings import Settings, get_settings

# A point missed by more than this (the sender was stopped) is passed over, not sent late.
CATCH_UP = dt.timedelta(days=3)


@dataclass(frozen=True)
class Point:
    """One moment a reminder is due for one enrollment."""

    key: str  # stored in ReminderSent.point: "after 3 days", "expiry 2 days"
    due_at: dt.datetime


def reminder_points(*, issued_at: dt.datetime, expires_at: dt.datetime | None,
                    after_days: tuple[int, ...], before_expiry_days: int) -> list[Point]:
    """Every reminder point of an invitation, in time order; none at or after expiry."""
    points = [Point(f"after {days} days", issued_at + dt.timedelta(days=days))
              for days in after_days]
    if expires_at is not None and before_expiry_days:
        points.append(Point(f"expiry {before_expiry_days} days",
                            expires_at - dt.timedelta(days=before_expiry_days)))
    points = [point for point in points if point.due_at > issued_at]
    return sorted(points, key=lambda point: point.due_at)


def due_points(points: list[Point], *, done: set[str], now: dt.datetime,
               expires_at: dt.datetime | None) -> tuple[Point | None, list[Point]]:
    """The point to remind now (the latest one due, if recent) and every due point not yet
    done, which the reminder settles (so a stopped sender never sends a burst later)."""
    due = [point for point in points if point.due_at <= now and point.key not in done]
    if not due:
        return None, []
    latest = due[-1]
    if now - latest.due_at > CATCH_UP:
        return None, due
    if latest.key.startswith("expiry") and expires_at is not None and expires_at <= now:
        return None, due
    return latest, due


@dataclass
class ReminderReport:
    """What one reminder run did."""

    reminded: int = 0
    emails: int = 0
    texts: int = 0
    passed_over: int = 0  # points settled without a message (missed long ago, or expired)
    notes: list[str] = field(default_factory=list)


def _family_language():
    """The patient's first guardian's language: for an invitation of the patient's own issued
    before its language was recorded (it has no guardian), the family's language."""
    return (first_guardian_language(Enrollment.patient_id, Enrollment.practice_id)
            .correlate(Enrollment).scalar_subquery())


def _candidates(session: Session, practice: Practice, now: dt.datetime, limit: int):
    after = parse_remind_after(practice.remind_after_days)
    horizon = now - dt.timedelta(days=max(after, default=0)) - CATCH_UP
    expiry_window = now + dt.timedelta(days=practice.remind_before_expiry_days)
    return session.exec(
        select(Enrollment, Patient.first_name, Patient.last_name, Guardian.first_name,
               Guardian.last_name,
               func.coalesce(Enrollment.language, Guardian.preferred_language,
                             _family_language()))
        .join(Patient, Patient.id == Enrollment.patient_id)
        .outerjoin(Guardian, Guardian.id == Enrollment.guardian_id)
        .where(
            Enrollment.practice_id == practice.id,
            Enrollment.status == EnrollmentStatus.invited,
            Enrollment.activated_at.is_(None),
            Enrollment.voided_at.is_(None),
            Enrollment.delivery_failed_at.is_(None),
            or_(Enrollment.issued_at >= horizon,
                and_(Enrollment.expires_at > now, Enrollment.expires_at <= expiry_window)),
        )
        .order_by(Enrollment.issued_at, Enrollment.id)
        .limit(limit)
    ).all()


def text_route(enrollment: Enrollment, settings: Settings) -> tuple[str, str] | None:
    """Where a text for this invitation goes (channel, recipient): None without consent to
    texts, a cell phone, or a carrier whose gateway still delivers (unless the SMS API is on)."""
    if not (enrollment.send_text and enrollment.text_consent_at and enrollment.cell_phone):
        return None
    if settings.sms_api_configured:
        return Channel.sms_api, enrollment.cell_phone
    carrier = carriers.CARRIERS_BY_KEY.get(enrollment.cell_carrier or "")
    if carrier is None or carrier.is_closed():
        return None
    try:
        return Channel.sms_gateway, carriers.gateway_address(carrier_key=carrier.key,
                                                             cell_phone=enrollment.cell_phone)
    except InvalidInput:
        return None


def _local_date(moment: dt.datetime | None, timezone: str) -> dt.date | None:
    return practice_day(moment, timezone)


def _done_points(session: Session, enrollment_ids: list[int]) -> dict[int, set[str]]:
    """The points already settled, per enrollment, read in chunks (not one query each)."""
    done: dict[int, set[str]] = {}
    for start in range(0, len(enrollment_ids), 1_000):
        chunk = enrollment_ids[start:start + 1_000]
        for enrollment_id, point in session.exec(
            select(ReminderSent.enrollment_id, ReminderSent.point)
            .where(ReminderSent.enrollment_id.in_(chunk))
        ).all():
            done.setdefault(enrollment_id, set()).add(point)
    return done


def _remind_one(session: Session, *, row, point: Point | None, settled: list[Point],
                practice: Practice, info, now: dt.datetime, senders: Senders,
                settings: Settings, report: ReminderReport) -> None:
    enrollment, child, child_last, guardian_first, guardian_last, language = row
    own = enrollment.recipient == EnrollmentRecipient.patient
    if own:  # the patient's own invitation: written to them, by their name
        guardian_first, guardian_last = child, child_last
    language = language_or_default(language or DEFAULT_LANGUAGE)
    try:
        with session.begin_nested():
            for item in settled:
                session.add(ReminderSent(enrollment_id=enrollment.id, point=item.key,
                                         sent_at=now))
            session.flush()
    except IntegrityError:
        session.rollback()  # another run settled these points first
        return
    if point is None:
        report.passed_over += len(settled)
        session.commit()
        return
    expired = enrollment.expires_at is not None and enrollment.expires_at <= now
    reminder = Reminder(
        practice=info, language=language,
        guardian_name=f"{guardian_first or ''} {guardian_last or ''}".strip(),
        patient_first_name=child,
        activation_url=activation_url(info, enrollment.link_token, language),
        state=("expired" if expired else "question"
               if enrollment.method == EnrollmentMethod.question else "pin"),
        expires_on=_local_date(enrollment.expires_at, practice.timezone),
        own_account=own,
    )
    messages = []
    if enrollment.email:
        messages.append(build_reminder_email(reminder, recipient=enrollment.email))
    text = text_route(enrollment, settings)
    if text is not None:
        refusal = text_opt_out.text_refusal(session, phone=enrollment.cell_phone, now=now)
        if refusal:
            report.notes.append(f"enrollment {enrollment.id}: {refusal}")
        else:
            messages.append(build_reminder_text(reminder, channel=text[0], recipient=text[1],
                                                link_in_text=own and not enrollment.email))
    for message in messages:
        queued = queue_message(session, practice_id=practice.id, enrollment_id=enrollment.id,
                               message=message, pin=None, senders=senders, now=now)
        if message.channel == Channel.email:
            report.emails += 1
        else:
            session.flush()
            text_opt_out.record_text(session, phone=enrollment.cell_phone,
                                     practice_id=practice.id, outbox_message_id=queued.id, now=now)
            report.texts += 1
    if messages:
        enrollment.reminders_sent += 1
        enrollment.last_reminder_at = now
        session.add(enrollment)
        report.reminded += 1
        record_event(session, actor="system", action="reminder_sent", practice_id=practice.id,
                     patient_id=enrollment.patient_id, enrollment_id=enrollment.id,
                     point=point.key, language=language,
                     channels=[message.channel for message in messages])
    session.commit()


def send_reminders(session: Session, *, now: dt.datetime | None = None,
                   senders: Senders | None = None, settings: Settings | None = None,
                   practice_id: int | None = None, limit: int = 500) -> ReminderReport:
    """Queue the reminders due now in every practice (or one); each enrollment in its own
    transaction. Delivery is the outbox's: run `send_due_messages` after this."""
    settings = settings or get_settings()
    senders = senders or senders_from_settings(settings)
    now = now or utcnow()
    report = ReminderReport()
    query = select(Practice).order_by(Practice.id)
    if practice_id is not None:
        query = query.where(Practice.id == practice_id)
    practices = list(session.exec(query).all())
    session.commit()
    for practice in practices:
        if not practice.remind_after_days and not practice.remind_before_expiry_days:
            continue
        info = get_practice(session, practice_id=practice.id)
        after_days = parse_remind_after(practice.remind_after_days)
        rows = _candidates(session, practice, now, limit)
        done = _done_points(session, [row[0].id for row in rows])
        session.commit()
        for row in rows:
            enrollment = row[0]
            points = reminder_points(issued_at=enrollment.issued_at,
                                     expires_at=enrollment.expires_at, after_days=after_days,
                                     before_expiry_days=practice.remind_before_expiry_days)
            point, settled = due_points(points, done=done.get(enrollment.id, set()), now=now,
                                        expires_at=enrollment.expires_at)
            if settled:
                _remind_one(session, row=row, point=point, settled=settled, practice=practice,
                            info=info, now=now, senders=senders, settings=settings,
                            report=report)
    return report
