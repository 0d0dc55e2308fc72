"""Register Patient: invite a guardian to the portal with a PIN or a verification question.

One use case per action. Each writes the enrollment, its outbox messages and its audit events in
the caller's single transaction; delivery happens after the commit (notifications.send_due_
messages). The plain PIN leaves these functions only in the returned result, for the
confirmation screen and the letter; the database holds its salted hash and, until sent, a sealed
copy in the outbox.
"""

from __future__ import annotations

import datetime as dt
import secrets
import urllib.parse
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from models import (
    Appointment,
    AuditEvent,
    Enrollment,
    EnrollmentMethod,
    EnrollmentStatus,
    Guardian,
    Location,
    OutboxMessage,
    OutboxStatus,
    Patient,
    PatientGuardian,
    Practice,
    Provider,
    StaffUser,
    utcnow,
)
from models.public import PracticePublic
from services import carriers
from services.audit import record_event
from services.errors import Conflict, InvalidInput, NotFound
from services.letters import PinLetter
from services.notifications import (
    PIN_PLACEHOLDER,
    Channel,
    Invitation,
    Senders,
    build_text_message,
    build_welcome_email,
    cancel_unsent_pins,
    queue_message,
    senders_from_settings,
)
from services.pins import format_pin, generate_pin, hash_secret, normalize_answer, normalize_pin
from services.practices import get_practice
from services.settings import Settings, get_settings
from services.status import PortalStatus, derive_status
from services.validation import escape_like, normalize_email, normalize_phone

# Field names: the form's labels, so that a page can put each message under its widget.
EMAIL = "Email Address"
TEXT = "Text Message"
CARRIER = carriers.FIELD
QUESTION = "Question"
ANSWER = "Answer"
GUARDIAN = "Guardian"
GUARDIAN_FIRST = "Guardian first name"
GUARDIAN_LAST = "Guardian last name"
REASON = "Reason"
APPOINTMENT = "Appointment"
SUBMIT = "Complete Registration"

RELATIONSHIPS = ("Mother", "Father", "Parent", "Legal guardian", "Grandparent", "Other")
MAX_QUESTION = 300
MAX_REASON = 300
HISTORY_LIMIT = 10
EVENTS_LIMIT = 15
SEARCH_LIMIT = 20


# --- what pages send and get ---------------------------------------------------------------


@dataclass(frozen=True)
class NewGuardian:
    """A guardian to add to the patient's record along with the registration."""

    first_name: str
    last_name: str
    relationship: str = "Parent"


@dataclass(frozen=True)
class RegistrationForm:
    """The Register Patient form as staff filled it in."""

    method: str = EnrollmentMethod.pin
    email: str = ""
    guardian_id: int | None = None
    new_guardian: NewGuardian | None = None
    send_text: bool = False
    cell_phone: str = ""
    cell_carrier: str | None = None
    send_pin: bool = True  # False: `Do not send PIN`, the parent gets the letter
    verification_question: str = ""
    verification_answer: str = ""


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


@dataclass(frozen=True)
class ResendResult:
    """What `resend_invitation` queued."""

    message_ids: tuple[int, ...]
    requeued: int  # unsent originals (still carrying their sealed PIN) sent again
    new_messages: int  # a fresh link-only email (the PIN is not kept, so it cannot be re-sent)


@dataclass(frozen=True)
class PatientSummary:
    """Who is being registered."""

    id: int
    mrn: str
    first_name: str
    last_name: str
    date_of_birth: dt.date

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class AppointmentSummary:
    """The visit the registration was started from."""

    id: int
    start_at: dt.datetime
    provider: str
    location: str
    visit_type: str
    status: str


@dataclass(frozen=True)
class GuardianOption:
    """A guardian on file for the patient."""

    id: int
    first_name: str
    last_name: str
    relationship: str
    email: str | None
    cell_phone: str | None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class EnrollmentSummary:
    """One enrollment of the patient, as the status panel and the history show it."""

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


