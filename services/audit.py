"""The audit trail: one append-only event for every action on portal access."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import zoneinfo
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import and_, distinct, func, or_, select
from sqlmodel import Session

from models import AuditEvent, Patient, StaffPractice, StaffUser, utcnow
from services.audit_details import describe_detail, load_referents
from services.dates import moment_text
from services.spreadsheet import SafeWriter
from services.validation import escape_like


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    practice_id: int | None = None,
    patient_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add an audit event to the session's unit of work (committed with it)."""
    event = AuditEvent(
        at=utcnow(),
        actor=actor,
        action=action,
        practice_id=practice_id,
        patient_id=patient_id,
        detail=json.dumps(detail, default=str, sort_keys=True) if detail else "",
    )
    session.add(event)
    return event


# --- what each action is called on screen (Audit Log, a patient's portal history) ---------------

ACTION_LABELS: dict[str, str] = {
    "activation_attempt": "Activation attempt",
    "appointment_arrived": "Marked arrived",
    "assent_recorded": "Patient's agreement to their own account recorded",
    "audit_pruned": "Old audit events archived and removed",
    "bulk_invited": "Invited in a bulk batch",
    "bulk_registration": "Bulk invitations run",
    "declined": "Declined",
    "delivery_failed": "Delivery failed",
    "email_corrected": "Email address corrected",
    "demo_loaded": "Demo practice loaded",
    "enrollment_locked": "PIN locked after wrong tries",
    "guardian_contact_updated": "Guardian contact updated",
    "family_registered": "Family registered together",
    "holiday_added": "Holiday added",
    "holiday_removed": "Holiday removed",
    "invitation_resent": "Invitation resent",
    "letter_downloaded": "PIN letter downloaded",
    "location_added": "Location added",
    "location_renamed": "Location renamed",
    "login_failed": "Sign-in failed",
    "login_locked": "Sign-in locked",
    "login_refused_locked": "Sign-in refused (locked)",
    "login_succeeded": "Signed in",
    "login_throttled": "Sign-in refused (too many tries from one computer)",
    "logout": "Signed out",
    "message_failed": "Message failed",
    "message_requeued": "Message queued again",
    "message_sent": "Message sent",
    "patient_invitation_cancelled": "Patient's own invitation cancelled",
    "patient_invited": "Patient invited to their own account",
    "pin_issued": "PIN issued",
    "pin_voided": "PIN voided",
    "practice_created": "Practice created",
    "practice_updated": "Practice settings changed",
    "provider_added": "Provider added",
    "provider_renamed": "Provider renamed",
    "registration": "Registered",
    "reminder_sent": "Reminder sent",
    "schedule_imported": "Schedule imported",
    "sessions_ended": "Sessions ended",
    "text_opt_out_added": "Text opt-out recorded",
    "text_opt_out_removed": "Text opt-out removed",
    "user_created": "Staff user created",
    "user_disabled": "Staff user disabled",
    "user_enabled": "Staff user enabled",
    "user_password_reset": "Password reset",
    "user_practice_added": "Added to practice",
    "user_practice_removed": "Removed from practice",
    "user_role_changed": "Role changed",
    "user_unlocked": "Staff user unlocked",
    "verification_question_set": "Verification question set",
}


def action_label(action: str) -> str:
    """The action in words; an action with no label yet reads as a sentence, never snake_case."""
    return ACTION_LABELS.get(action) or action.replace("_", " ").capitalize()


# --- reading the trail (the Audit Log page) ----------------------------------------------------

AUDIT_PAGE_SIZE = 50
AUDIT_COLUMNS = ["When", "User", "Action", "Patient", "Details"]


@dataclass(frozen=True)
class AuditFilter:
    """What the Audit Log is narrowed to; empty values mean "any"."""

    start: dt.date | None = None  # in the practice's timezone, inclusive
    end: dt.date | None = None
    user: str = ""  # a username, any case
    patient: str = ""  # an MRN, or words that start the patient's first or last name
    action: str = ""


@dataclass(frozen=True)
class AuditPage:
    """One page of audit events, newest first, and how many match in all."""

    events: pd.DataFrame
    total: int
    page: int
    pages: int


@dataclass(frozen=True)
class AuditChoices:
    """The actions and users that occur in a practice's trail, for the filter drop-downs; an
    action is its code (what `AuditFilter.action` takes), shown with `action_label`."""

    actions: list[str]
    users: list[str]


def _like_prefix(word: str) -> str:
    return f"{escape_like(word.lower())}%"


def _in_practice(practice_id: int):
    """The practice's events, and the practice-less ones (sign-ins, lockouts) of its staff."""
    staff = (select(StaffUser.username)
             .join(StaffPractice, StaffPractice.staff_user_id == StaffUser.id)
             .where(StaffPractice.practice_id == practice_id))
    return or_(AuditEvent.practice_id == practice_id,
               and_(AuditEvent.practice_id.is_(None), AuditEvent.actor.in_(staff)))


