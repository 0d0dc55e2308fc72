"""The tables. Datetimes are timezone-aware and stored in UTC (SQLModel's UTCDateTime);
each practice's IANA timezone is used only for display and date filters."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    """Now, timezone-aware in UTC, to the second."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class Role(StrEnum):
    admin = "admin"
    staff = "staff"
    supervisor = "supervisor"


class AppointmentStatus(StrEnum):
    scheduled = "scheduled"
    arrived = "arrived"  # checked in at the desk, not seen yet
    completed = "completed"
    cancelled = "cancelled"
    no_show = "no_show"


class EnrollmentMethod(StrEnum):
    pin = "pin"
    question = "question"


class EnrollmentRecipient(StrEnum):
    parent = "Parent"
    patient = "Patient"


class EnrollmentStatus(StrEnum):
    # Every status but `voided` is the patient's current ("live") enrollment; the
    # database allows one live enrollment per patient. "PIN expired" is derived from
    # `invited` plus `expires_at`, never stored, so it cannot go stale.
    invited = "invited"
    locked = "locked"
    active = "active"
    declined = "declined"
    voided = "voided"


class OutboxStatus(StrEnum):
    held = "held"  # no sender configured yet
    pending = "pending"  # due for a (re)try at next_attempt_at
    sent = "sent"
    failed = "failed"  # gave up after the retry budget; an admin can resend


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