@dataclass(frozen=True)
class HistoryEvent:
    """An audit event about the patient's portal access."""

    at: dt.datetime
    actor: str
    action: str
    detail: str


@dataclass(frozen=True)
class RegistrationContext:
    """Everything the Register Patient page shows before the form."""

    practice: PracticePublic
    patient: PatientSummary
    appointment: AppointmentSummary | None
    status: PortalStatus
    live_enrollment: EnrollmentSummary | None
    history: list[EnrollmentSummary]
    events: list[HistoryEvent]
    guardians: list[GuardianOption]


@dataclass(frozen=True)
class PatientMatch:
    """A search hit."""

    id: int
    mrn: str
    name: str
    date_of_birth: dt.date


# --- helpers -------------------------------------------------------------------------------


def activation_url(practice: PracticePublic | Practice, link_token: str) -> str:
    """The parent's link to the activation page; the one URL of email, letter and QR code."""
    query = urllib.parse.urlencode({"practice": practice.id, "token": link_token})
    return f"{practice.portal_url.rstrip('/')}/activate?{query}"


def _local_date(moment: dt.datetime, timezone: str) -> dt.date:
    return moment.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def _patient(session: Session, *, practice_id: int, patient_id: int) -> Patient:
    patient = session.exec(
        select(Patient).where(Patient.id == patient_id, Patient.practice_id == practice_id)
    ).first()
    if patient is None:
        raise NotFound("That patient is not on file in this practice.")
    return patient


def _live(session: Session, *, patient_id: int) -> Enrollment | None:
    return session.exec(
        select(Enrollment).where(Enrollment.patient_id == patient_id,
                                 Enrollment.status != EnrollmentStatus.voided)
    ).first()


def _status_of(enrollment: Enrollment | None, now: dt.datetime) -> PortalStatus:
    if enrollment is None:
        return PortalStatus.not_registered
    return derive_status(enrollment.status, enrollment.expires_at, now=now)


def _who(session: Session, user_id: int | None) -> str:
    if user_id is None:
        return "someone"
    name = session.exec(select(StaffUser.name).where(StaffUser.id == user_id)).first()
    return name or "someone"


def _already(session: Session, enrollment: Enrollment, patient: Patient, practice: Practice,
             status: PortalStatus) -> str:
    when = enrollment.issued_at.astimezone(zoneinfo.ZoneInfo(practice.timezone))
    return (
        f"{patient.first_name} {patient.last_name} was already registered "
        f"({status.value}) by {_who(session, enrollment.issued_by_id)} on "
        f"{when:%b %d, %Y at %I:%M %p}. Use Resend invitation or Issue new PIN instead."
    )


# --- the form ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checked:
    method: str
    email: str
    cell_phone: str | None
    carrier: str | None
    text_channel: str | None
    text_recipient: str | None
    question: str | None
    answer: str | None


