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

With the patient's consent to texts, a text goes to their cell phone as on the parent form (the
carrier's gateway or the SMS API; a number on the STOP list or over its caps is refused): with
an email it carries the PIN and the email the link; without one it carries the link and the PIN
is on the letter. A live invitation of the patient's own is resent by
services/invitation_resend.py and cancelled here (`cancel_patient_invitation`).

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
    utcnow,
)
from services import carriers, text_opt_out
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
from services.messages import Channel, Invitation, build_text_message, build_welcome_email
from services.outbox import queue_message
from services.pins import format_pin, generate_pin, hash_secret, normalize_pin
from services.registration_context import find_patient, live_enrollment, status_of
from services.registration_form import checked_reason
from services.senders import Senders
from services.settings import Settings
from services.status import PortalStatus
from services.validation import normalize_email, normalize_phone

EMAIL = "Patient's email address"
PHONE = "Patient's cell phone"
LANGUAGE = "Language"
ASSENT = "The patient agrees to have their own portal account"
SUBMIT = "Invite the patient"
# The parent form's Text Message, Text consent and Cell Carrier, named for the patient (both
# forms share the Register page, and each error shows under its own field).
TEXT = "Text the patient"
TEXT_CONSENT = "Patient's text consent"
CARRIER = "Patient's cell carrier"
CANCEL_REASON = "Reason for cancelling"
CANCEL = "Cancel the patient's invitation"


@dataclass(frozen=True)
class PatientInvitationForm:
    email: str = ""
    cell_phone: str = ""
    assent: bool = False  # required for an adolescent; a young adult consents for themself
    # What the patient reads (email, letter, activation page); None: the family's language.
    language: str | None = None
    send_text: bool = False  # also text the patient (needs their consent and cell phone)
    text_consent: bool = False  # the patient agreed to receive texts from the practice
    cell_carrier: str | None = None  # the carrier's gateway, when no SMS API is set up


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
    pin_channel: str = "email"  # where the PIN went: email, text or letter
    texted: bool = False  # a text message was queued to the cell phone


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


def _checked(form: PatientInvitationForm, level: AccessLevel,
             region: str = "US") -> tuple[str | None, str | None]:
    """The email and cell phone (either may be empty, not both); InvalidInput names the field."""
    if not form.email.strip() and not form.cell_phone.strip():
        raise InvalidInput(f"{EMAIL} is empty: enter the patient's own email address (or their "
                           "cell phone, and hand them the PIN letter).", field=EMAIL)
    email = normalize_email(form.email, field=EMAIL).lower() if form.email.strip() else None
    phone = (normalize_phone(form.cell_phone, region=region, field=PHONE)
             if form.cell_phone.strip() else None)
    if level == AccessLevel.adolescent and not form.assent:
        raise InvalidInput(f"Tick \"{ASSENT}\": an adolescent's own account needs their "
                           "agreement, asked for at the desk.", field=ASSENT)
    return email, phone


