"""Bulk invitations (the Dashboard's `Register all`, `manage.py register-bulk`): every patient in
a schedule view who is Not registered (or whose PIN expired) and has a guardian email on file,
registered one transaction per patient with services.registration's own use cases.

    plan = plan_bulk(session, practice_id=..., criteria=ScheduleCriteria(...))   # read only
    outcome = run_bulk(plan, practice_id=..., actor=..., on_progress=callback)  # commits each
    pdf = render_bulk_letters(outcome)   # one page per family

Who is skipped, and why (the confirmation lists each with its reason):
- Declined: the family declined portal access (their enrollment says so); never invited again
  from here, only from Register Patient.
- No guardian, or no guardian email on file: bulk invitations go by email (the PIN in the
  welcome email, and the letter to print); texts need the consent the Register page records.
- Opted out: the STOP list (services/text_opt_out.py) is the only opt-out there is, and it
  covers texts only, as on the Register page (an opted-out number still gets its PIN by email).
  So a guardian with an email is invited even if their number is on the list; one without an
  email whose cell number is on it is skipped as opted out rather than "no email", so the desk
  knows a text is no way to reach them either.

Each email and letter is in the guardian's preferred language (services.registration picks it
from the guardian on file, as for a single registration); the combined PDF's pages follow it.

A patient who fails (a bad email on file, someone registering them at the same moment) is listed
in the outcome and the batch carries on; a patient registered meanwhile is skipped. Running the
same batch again registers only those still without an invitation: the database allows one live
enrollment per patient, so an interrupted run never leaves two.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlmodel import Session

from models import EnrollmentMethod, PatientGuardian, TextOptOut, utcnow
from services.audit import record_event
from services.db import session_scope
from services.errors import PortalError
from services.family_letter import render_family_letters
from services.letters import PinLetter
from services.registration import RegistrationResult, issue_new_pin, register_patient
from services.registration_context import live_enrollment, status_of
from services.registration_form import RegistrationForm
from services.schedule import MAX_PAGE_SIZE, ScheduleCriteria, list_schedule
from services.senders import Senders, senders_from_settings
from services.settings import Settings, get_settings
from services.status import PortalStatus

NEEDS_INVITATION = (PortalStatus.not_registered, PortalStatus.pin_expired)
NO_GUARDIAN = "No guardian on file"
NO_EMAIL = "No guardian email on file"
DECLINED = "The family declined portal access"
OPTED_OUT = "Opted out of texts (STOP) and no guardian email on file"
REGISTERED_MEANWHILE = "Registered by someone else meanwhile"
ProgressCallback = Callable[[int, int, str], None]


@dataclass(frozen=True)
class BulkCandidate:
    """A patient the batch will invite, by their first visit in the view."""

    patient_id: int
    appointment_id: int
    patient_name: str
    guardian_id: int
    guardian_name: str
    email: str
    status: PortalStatus  # Not registered or PIN expired


@dataclass(frozen=True)
class Skipped:
    patient_name: str
    reason: str


@dataclass(frozen=True)
class BulkPlan:
    """What the confirmation says: who will be invited, who will be skipped and why."""

    candidates: tuple[BulkCandidate, ...]
    skipped: tuple[Skipped, ...]
    already_invited: int  # Invited, Locked or Active: nothing to do
    delivery: str  # how the welcome emails leave, in words

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for skip in self.skipped:
            counts[skip.reason] = counts.get(skip.reason, 0) + 1
        return counts


@dataclass
class BulkOutcome:
    """What a run did, patient by patient."""

    batch_id: str
    registered: list[RegistrationResult] = field(default_factory=list)
    families: dict[str, list[int]] = field(default_factory=dict)  # email -> result indexes
    skipped: list[Skipped] = field(default_factory=list)
    failed: list[Skipped] = field(default_factory=list)

    @property
    def summary(self) -> str:
        parts = [f"{len(self.registered):,} registered"]
        if self.skipped:
            parts.append(f"{len(self.skipped):,} skipped")
        if self.failed:
            parts.append(f"{len(self.failed):,} failed")
        return ", ".join(parts) + "."


def describe_delivery(senders: Senders) -> str:
    """How the welcome emails will leave, for the confirmation."""
    if senders.ready("email"):
        return "Welcome emails with each PIN go out through the outbox as soon as it runs."
    return ("Welcome emails with each PIN wait in the outbox (no email sender is set up yet); "
            "print the combined letters for the families.")


def _first_guardians(session: Session, patient_ids: list[int]) -> dict[int, int]:
    if not patient_ids:
        return {}
    rows = session.execute(
        select(PatientGuardian.patient_id, func.min(PatientGuardian.guardian_id))
        .where(PatientGuardian.patient_id.in_(patient_ids))
        .group_by(PatientGuardian.patient_id)
    ).all()
    return dict(rows)


def _opted_out(session: Session, phones: set[str]) -> set[str]:
    """Those of `phones` (E.164) on the text opt-out (STOP) list."""
    if not phones:
        return set()
    return set(session.execute(
        select(TextOptOut.phone).where(TextOptOut.phone.in_(sorted(phones)))).scalars())


def plan_bulk(session: Session, *, practice_id: int, criteria: ScheduleCriteria,
              now: dt.datetime | None = None, senders: Senders | None = None) -> BulkPlan:
    """The patients of the view (every page) the batch would invite, and those it would skip."""
    now = now or utcnow()
    senders = senders or senders_from_settings()
    first_rows = {}
    page = 1
    while True:
        rows = list_schedule(session, practice_id=practice_id, criteria=criteria, page=page,
                             page_size=MAX_PAGE_SIZE, now=now).rows
        for row in rows:
            first_rows.setdefault(row.patient_id, row)
        if len(rows) < MAX_PAGE_SIZE:
            break
        page += 1
    guardians = _first_guardians(session, list(first_rows))
    opted_out = _opted_out(session, {row.guardian_cell_phone for row in first_rows.values()
                                     if row.guardian_cell_phone and not row.guardian_email})
    candidates, skipped, done = [], [], 0
    for row in first_rows.values():
        if row.portal_status == PortalStatus.declined:
            skipped.append(Skipped(row.patient_name, DECLINED))
        elif row.portal_status not in NEEDS_INVITATION:
            done += 1
        elif row.patient_id not in guardians:
            skipped.append(Skipped(row.patient_name, NO_GUARDIAN))
        elif not row.guardian_email:
            skipped.append(Skipped(row.patient_name, OPTED_OUT if row.guardian_cell_phone
                                   in opted_out else NO_EMAIL))
        else:
            candidates.append(BulkCandidate(
                patient_id=row.patient_id, appointment_id=row.appointment_id,
                patient_name=row.patient_name, guardian_id=guardians[row.patient_id],
                guardian_name=row.guardian_name or "", email=row.guardian_email,
                status=row.portal_status,
            ))
    return BulkPlan(candidates=tuple(candidates), skipped=tuple(skipped), already_invited=done,
                    delivery=describe_delivery(senders))


def _register_one(session: Session, candidate: BulkCandidate, *, practice_id: int, actor: str,
                  staff_user_id: int | None, batch_id: str, settings: Settings,
                  senders: Senders, now: dt.datetime) -> RegistrationResult | None:
    """One patient's registration (None: registered meanwhile, nothing to do)."""
    live = live_enrollment(session, patient_id=candidate.patient_id)
    if status_of(live, now) not in NEEDS_INVITATION:
        return None
    form = RegistrationForm(method=EnrollmentMethod.pin, email=candidate.email,
                            guardian_id=candidate.guardian_id, send_pin=True)
    common = dict(practice_id=practice_id, patient_id=candidate.patient_id, form=form,
                  actor=actor, staff_user_id=staff_user_id,
                  appointment_id=candidate.appointment_id, settings=settings,
                  senders=senders, now=now)
    if live is None:
        result = register_patient(session, **common)
    else:
        result = issue_new_pin(session, replacing_enrollment_id=live.id, **common)
    record_event(session, actor=actor, action="bulk_invited", practice_id=practice_id,
                 patient_id=candidate.patient_id, batch_id=batch_id,
                 enrollment_id=result.enrollment_id)
    return result