def _check(form: RegistrationForm, settings: Settings) -> tuple[_Checked | None,
                                                                list[InvalidInput]]:
    problems: list[InvalidInput] = []
    method = form.method
    if method not in (EnrollmentMethod.pin, EnrollmentMethod.question):
        problems.append(InvalidInput("Register Patient with: choose PIN or Verification "
                                     "Question.", field="Register Patient with"))
    email = ""
    try:
        email = normalize_email(form.email, field=EMAIL)
    except InvalidInput as error:
        problems.append(error)
    question = answer = None
    if method == EnrollmentMethod.question:
        question = " ".join((form.verification_question or "").split())
        answer = normalize_answer(form.verification_answer)
        if not question:
            problems.append(InvalidInput(
                "Question is empty: write the question the parent will be asked, for example "
                "“What is the name of your child's school?”", field=QUESTION))
        elif len(question) > MAX_QUESTION:
            problems.append(InvalidInput(
                f"Question is too long: keep it under {MAX_QUESTION} characters.",
                field=QUESTION))
        if not answer:
            problems.append(InvalidInput(
                "Answer is empty: enter the answer the parent must give.", field=ANSWER))
        elif question and answer == normalize_answer(question):
            problems.append(InvalidInput("Answer must not repeat the question.", field=ANSWER))
    if form.new_guardian is None and form.guardian_id is None:
        problems.append(InvalidInput(
            "Guardian: choose the parent on file or add a new guardian.", field=GUARDIAN))
    if form.new_guardian is not None:
        if not form.new_guardian.first_name.strip():
            problems.append(InvalidInput(
                "Guardian first name is empty: enter the parent's first name.",
                field=GUARDIAN_FIRST))
        if not form.new_guardian.last_name.strip():
            problems.append(InvalidInput(
                "Guardian last name is empty: enter the parent's last name.",
                field=GUARDIAN_LAST))
    cell_phone = carrier = channel = recipient = None
    if form.send_text:
        try:
            cell_phone = normalize_phone(form.cell_phone, region=settings.phone_region,
                                         field=TEXT)
        except InvalidInput as error:
            problems.append(error)
        if settings.sms_api_configured:
            channel = Channel.sms_api
            recipient = cell_phone
            carrier = form.cell_carrier or None
        elif not form.cell_carrier:
            problems.append(InvalidInput(
                "Cell Carrier is required with Text Message: choose the parent's carrier, or "
                "untick Text Message.", field=CARRIER))
        else:
            carrier = form.cell_carrier
            try:
                found = carriers.get_carrier(carrier)
            except InvalidInput as error:
                problems.append(error)
                found = None
            if found and found.shut_down:
                # Texts to a closed gateway vanish without a bounce: the PIN would be lost.
                problems.append(InvalidInput(
                    f"{found.shut_down} Choose another way: untick Text Message and send the "
                    "PIN by email, or tick Do not send PIN and print the letter.",
                    field=CARRIER))
            elif found and cell_phone:
                channel = Channel.sms_gateway
                try:
                    recipient = carriers.gateway_address(carrier_key=carrier,
                                                         cell_phone=cell_phone)
                except InvalidInput as error:
                    problems.append(error)
    if problems:
        return None, problems
    return _Checked(method=method, email=email, cell_phone=cell_phone, carrier=carrier,
                    text_channel=channel, text_recipient=recipient, question=question,
                    answer=answer), []


def check_form(form: RegistrationForm, *, settings: Settings | None = None) -> list[InvalidInput]:
    """Every problem with the form, each naming its field (empty: the form is fine)."""
    return _check(form, settings or get_settings())[1]


def _checked(form: RegistrationForm, settings: Settings) -> _Checked:
    checked, problems = _check(form, settings)
    if problems:
        raise problems[0]
    return checked