def _text_route(session: Session, form: PatientInvitationForm, phone: str | None, *,
                settings: Settings, now: dt.datetime) -> tuple[str, str] | None:
    """Where the text goes (channel, recipient); None without `Text the patient`. InvalidInput
    names the field: no cell phone, no consent, no (or a closed) carrier, or a number that
    opted out (STOP) or already had its texts for today or this week."""
    if not form.send_text:
        return None
    if phone is None:
        raise InvalidInput(f"{PHONE} is empty: enter the patient's cell phone to text them, or "
                           f"untick {TEXT}.", field=PHONE)
    if not form.text_consent:
        raise InvalidInput(f"{TEXT_CONSENT} is required with {TEXT}: ask the patient whether "
                           "they agree to receive texts from the practice, and tick "
                           f"{TEXT_CONSENT} (or untick {TEXT}).", field=TEXT_CONSENT)
    refusal = text_opt_out.text_refusal(session, phone=phone, now=now)
    if refusal:
        raise InvalidInput(f"{PHONE}: {refusal} Untick {TEXT} to invite the patient by email "
                           "or with the PIN letter.", field=PHONE)
    if settings.sms_api_configured:
        return Channel.sms_api, phone
    carrier = carriers.CARRIERS_BY_KEY.get(form.cell_carrier or "")
    if carrier is None:
        raise InvalidInput(f"{CARRIER} is required with {TEXT}: choose the patient's carrier, "
                           f"or untick {TEXT}.", field=CARRIER)
    closed = carriers.closed_carrier_refusal(carrier.key, sms_api_configured=False)
    if closed:
        # Texts to a closed gateway vanish without a bounce.
        raise InvalidInput(f"{CARRIER}: {closed} Untick {TEXT} to invite the patient by email "
                           "or with the PIN letter.", field=CARRIER)
    try:
        return Channel.sms_gateway, carriers.gateway_address(carrier_key=carrier.key,
                                                             cell_phone=phone)
    except InvalidInput as error:
        raise InvalidInput(error.message, field=PHONE) from None


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
    """The patient's own invitation with a fresh PIN, emailed (when an email is given) and
    texted (when `Text the patient` is ticked) through the outbox and audited; a previous
    unused one of their own is voided."""
    setup = start_invitation(session, practice_id=practice_id, patient_id=patient_id,
                             settings=settings, senders=senders, now=now)
    practice, patient, now = setup.practice, setup.patient, setup.now
    patient_name = setup.patient_name
    level = patient_invitation_level(patient, practice, today=setup.today)
    if level is None:
        raise Conflict(f"{patient_name} is under the practice's Confidential age: invite a "
                       "parent instead.", field=SUBMIT)
    email, phone = _checked(form, level, setup.settings.phone_region)
    language = _language(session, form, practice_id=practice_id, patient_id=patient.id)
    text = _text_route(session, form, phone, settings=setup.settings, now=now)

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
    pin_by_text = bool(text and email)  # as for a parent: the PIN by text, the link by email
    enrollment = Enrollment(
        practice_id=practice_id, patient_id=patient.id, guardian_id=None,
        recipient=EnrollmentRecipient.patient, access_level=level.value,
        method=EnrollmentMethod.pin, secret_hash=hash_secret(normalize_pin(pin)),
        link_token=secrets.token_urlsafe(18), email=email, cell_phone=phone,
        cell_carrier=form.cell_carrier if text and text[0] == Channel.sms_gateway else None,
        send_text=text is not None, text_consent_at=now if text else None,
        text_consent_by_id=staff_user_id if text else None,
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
    invitation = Invitation(practice=info, guardian_name=patient_name,
                            patient_first_name=patient.first_name, activation_url=url,
                            expires_on=expires_on, method=EnrollmentMethod.pin,
                            pin_in_email=bool(email and not pin_by_text), pin_by_text=pin_by_text,
                            language=language, own_account=True, link_in_text=email is None)
    messages = [build_welcome_email(invitation, recipient=email)] if email else []
    if text:
        messages.append(build_text_message(invitation, channel=text[0], recipient=text[1]))
    rows = [queue_message(session, practice_id=practice_id, enrollment_id=enrollment.id,
                          message=message, pin=pin, senders=setup.senders, now=now)
            for message in messages]
    session.flush()
    if text:
        text_opt_out.record_text(session, phone=phone, practice_id=practice_id,
                                 outbox_message_id=rows[-1].id, now=now)

    pin_channel = "text" if pin_by_text else "email" if email else "letter"
    detail = {"enrollment_id": enrollment.id, "access_level": level.value, "email": email,
              "cell_phone": phone, "pin_sent_by": pin_channel, "language": language,
              "channel": [message.channel for message in messages] or None,
              "text_consent": text is not None,
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
        message_ids=tuple(row.id for row in rows), letter=letter, pin_channel=pin_channel,
        texted=text is not None,
    )


def cancel_patient_invitation(
    session: Session,
    *,
    practice_id: int,
    patient_id: int,
    enrollment_id: int,
    reason: str,
    actor: str,
    now: dt.datetime | None = None,
) -> None:
    """The patient says no, or the address was wrong: their live own invitation is voided as
    a new PIN voids one (the PIN stops working, unsent messages are cancelled), the reason kept
    and audited; the patient may be invited again."""
    reason = checked_reason(reason, field=CANCEL_REASON,
                            ask="say why, for example “The patient does not want an account” "
                                "or “Wrong email address”")
    now = now or utcnow()
    patient = find_patient(session, practice_id=practice_id, patient_id=patient_id)
    live = live_enrollment(session, patient_id=patient.id, recipient=EnrollmentRecipient.patient)
    if live is None or live.id != enrollment_id:
        raise Conflict("The patient's own invitation changed since the page was loaded. Reload "
                       "the page and try again.", field=CANCEL_REASON)
    if status_of(live, now) == PortalStatus.active:
        raise Conflict("The patient already activated their own account; it cannot be "
                       "cancelled here.", field=CANCEL_REASON)
    void_enrollment(session, live=live, now=now, actor=actor, field=CANCEL_REASON,
                    reason="the patient's own invitation was cancelled", declined_reason=reason)
    record_event(session, actor=actor, action="patient_invitation_cancelled",
                 practice_id=practice_id, patient_id=patient.id, enrollment_id=live.id,
                 reason=reason)