# Practice: one clinic (or clinic group member) with its own patients and settings.
class Practice(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    timezone: str = Field(default="America/New_York", max_length=64)
    portal_url: str = Field(default="http://localhost:8501", max_length=500)
    pin_lifetime_days: int = Field(default=14)
    minor_age_limit: int = Field(default=18)
    confidential_age: int | None = Field(default=12)  # None: off (parent access stays full)
    phone: str = Field(default="", max_length=40)
    email: str = Field(default="", max_length=254)
    address: str = Field(default="", max_length=500)
    # Reminders to invited parents: days after the invitation ("3,10"), and days before the
    # PIN expires (0: none).
    remind_after_days: str = Field(default="3,10", max_length=40,
                                   sa_column_kwargs={"server_default": "3,10"})
    remind_before_expiry_days: int = Field(default=2, sa_column_kwargs={"server_default": "2"})
    # Where parents sign in to the patient portal itself, shown after activation ("" = unknown).
    portal_sign_in_url: str = Field(default="", max_length=500,
                                    sa_column_kwargs={"server_default": ""})
    # Audit events are kept at least this long (HIPAA documentation retention: 6 years).
    audit_retention_years: int = Field(default=6, sa_column_kwargs={"server_default": "6"})
    created_at: dt.datetime = Field(default_factory=utcnow)

    __table_args__ = (
        CheckConstraint("pin_lifetime_days BETWEEN 1 AND 365", name="pin_lifetime"),
        CheckConstraint("remind_before_expiry_days BETWEEN 0 AND 60", name="remind_before_expiry"),
        CheckConstraint("minor_age_limit BETWEEN 1 AND 30", name="minor_age_limit"),
        CheckConstraint("confidential_age IS NULL OR confidential_age BETWEEN 1 AND 30",
                        name="confidential_age"),
        CheckConstraint("audit_retention_years BETWEEN 6 AND 100", name="audit_retention"),
    )


# Holiday: a day the practice is closed; excluded from business-day counts.
class Holiday(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id", index=True)
    day: dt.date
    name: str = Field(default="", max_length=120)

    __table_args__ = (UniqueConstraint("practice_id", "day"),)


# Location: a site where the practice sees patients.
class Location(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id", index=True)
    name: str = Field(max_length=200)

    __table_args__ = (UniqueConstraint("practice_id", "name"),)


# Provider: a clinician appointments are booked with.
class Provider(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id", index=True)
    name: str = Field(max_length=200)

    __table_args__ = (UniqueConstraint("practice_id", "name"),)


# Patient: a child seen by the practice, identified by the practice's MRN.
class Patient(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id")
    mrn: str = Field(max_length=64)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    date_of_birth: dt.date
    # The live (not voided) enrollment's id, stored status and PIN expiry, copied by database
    # triggers in the same transaction as every enrollment change (migration
    # 0003_patient_live_enrollment), so the schedule reads a patient's status in one join.
    # "PIN expired" is still derived at read time from live_enrollment_expires_at.
    live_enrollment_id: int | None = Field(default=None)
    live_enrollment_status: str | None = Field(default=None, max_length=16)
    live_enrollment_expires_at: dt.datetime | None = None
    # The first enrollment's issue and the first activation (an enrollment's activated_at or a
    # PortalAccess grant), kept by triggers (0008_visit_facts) for the Enrollment measure.
    first_invited_at: dt.datetime | None = None
    first_activated_at: dt.datetime | None = None

    __table_args__ = (
        UniqueConstraint("practice_id", "mrn"),
        Index("ix_patient_practice_last_first", "practice_id", "last_name", "first_name"),
    )


# Guardian: a parent or other adult who may hold portal access for one or more children.
class Guardian(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id", index=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    relationship: str = Field(default="Parent", max_length=40)
    email: str | None = Field(default=None, max_length=254)
    cell_phone: str | None = Field(default=None, max_length=20)  # E.164
    # The language of everything the parent reads (a catalog under locales/); staff pages stay
    # English.
    preferred_language: str = Field(default="en", max_length=16,
                                    sa_column_kwargs={"server_default": "en"})


# PatientGuardian: the many-to-many link between children and their guardians.
class PatientGuardian(SQLModel, table=True):
    patient_id: int = Field(foreign_key="patient.id", primary_key=True)
    guardian_id: int = Field(foreign_key="guardian.id", primary_key=True, index=True)


# Appointment: one visit on the schedule, upserted from the practice system by source id.
class Appointment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id")
    patient_id: int = Field(foreign_key="patient.id")  # ix_appointment_patient_window
    provider_id: int = Field(foreign_key="provider.id")
    location_id: int = Field(foreign_key="location.id")
    start_at: dt.datetime  # UTC
    visit_type: str = Field(default="", max_length=80)
    status: str = Field(default=AppointmentStatus.scheduled, max_length=16)
    source_id: str = Field(max_length=100)

    __table_args__ = (
        UniqueConstraint("practice_id", "source_id"),
        # Covering: the schedule's summary reads a window from the index alone.
        Index("ix_appointment_window", "practice_id", "start_at", "status", "location_id",
              "provider_id", "patient_id"),
        Index("ix_appointment_provider_window", "practice_id", "provider_id", "start_at",
              "status", "location_id", "patient_id"),
        # Has this patient a visit in the window? (a large window's summary probes it)
        Index("ix_appointment_patient_window", "patient_id", "start_at", "status",
              "location_id", "provider_id", "practice_id"),
        CheckConstraint(_in("status", AppointmentStatus), name="status"),
    )


# VisitFact: one completed appointment with the start of the patient's previous completed visit
# (overall, with the same provider, at the same location), kept by database triggers in the
# same transaction as every appointment change (migration 0008_visit_facts). "First completed
# visit in a period starting at S" is then `prev < S` on an index instead of a GROUP BY.
class VisitFact(SQLModel, table=True):
    __tablename__ = "visit_fact"

    appointment_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    practice_id: int
    patient_id: int
    provider_id: int
    location_id: int
    start_at: dt.datetime  # UTC
    prev_start_at: dt.datetime | None = None
    prev_provider_start_at: dt.datetime | None = None
    prev_location_start_at: dt.datetime | None = None
    # Copies of the patient's columns of the same names (a trigger on patient keeps them).
    first_invited_at: dt.datetime | None = None
    first_activated_at: dt.datetime | None = None
    live_enrollment_status: str | None = Field(default=None, max_length=16)
    live_enrollment_expires_at: dt.datetime | None = None

    __table_args__ = (
        # Covering: the Enrollment counts read a period from the index alone.
        Index("ix_visit_fact_window", "practice_id", "start_at", "patient_id", "provider_id",
              "location_id", "prev_start_at", "prev_provider_start_at",
              "prev_location_start_at", "first_invited_at", "first_activated_at",
              "live_enrollment_status", "live_enrollment_expires_at"),
        Index("ix_visit_fact_patient", "patient_id", "start_at"),
    )


# StaffUser: someone who logs in: front desk, supervisor or administrator.
class StaffUser(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)  # stored lower-case
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    password_hash: str = Field(max_length=100)  # bcrypt
    role: str = Field(default=Role.staff, max_length=16)
    disabled: bool = Field(default=False)
    failed_logins: int = Field(default=0)
    locked_until: dt.datetime | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)

    __table_args__ = (CheckConstraint(_in("role", Role), name="role"),)


# StaffPractice: which practices a staff user may work in.
class StaffPractice(SQLModel, table=True):
    staff_user_id: int = Field(foreign_key="staffuser.id", primary_key=True)
    practice_id: int = Field(foreign_key="practice.id", primary_key=True, index=True)


# StaffSession: one signed-in browser. The cookie carries a random id; only its hash is stored,
# so a copy of the database cannot sign anyone in.
class StaffSession(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)  # SHA-256 hex of the cookie's session id
    staff_user_id: int = Field(foreign_key="staffuser.id", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow)
    last_seen_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime  # the absolute end, however active the session is
    revoked_at: dt.datetime | None = None
    revoked_reason: str | None = Field(default=None, max_length=40)
    client: str = Field(default="", max_length=200)  # the address it signed in from


# Enrollment: one invitation of a guardian to the portal for one patient. Secrets are hashes only.
class Enrollment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    guardian_id: int | None = Field(default=None, foreign_key="guardian.id")
    method: str = Field(default=EnrollmentMethod.pin, max_length=16)
    secret_hash: str | None = Field(default=None, max_length=255)  # PIN or answer, salted hash
    verification_question: str | None = Field(default=None, max_length=300)
    link_token: str = Field(max_length=64, unique=True)  # locates the enrollment; not a secret
    email: str | None = Field(default=None, max_length=254)
    cell_phone: str | None = Field(default=None, max_length=20)
    cell_carrier: str | None = Field(default=None, max_length=40)
    send_text: bool = Field(default=False)
    send_pin: bool = Field(default=True)
    status: str = Field(default=EnrollmentStatus.invited, max_length=16)
    issued_by_id: int | None = Field(default=None, foreign_key="staffuser.id")
    issued_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime | None = None
    activated_at: dt.datetime | None = None
    voided_at: dt.datetime | None = None
    declined_reason: str | None = Field(default=None, max_length=300)
    attempts: int = Field(default=0)
    # The parent agreed to receive texts: who recorded it, and when.
    text_consent_at: dt.datetime | None = None
    text_consent_by_id: int | None = Field(default=None, foreign_key="staffuser.id")
    # A permanent delivery failure (address refused, SMS API error), in words, shown to staff.
    delivery_failed_at: dt.datetime | None = None
    delivery_failure: str | None = Field(default=None, max_length=300)
    reminders_sent: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_reminder_at: dt.datetime | None = None
    # Who holds the invitation: a parent ("Parent") or the patient themself ("Patient": an
    # adolescent from the Confidential age, or a young adult at the minor age limit).
    recipient: str = Field(default=EnrollmentRecipient.parent, max_length=16,
                           sa_column_kwargs={"server_default": "Parent"})
    # The access it gives, from the child's age on the day it was issued (services/adolescents):
    # Full or Limited for a parent, Adolescent or Young adult for the patient. None: issued
    # before migration 0007 recorded it.
    access_level: str | None = Field(default=None, max_length=16)
    # The adolescent agreed to have their own account: which staff user recorded it, and when.
    assent_at: dt.datetime | None = None
    assent_by_id: int | None = Field(default=None, foreign_key="staffuser.id")
    # The language of the patient's own invitation (email, reminders, letter); None for a
    # parent's, whose language is the guardian's preferred language.
    language: str | None = Field(default=None, max_length=16)

    __table_args__ = (
        CheckConstraint(_in("status", EnrollmentStatus), name="status"),
        CheckConstraint(_in("method", EnrollmentMethod), name="method"),
        # At most one live enrollment per patient and recipient (one parent invitation and one
        # of the patient's own side by side), enforced by the database.
        Index(
            "uq_enrollment_live_patient_recipient",
            "patient_id",
            "recipient",
            unique=True,
            sqlite_where=text("status <> 'voided'"),
            postgresql_where=text("status <> 'voided'"),
        ),
        Index("ix_enrollment_practice_issued", "practice_id", "issued_at"),
    )


# PortalAccount: the parent's own login, created on activation.
class PortalAccount(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id")
    guardian_id: int | None = Field(default=None, foreign_key="guardian.id")
    # Set when the account is the patient's own (an adolescent or young adult), not a parent's.
    patient_id: int | None = Field(default=None, foreign_key="patient.id")
    email: str = Field(max_length=254)  # stored lower-case
    password_hash: str = Field(max_length=100)
    created_at: dt.datetime = Field(default_factory=utcnow)

    __table_args__ = (UniqueConstraint("practice_id", "email"),)


# PortalAccess: which children an account sees (siblings share one account).
class PortalAccess(SQLModel, table=True):
    account_id: int = Field(foreign_key="portalaccount.id", primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", primary_key=True, index=True)
    enrollment_id: int = Field(foreign_key="enrollment.id")
    granted_at: dt.datetime = Field(default_factory=utcnow)


# OutboxMessage: an email or text waiting for, or past, delivery. Never deleted.
class OutboxMessage(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id")
    enrollment_id: int | None = Field(default=None, foreign_key="enrollment.id", index=True)
    channel: str = Field(max_length=16)  # email, sms_gateway, sms_api
    recipient: str = Field(max_length=254)
    subject: str = Field(default="", max_length=300)
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    body_html: str | None = Field(default=None, sa_column=Column(Text))
    # The PIN, encrypted with the outbox key, while the message still has to carry it.
    # Bodies hold a placeholder; the secret is erased once the message is sent.
    sealed_secret: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default=OutboxStatus.held, max_length=16)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=1000)
    next_attempt_at: dt.datetime | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)
    sent_at: dt.datetime | None = None

    __table_args__ = (
        CheckConstraint(_in("status", OutboxStatus), name="status"),
        Index("ix_outboxmessage_status_due", "status", "next_attempt_at"),
        Index("ix_outboxmessage_practice_created", "practice_id", "created_at"),
    )


# AuditEvent: who did what to whose portal access, and when. Append-only.
class AuditEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=100)  # staff username, "parent", "system" or "cli"
    action: str = Field(max_length=64)
    practice_id: int | None = Field(default=None, foreign_key="practice.id")
    patient_id: int | None = Field(default=None, foreign_key="patient.id", index=True)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))

    __table_args__ = (Index("ix_auditevent_practice_at", "practice_id", "at"),)


# RateLimit: a fixed-window counter for one guessable secret and one client.
class RateLimit(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    bucket: str = Field(max_length=40)
    key: str = Field(max_length=200)
    window_start: dt.datetime
    count: int = Field(default=0)

    __table_args__ = (UniqueConstraint("bucket", "key"),)


# TextOptOut: a cell number that replied STOP (or asked the practice): no text goes to it.
class TextOptOut(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=20, unique=True)  # E.164
    opted_out_at: dt.datetime = Field(default_factory=utcnow)
    source: str = Field(default="staff", max_length=16)  # reply, staff, cli
    recorded_by: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=200)


# TextLog: one text queued to a number; the daily and weekly caps count these.
class TextLog(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=20)  # E.164
    practice_id: int = Field(foreign_key="practice.id")
    outbox_message_id: int | None = Field(default=None, foreign_key="outboxmessage.id")
    queued_at: dt.datetime = Field(default_factory=utcnow)

    __table_args__ = (Index("ix_textlog_phone_queued", "phone", "queued_at"),)


# ReminderSent: one reminder point reached for one enrollment; unique, so never sent twice.
class ReminderSent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key="enrollment.id")
    point: str = Field(max_length=24)  # "after 3 days", "expiry 2 days"
    sent_at: dt.datetime = Field(default_factory=utcnow)

    __table_args__ = (UniqueConstraint("enrollment_id", "point"),)


# ImportMapping: a practice's saved column mapping for schedule CSV imports.
class ImportMapping(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    practice_id: int = Field(foreign_key="practice.id")
    kind: str = Field(default="csv", max_length=16)
    mapping_json: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: dt.datetime = Field(default_factory=utcnow)

    __table_args__ = (UniqueConstraint("practice_id", "kind"),)


# WorkerHeartbeat: one row per running `manage.py worker`, touched after every batch, so that
# the Outbox page can say when a worker was last seen.
class WorkerHeartbeat(SQLModel, table=True):
    name: str = Field(primary_key=True, max_length=200)  # host:pid
    started_at: dt.datetime = Field(default_factory=utcnow)
    last_seen_at: dt.datetime = Field(default_factory=utcnow)
    sent_total: int = Field(default=0)