def _guardian(session: Session, *, practice_id: int, patient: Patient, form: RegistrationForm,
              checked: _Checked) -> Guardian:
    if form.new_guardian is not None:
        guardian = Guardian(
            practice_id=practice_id,
            first_name=form.new_guardian.first_name.strip(),
            last_name=form.new_guardian.last_name.strip(),
            relationship=(form.new_guardian.relationship or "Parent").strip()[:40],
            email=checked.email,
            cell_phone=checked.cell_phone,
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
    # Fill gaps only: the practice system stays the source of the guardian's contact details.
    if not guardian.email:
        guardian.email = checked.email
    if checked.cell_phone and not guardian.cell_phone:
        guardian.cell_phone = checked.cell_phone
    session.add(guardian)
    return guardian


# --- use cases -----------------------------------------------------------------------------


def _void(session: Session, *, live: Enrollment, now: dt.datetime, actor: str,
          reason: str) -> None:
    # Conditional on the status we read: if another desk changed it meanwhile, we lose cleanly.
    changed = session.exec(
        update(Enrollment)
        .where(Enrollment.id == live.id, Enrollment.status == live.status)
        .values(status=EnrollmentStatus.voided, voided_at=now, secret_hash=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise Conflict("Someone else changed this patient's portal invitation just now. "
                       "Reload the page and try again.", field=SUBMIT)
    cancel_unsent_pins(session, enrollment_id=live.id, reason=f"Not sent: {reason}")
    record_event(session, actor=actor, action="pin_voided", practice_id=live.practice_id,
                 patient_id=live.patient_id, enrollment_id=live.id, previous_status=live.status,
                 reason=reason)


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
) -> RegistrationResult:
    settings = settings or get_settings()
    senders = senders or senders_from_settings(settings)
    now = now or utcnow()
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise NotFound("That practice does not exist.")
    patient = _patient(session, practice_id=practice_id, patient_id=patient_id)
    if appointment_id is not None:
        _appointment(session, practice_id=practice_id, appointment_id=appointment_id)
    checked = _checked(form, settings)

    live = _live(session, patient_id=patient.id)
    status = _status_of(live, now)
    if status == PortalStatus.active:
        raise Conflict(f"{patient.first_name} {patient.last_name} already has portal access: "
                       "no new registration is needed.", field=SUBMIT)
    if new_pin:
        if live is None or live.id != replacing:
            raise Conflict("This patient's portal invitation changed since the page was "
                           "loaded. Reload the page and try again.", field=SUBMIT)
    elif live is not None and live.status != EnrollmentStatus.declined:
        raise Conflict(_already(session, live, patient, practice, status), field=SUBMIT)

    guardian = _guardian(session, practice_id=practice_id, patient=patient, form=form,
                         checked=checked)
    if live is not None:
        _void(session, live=live, now=now, actor=actor,
              reason="new PIN issued" if new_pin else "registered again after a decline")

    pin = generate_pin() if checked.method == EnrollmentMethod.pin else None
    secret_hash = hash_secret(normalize_pin(pin)) if pin else hash_secret(checked.answer)
    pin_by_text = bool(pin and form.send_pin and checked.text_channel)
    pin_in_email = bool(pin and form.send_pin and not checked.text_channel)
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
        send_pin=pin_by_text or pin_in_email,
        status=EnrollmentStatus.invited,
        issued_by_id=staff_user_id,
        issued_at=now,
        expires_at=expires_at,
    )
    session.add(enrollment)
    patient_name = f"{patient.first_name} {patient.last_name}"  # a failed flush expires rows
    try:
        session.flush()
    except IntegrityError:
        # Another desk registered this patient in the same instant (PostgreSQL reaches here;
        # SQLite's BEGIN IMMEDIATE already made us wait and see their enrollment above).
        raise Conflict(f"{patient_name} was registered by someone else just now. Reload the "
                       "page to see their invitation.", field=SUBMIT) from None

    info = get_practice(session, practice_id=practice_id)
    url = activation_url(info, enrollment.link_token)
    expires_on = _local_date(expires_at, practice.timezone)
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
    )
    messages = [build_welcome_email(invitation, recipient=checked.email)]
    if checked.text_channel:
        messages.append(build_text_message(invitation, channel=checked.text_channel,
                                           recipient=checked.text_recipient))
    rows = [queue_message(session, practice_id=practice_id, enrollment_id=enrollment.id,
                          message=message, pin=pin, senders=senders, now=now)
            for message in messages]
    session.flush()

    pin_channel = ("text" if pin_by_text else "email" if pin_in_email
                   else "letter" if pin else "none")
    detail = {"enrollment_id": enrollment.id, "method": checked.method, "email": checked.email,
              "text": checked.text_channel, "pin_sent_by": pin_channel,
              "appointment_id": appointment_id, "guardian_id": guardian.id,
              "expires_at": expires_at.isoformat()}
    if not new_pin:
        record_event(session, actor=actor, action="registration", practice_id=practice_id,
                     patient_id=patient.id, **detail)
    if pin:
        record_event(session, actor=actor, action="pin_issued", practice_id=practice_id,
                     patient_id=patient.id, **detail)
    else:
        record_event(session, actor=actor, action="verification_question_set",
                     practice_id=practice_id, patient_id=patient.id, **detail)

    letter = PinLetter(
        practice_name=practice.name,
        practice_phone=practice.phone,
        practice_email=practice.email,
        practice_address=practice.address,
        patient_name=f"{patient.first_name} {patient.last_name}",
        date_of_birth_hint=pin is not None,
        activation_url=url,
        expires_on=expires_on,
        issued_on=_local_date(now, practice.timezone),
        pin=format_pin(pin) if pin else None,
        verification_question=checked.question,
    )
    return RegistrationResult(
        enrollment_id=enrollment.id,
        patient_id=patient.id,
        patient_name=f"{patient.first_name} {patient.last_name}",
        method=checked.method,
        pin=format_pin(pin) if pin else None,
        email=checked.email,
        text_recipient=checked.cell_phone,
        pin_channel=pin_channel,
        expires_at=expires_at,
        activation_url=url,
        message_ids=tuple(row.id for row in rows),
        letter=letter,
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
) -> RegistrationResult:
    """Complete Registration: a new invitation with a fresh PIN (or question), its messages
    queued and audited; refused when the patient already has a live invitation or access."""
    return _enroll(session, practice_id=practice_id, patient_id=patient_id, form=form,
                   actor=actor, staff_user_id=staff_user_id, appointment_id=appointment_id,
                   replacing=None, new_pin=False, settings=settings, senders=senders, now=now)


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
    patient = _patient(session, practice_id=practice_id, patient_id=patient_id)
    live = _live(session, patient_id=patient.id)
    if live is None or live.id != enrollment_id:
        raise Conflict("This patient's portal invitation changed since the page was loaded. "
                       "Reload the page and try again.", field="Resend invitation")
    status = _status_of(live, now)
    if status != PortalStatus.invited:
        raise Conflict(f"The invitation is {status.value}: issue a new PIN instead of resending.",
                       field="Resend invitation")
    if not live.email:
        raise Conflict("This invitation has no email address: issue a new PIN with one.",
                       field="Resend invitation")
    unsent = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.enrollment_id == live.id,
            OutboxMessage.status.in_([OutboxStatus.held, OutboxStatus.pending,
                                      OutboxStatus.failed]),
            or_(OutboxMessage.sealed_secret.is_not(None),
                ~OutboxMessage.body_text.contains(PIN_PLACEHOLDER)),
        )
    ).all()
    ids: list[int] = []
    for message in unsent:
        ready = senders.ready(message.channel)
        message.status = OutboxStatus.pending if ready else OutboxStatus.held
        message.attempts = 0
        message.next_attempt_at = now if ready else None
        session.add(message)
        ids.append(message.id)
    new_messages = 0
    if not ids:
        practice = session.get(Practice, practice_id)
        info = get_practice(session, practice_id=practice_id)
        guardian = session.get(Guardian, live.guardian_id) if live.guardian_id else None
        invitation = Invitation(
            practice=info,
            guardian_name=f"{guardian.first_name} {guardian.last_name}" if guardian else "",
            patient_first_name=patient.first_name,
            activation_url=activation_url(info, live.link_token),
            expires_on=_local_date(live.expires_at, practice.timezone) if live.expires_at
            else None,
            method=live.method,
            verification_question=live.verification_question,
            resend=True,
        )
        row = queue_message(session, practice_id=practice_id, enrollment_id=live.id,
                            message=build_welcome_email(invitation, recipient=live.email),
                            pin=None, senders=senders, now=now)
        session.flush()
        ids.append(row.id)
        new_messages = 1
    record_event(session, actor=actor, action="invitation_resent", practice_id=practice_id,
                 patient_id=patient.id, enrollment_id=live.id, message_ids=ids,
                 requeued=len(ids) - new_messages, new_messages=new_messages)
    return ResendResult(message_ids=tuple(ids), requeued=len(ids) - new_messages,
                        new_messages=new_messages)


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
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Reason is empty: say why the family declines, for example "
                           "“Prefers paper records”.", field=REASON)
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"Reason is too long: keep it under {MAX_REASON} characters.",
                           field=REASON)
    patient = _patient(session, practice_id=practice_id, patient_id=patient_id)
    live = _live(session, patient_id=patient.id)
    if (live.id if live else None) != expected_enrollment_id:
        raise Conflict("This patient's portal invitation changed since the page was loaded. "
                       "Reload the page and try again.", field=REASON)
    status = _status_of(live, now)
    if status == PortalStatus.active:
        raise Conflict("The parent already activated portal access; it cannot be marked "
                       "declined here.", field=REASON)
    if status == PortalStatus.declined:
        raise Conflict("This patient is already marked declined.", field=REASON)
    if live is not None:
        changed = session.exec(
            update(Enrollment)
            .where(Enrollment.id == live.id, Enrollment.status == live.status)
            .values(status=EnrollmentStatus.declined, declined_reason=reason, secret_hash=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not changed:
            raise Conflict("Someone else changed this patient's portal invitation just now. "
                           "Reload the page and try again.", field=REASON)
        cancel_unsent_pins(session, enrollment_id=live.id, reason="Not sent: family declined")
        enrollment_id = live.id
    else:
        enrollment = Enrollment(
            practice_id=practice_id, patient_id=patient.id, method=EnrollmentMethod.pin,
            secret_hash=None, link_token=secrets.token_urlsafe(18), send_pin=False,
            status=EnrollmentStatus.declined, declined_reason=reason,
            issued_by_id=staff_user_id, issued_at=now,
        )
        session.add(enrollment)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("Someone else registered this patient just now. Reload the page.",
                           field=REASON) from None
        enrollment_id = enrollment.id
    record_event(session, actor=actor, action="declined", practice_id=practice_id,
                 patient_id=patient.id, enrollment_id=enrollment_id, reason=reason)
    return enrollment_id


def record_letter_download(
    session: Session, *, practice_id: int, patient_id: int, enrollment_id: int, actor: str
) -> None:
    """Audit that staff downloaded (to print) a PIN letter."""
    _patient(session, practice_id=practice_id, patient_id=patient_id)
    record_event(session, actor=actor, action="letter_downloaded", practice_id=practice_id,
                 patient_id=patient_id, enrollment_id=enrollment_id)


# --- reads for the page --------------------------------------------------------------------


def _appointment(session: Session, *, practice_id: int, appointment_id: int) -> Appointment:
    appointment = session.exec(
        select(Appointment).where(Appointment.id == appointment_id,
                                  Appointment.practice_id == practice_id)
    ).first()
    if appointment is None:
        # The same words whether it does not exist or belongs to another practice.
        raise NotFound(f"Appointment {appointment_id} was not found in this practice. Open "
                       "Register from the Dashboard, or search for the patient below.",
                       field=APPOINTMENT)
    return appointment


def parse_appointment_id(value: str | None) -> int | None:
    """The appointment id from the query string (None when absent); InvalidInput if garbled."""
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise InvalidInput(f"Appointment {value!r} is not a valid appointment number. Open "
                           "Register from the Dashboard, or search for the patient below.",
                           field=APPOINTMENT)
    return int(value)


def _summary(row: Enrollment, issued_by: str | None, now: dt.datetime) -> EnrollmentSummary:
    portal_status = ("Voided" if row.status == EnrollmentStatus.voided
                     else derive_status(row.status, row.expires_at, now=now).value)
    return EnrollmentSummary(
        id=row.id, status=row.status, portal_status=portal_status, method=row.method,
        guardian_id=row.guardian_id, email=row.email, cell_phone=row.cell_phone,
        cell_carrier=row.cell_carrier, send_text=row.send_text, send_pin=row.send_pin,
        verification_question=row.verification_question, issued_at=row.issued_at,
        issued_by=issued_by, expires_at=row.expires_at, activated_at=row.activated_at,
        voided_at=row.voided_at, declined_reason=row.declined_reason,
    )


def get_registration_context(
    session: Session,
    *,
    practice_id: int,
    appointment_id: int | None = None,
    patient_id: int | None = None,
    now: dt.datetime | None = None,
) -> RegistrationContext:
    """Who is being registered: patient, appointment, portal status and its history, and
    the guardians on file. NotFound for an appointment or patient outside the practice."""
    now = now or utcnow()
    practice = get_practice(session, practice_id=practice_id)
    appointment = None
    if appointment_id is not None:
        found = _appointment(session, practice_id=practice_id, appointment_id=appointment_id)
        names = session.exec(
            select(Provider.name, Location.name)
            .select_from(Appointment)
            .join(Provider, Provider.id == Appointment.provider_id)
            .join(Location, Location.id == Appointment.location_id)
            .where(Appointment.id == found.id)
        ).first()
        appointment = AppointmentSummary(
            id=found.id, start_at=found.start_at, provider=names[0] if names else "",
            location=names[1] if names else "", visit_type=found.visit_type, status=found.status,
        )
        patient_id = found.patient_id
    if patient_id is None:
        raise NotFound("Choose a patient: open Register from the Dashboard or search below.",
                       field=APPOINTMENT)
    patient = _patient(session, practice_id=practice_id, patient_id=patient_id)

    rows = session.exec(
        select(Enrollment, StaffUser.username)
        .outerjoin(StaffUser, StaffUser.id == Enrollment.issued_by_id)
        .where(Enrollment.patient_id == patient.id, Enrollment.practice_id == practice_id)
        .order_by(Enrollment.issued_at.desc(), Enrollment.id.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    history = [_summary(row, username, now) for row, username in rows]
    live_row = _live(session, patient_id=patient.id)
    live = None
    if live_row is not None:
        live = next((item for item in history if item.id == live_row.id), None) or _summary(
            live_row, None, now)
    events = session.exec(
        select(AuditEvent.at, AuditEvent.actor, AuditEvent.action, AuditEvent.detail)
        .where(AuditEvent.practice_id == practice_id, AuditEvent.patient_id == patient.id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(EVENTS_LIMIT)
    ).all()
    guardians = session.exec(
        select(Guardian)
        .join(PatientGuardian, PatientGuardian.guardian_id == Guardian.id)
        .where(PatientGuardian.patient_id == patient.id, Guardian.practice_id == practice_id)
        .order_by(Guardian.id)
    ).all()
    return RegistrationContext(
        practice=practice,
        patient=PatientSummary(id=patient.id, mrn=patient.mrn, first_name=patient.first_name,
                               last_name=patient.last_name,
                               date_of_birth=patient.date_of_birth),
        appointment=appointment,
        status=_status_of(live_row, now),
        live_enrollment=live,
        history=history,
        events=[HistoryEvent(at=at, actor=actor, action=action, detail=detail)
                for at, actor, action, detail in events],
        guardians=[GuardianOption(id=g.id, first_name=g.first_name, last_name=g.last_name,
                                  relationship=g.relationship, email=g.email,
                                  cell_phone=g.cell_phone) for g in guardians],
    )


def search_patients(
    session: Session, *, practice_id: int, query: str, limit: int = SEARCH_LIMIT
) -> list[PatientMatch]:
    """Patients of the practice whose MRN or names start with the words typed."""
    words = [word for word in (query or "").replace(",", " ").split() if word][:4]
    if not words:
        return []
    conditions = [Patient.practice_id == practice_id]
    for word in words:
        prefix = escape_like(word.lower()) + "%"
        matches = [func.lower(Patient.first_name).like(prefix, escape="\\"),
                   func.lower(Patient.last_name).like(prefix, escape="\\")]
        if len(words) == 1:
            matches.append(func.lower(Patient.mrn).like(prefix, escape="\\"))
        conditions.append(or_(*matches))
    rows = session.exec(
        select(Patient.id, Patient.mrn, Patient.first_name, Patient.last_name,
               Patient.date_of_birth)
        .where(*conditions)
        .order_by(Patient.last_name, Patient.first_name, Patient.id)
        .limit(limit)
    ).all()
    return [PatientMatch(id=row[0], mrn=row[1], name=f"{row[2]} {row[3]}", date_of_birth=row[4])
            for row in rows]