def run_bulk(plan: BulkPlan, *, practice_id: int, actor: str, staff_user_id: int | None = None,
             on_progress: ProgressCallback | None = None, settings: Settings | None = None,
             senders: Senders | None = None, now: Callable[[], dt.datetime] = utcnow
             ) -> BulkOutcome:
    """Register the plan's candidates, each in its own transaction, then audit the batch."""
    settings = settings or get_settings()
    senders = senders or senders_from_settings(settings)
    outcome = BulkOutcome(batch_id=uuid.uuid4().hex[:12])
    total = len(plan.candidates)
    for done, candidate in enumerate(plan.candidates, start=1):
        try:
            with session_scope() as session:
                result = _register_one(session, candidate, practice_id=practice_id,
                                       actor=actor, staff_user_id=staff_user_id,
                                       batch_id=outcome.batch_id, settings=settings,
                                       senders=senders, now=now())
        except PortalError as error:
            outcome.failed.append(Skipped(candidate.patient_name, str(error)))
        else:
            if result is None:
                outcome.skipped.append(Skipped(candidate.patient_name, REGISTERED_MEANWHILE))
            else:
                outcome.families.setdefault(candidate.email.lower(), []).append(
                    len(outcome.registered))
                outcome.registered.append(result)
        if on_progress is not None:
            on_progress(done, total, candidate.patient_name)
    with session_scope() as session:
        record_event(session, actor=actor, action="bulk_registration", practice_id=practice_id,
                     batch_id=outcome.batch_id, planned=total,
                     registered=len(outcome.registered), skipped=len(outcome.skipped),
                     failed=len(outcome.failed), skipped_before=len(plan.skipped))
    return outcome


def family_letters(outcome: BulkOutcome) -> list[list[PinLetter]]:
    """The outcome's letters grouped by family (children sharing a guardian email)."""
    return [[outcome.registered[index].letter for index in indexes]
            for indexes in outcome.families.values()]


def render_bulk_letters(outcome: BulkOutcome) -> bytes:
    """One PDF with every letter of the batch, one page per family."""
    return render_family_letters(family_letters(outcome))
