"""Read schemas of Register Patient: frozen, non-table models built from rows with
`model_validate(row)`; they outlive the session and carry no lazy relationships."""

from __future__ import annotations

import datetime as dt

from pydantic import ConfigDict
from sqlmodel import SQLModel

_READ = ConfigDict(frozen=True, from_attributes=True)


# Who is being registered (from a Patient row).
class PatientSummary(SQLModel):
    model_config = _READ

    id: int
    mrn: str
    first_name: str
    last_name: str
    date_of_birth: dt.date

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


# The visit the registration was started from (an Appointment with its provider and location).
class AppointmentSummary(SQLModel):
    model_config = _READ

    id: int
    start_at: dt.datetime
    provider: str
    location: str
    visit_type: str
    status: str


# A guardian on file for the patient (from a Guardian row).
class GuardianOption(SQLModel):
    model_config = _READ

    id: int
    first_name: str
    last_name: str
    relationship: str
    email: str | None
    cell_phone: str | None
    preferred_language: str = "en"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


# One enrollment of the patient, as the status panel and the history show it.
class EnrollmentSummary(SQLModel):
    model_config = _READ

    id: int
    status: str
    portal_status: str  # the badge for a live enrollment; "Voided" for a past one
    method: str
    guardian_id: int | None
    email: str | None
    cell_phone: str | None
    cell_carrier: str | None
    send_text: bool
    send_pin: bool
    verification_question: str | None
    issued_at: dt.datetime
    issued_by: str | None
    expires_at: dt.datetime | None
    activated_at: dt.datetime | None
    voided_at: dt.datetime | None
    declined_reason: str | None
    delivery_failure: str | None = None  # why the invitation did not reach the parent, in words
    reminders_sent: int = 0
    recipient: str = "Parent"  # or "Patient": the patient's own invitation
    access_level: str | None = None  # Full, Limited, Adolescent, Young adult (None: not recorded)


# An audit event about the patient's portal access.
class HistoryEvent(SQLModel):
    model_config = _READ

    at: dt.datetime
    actor: str
    action: str
    detail: str


# A patient search hit.
class PatientMatch(SQLModel):
    model_config = _READ

    id: int
    mrn: str
    name: str
    date_of_birth: dt.date