def _filtered(query, *, practice_id: int, timezone: str, filters: AuditFilter):
    zone = zoneinfo.ZoneInfo(timezone)
    query = query.where(_in_practice(practice_id))
    if filters.start:
        since = dt.datetime.combine(filters.start, dt.time(), tzinfo=zone).astimezone(dt.UTC)
        query = query.where(AuditEvent.at >= since)
    if filters.end:
        until = dt.datetime.combine(filters.end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        query = query.where(AuditEvent.at < until.astimezone(dt.UTC))
    if filters.user.strip():
        query = query.where(func.lower(AuditEvent.actor) == filters.user.strip().lower())
    if filters.action.strip():
        query = query.where(AuditEvent.action == filters.action.strip())
    words = filters.patient.split()
    if words:
        by_name = and_(*(
            or_(func.lower(Patient.first_name).like(_like_prefix(word), escape="\\"),
                func.lower(Patient.last_name).like(_like_prefix(word), escape="\\"))
            for word in words
        ))
        query = query.where(or_(Patient.mrn == filters.patient.strip(), by_name))
    return query


def _events_query():
    return (
        select(AuditEvent.id, AuditEvent.at, AuditEvent.actor, AuditEvent.action,
               Patient.mrn, Patient.first_name, Patient.last_name, AuditEvent.detail)
        .outerjoin(Patient, Patient.id == AuditEvent.patient_id)
    )


def _patient_label(mrn: str | None, first: str | None, last: str | None) -> str:
    if not mrn:
        return ""
    # Most MRNs carry no prefix; those that do ("MRN0000479") are not prefixed twice.
    shown = mrn if mrn.upper().startswith("MRN") else f"MRN {mrn}"
    return f"{last}, {first} ({shown})"


def list_audit_events(
    session: Session,
    *,
    practice_id: int,
    timezone: str,
    filters: AuditFilter | None = None,
    page: int = 1,
    page_size: int = AUDIT_PAGE_SIZE,
) -> AuditPage:
    """One page of the practice's audit events, newest first, filtered and paged in SQL; the
    Action column holds the action in words."""
    filters = filters or AuditFilter()
    zone = zoneinfo.ZoneInfo(timezone)
    counted = _filtered(select(func.count()).select_from(AuditEvent).outerjoin(
        Patient, Patient.id == AuditEvent.patient_id),
        practice_id=practice_id, timezone=timezone, filters=filters)
    total = session.execute(counted).scalar_one()
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, page), pages)
    rows = session.execute(
        _filtered(_events_query(), practice_id=practice_id, timezone=timezone, filters=filters)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(page_size).offset((page - 1) * page_size)
    ).all()
    referents = load_referents(session, practice_id=practice_id, timezone=timezone,
                               details=[row.detail for row in rows])
    events = pd.DataFrame(
        [[moment_text(row.at, zone, seconds=True), row.actor,
          action_label(row.action),
          _patient_label(row.mrn, row.first_name, row.last_name),
          describe_detail(row.detail, timezone=timezone, referents=referents)]
         for row in rows],
        columns=AUDIT_COLUMNS,
    )
    return AuditPage(events=events, total=total, page=page, pages=pages)


def list_audit_choices(session: Session, *, practice_id: int) -> AuditChoices:
    """The distinct actions (as codes, in the order of their words) and users in the practice's
    trail (computed in SQL)."""
    actions = session.execute(
        select(distinct(AuditEvent.action)).where(_in_practice(practice_id))
    ).scalars().all()
    users = session.execute(
        select(distinct(AuditEvent.actor)).where(_in_practice(practice_id))
    ).scalars().all()
    # Sorted here as well: database collations disagree on upper and lower case.
    return AuditChoices(actions=sorted(actions, key=lambda a: (action_label(a), a)),
                        users=sorted(users, key=lambda u: (u.lower(), u)))


def export_audit_csv(
    session: Session, *, practice_id: int, timezone: str, filters: AuditFilter | None = None
) -> bytes:
    """Every matching audit event as CSV (UTF-8 with a byte-order mark for spreadsheets),
    read from the database in batches. Actions and details stay as recorded (codes and JSON),
    for whoever processes the file."""
    filters = filters or AuditFilter()
    zone = zoneinfo.ZoneInfo(timezone)
    buffer = io.StringIO()
    writer = SafeWriter(buffer)  # names and details come from imports and forms
    writer.writerow(["When (UTC)", f"When ({timezone})", "User", "Action", "MRN",
                     "Patient", "Details"])
    result = session.execute(
        _filtered(_events_query(), practice_id=practice_id, timezone=timezone, filters=filters)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .execution_options(yield_per=5_000)
    )
    for rows in result.partitions():
        writer.writerows(
            [row.at.astimezone(dt.UTC).isoformat(), row.at.astimezone(zone).isoformat(),
             row.actor, row.action, row.mrn or "",
             f"{row.last_name}, {row.first_name}" if row.mrn else "", row.detail]
            for row in rows
        )
    return buffer.getvalue().encode("utf-8-sig")
