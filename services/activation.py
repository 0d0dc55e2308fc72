"""Parent activation: the PIN (or verification answer), with the child's date of birth, opens a
portal account, with guess limits per enrollment and per client, and every try audited.

Whether a link can still be used follows the patient's portal status (status.derive_status):
expired, locked, used (Active) and declined links are refused before any secret is checked.
The form's own checks are in activation_form; the words a parent reads in activation_messages.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models import (
    Enrollment,
    EnrollmentMethod,
    EnrollmentRecipient,
    EnrollmentStatus,
    Patient,
    PortalAccess,
    PortalAccount,
    Practice,
    RateLimit,
    utcnow,
)
from services.activation_form import MIN_PARENT_PASSWORD as MIN_PARENT_PASSWORD
from services.activation_form import check_account_form, parse_secret
from services.activation_messages import (
    Outcome,
    activated_message,
    limited_account_note,
    pin_source,
    refusal_message,
    throttled_message,
    too_old_message,
    unknown_link_message,
)
from services.adolescents import AccessLevel
from services.ages import age_in_years
from services.audit import record_event
from services.auth import check_password, hash_password
from services.dates import practice_day
from services.errors import NotFound
from services.i18n import DEFAULT_LANGUAGE
from services.pins import legacy_answer, verify_secret
from services.settings import Settings, get_settings
from services.status import PortalStatus, derive_status

MAX_ID = 2**31 - 1  # ids are 32-bit integers; a larger number in a URL names nothing
CLIENT_BUCKET = "activation"
ACTOR = "parent"
# Checked when no account has the email, so that a miss costs the same time as a hit.
_DUMMY_ACCOUNT_HASH = hash_password("no such portal account")


@dataclass(frozen=True)
class ActivationLink:
    """What the activation page shows for a link, without any patient details."""

    practice_id: int
    practice_name: str
    method: str  # "pin": ask PIN and date of birth; "question": ask the question
    question: str | None
    earliest_birth_date: dt.date  # a sensible range for the date-of-birth picker
    latest_birth_date: dt.date
    refusal: str | None  # set when the link can no longer be used, saying what to do
    pin_source: str | None = None  # where the PIN went: "email", "text" or "letter"
    sign_in_url: str = ""  # the practice's patient-portal sign-in address ("" = not set)
    own_account: bool = False  # the patient's own invitation: "your date of birth"


@dataclass(frozen=True)
class ActivationResult:
    """The end of one try; refusals are results (not exceptions) so that the counters commit."""

    outcome: Outcome
    message: str
    account_email: str | None = None
    child_first_name: str | None = None
    added_to_existing_account: bool = False
    retry_after_minutes: int | None = None
    # The patient's portal status changed (activated, or locked by this try): staff views
    # that cache it should read it again.
    status_changed: bool = False

    @property
    def activated(self) -> bool:
        return self.outcome == Outcome.activated


# What the badge staff see says about a link the parent holds.
_REFUSAL_FOR_STATUS = {
    PortalStatus.pin_expired: Outcome.expired,
    PortalStatus.locked: Outcome.locked,
    PortalStatus.active: Outcome.used,
    PortalStatus.declined: Outcome.declined,
}


def _status_refusal(enrollment: Enrollment, now: dt.datetime) -> Outcome | None:
    """Why a link can no longer be used, before any secret is looked at (None: it can)."""
    # A voided enrollment is no longer the patient's live one, so its badge reads "Not
    # registered"; the parent holding its link is told that a newer PIN replaced it.
    if enrollment.status == EnrollmentStatus.voided:
        return Outcome.voided
    status = derive_status(enrollment.status, enrollment.expires_at, now=now)
    refusal = _REFUSAL_FOR_STATUS.get(status)
    if refusal is not None:
        return refusal
    if not enrollment.secret_hash:
        return Outcome.used  # nothing left to check against: treat as spent, never as open
    return None


def _find_link(
    session: Session, *, practice_id: int, link_token: str, lock: bool
) -> tuple[Enrollment, Practice] | None:
    """The enrollment a link names, within its practice (optionally row-locked), or None."""
    if not 0 < practice_id <= MAX_ID:
        return None
    query = (
        select(Enrollment, Practice)
        .join(Practice, Practice.id == Enrollment.practice_id)
        .where(Enrollment.practice_id == practice_id, Enrollment.link_token == link_token)
    )
    if lock:
        query = query.with_for_update(of=Enrollment)
    row = session.exec(query).first()
    return (row[0], row[1]) if row else None


def describe_link(
    session: Session, *, practice_id: int, link_token: str, now: dt.datetime | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> ActivationLink:
    """What the activation page asks for this link, its refusal in `language` (NotFound for an
    unknown link)."""
    now = now or utcnow()
    row = _find_link(session, practice_id=practice_id, link_token=link_token, lock=False)
    if row is None:
        raise NotFound(unknown_link_message(language))
    enrollment, practice = row
    today = practice_day(now, practice.timezone)
    refusal = _status_refusal(enrollment, now)
    return ActivationLink(
        practice_id=practice.id,
        practice_name=practice.name,
        method=enrollment.method,
        question=(
            enrollment.verification_question
            if enrollment.method == EnrollmentMethod.question
            else None
        ),
        # Older than the age limit is allowed, so that the page can say why access is refused.
        earliest_birth_date=dt.date(today.year - practice.minor_age_limit - 10, 1, 1),
        latest_birth_date=today,
        refusal=(
            refusal_message(refusal, practice, method=enrollment.method, language=language)
            if refusal else None
        ),
        sign_in_url=practice.portal_sign_in_url,
        own_account=enrollment.recipient == EnrollmentRecipient.patient,
        pin_source=(None if enrollment.method == EnrollmentMethod.question else
                    pin_source(send_pin=enrollment.send_pin, send_text=enrollment.send_text)),
    )


def _client_window(session: Session, *, client_key: str, now: dt.datetime) -> RateLimit:
    """The client's fixed-window counter, created if missing, row-locked, reset when stale."""
    settings = get_settings()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Insert-or-nothing, then lock: two first tries from one client cannot both create it.
    session.exec(
        insert(RateLimit)
        .values(bucket=CLIENT_BUCKET, key=client_key, window_start=now, count=0)
        .on_conflict_do_nothing(index_elements=["bucket", "key"])
    )
    window = session.exec(
        select(RateLimit)
        .where(RateLimit.bucket == CLIENT_BUCKET, RateLimit.key == client_key)
        .with_for_update()
    ).one()
    length = dt.timedelta(minutes=settings.activation_client_window_minutes)
    if window.window_start + length <= now:
        window.window_start = now
        window.count = 0
    return window


def _minutes_left(window: RateLimit, now: dt.datetime) -> int:
    length = dt.timedelta(minutes=get_settings().activation_client_window_minutes)
    seconds = (window.window_start + length - now).total_seconds()
    return max(1, math.ceil(seconds / 60))


def _grant_access(
    session: Session, *, account: PortalAccount, enrollment: Enrollment, now: dt.datetime
) -> None:
    access = session.get(PortalAccess, (account.id, enrollment.patient_id))
    if access is None:
        access = PortalAccess(account_id=account.id, patient_id=enrollment.patient_id)
    # An earlier enrollment may already have linked this child to this account.
    access.enrollment_id = enrollment.id
    access.granted_at = now
    session.add(access)
    enrollment.status = EnrollmentStatus.active
    enrollment.activated_at = now
    enrollment.secret_hash = None  # a used PIN is worth nothing
    session.add(enrollment)


def _refuse_unknown_link(
    session: Session, *, practice_id: int, client_key: str, now: dt.datetime, language: str
) -> ActivationResult:
    """A try at a link that names nothing: counted per client, since links can be guessed at."""
    window = _client_window(session, client_key=client_key, now=now)
    if window.count >= get_settings().activation_client_limit:
        minutes = _minutes_left(window, now)
        result = ActivationResult(outcome=Outcome.throttled,
                                  message=throttled_message(minutes, language),
                                  retry_after_minutes=minutes)
    else:
        window.count += 1
        session.add(window)
        result = ActivationResult(outcome=Outcome.unknown_link,
                                  message=unknown_link_message(language))
    known = 0 < practice_id <= MAX_ID and session.get(Practice, practice_id) is not None
    record_event(
        session, actor=ACTOR, action="activation_attempt",
        practice_id=practice_id if known else None, outcome=result.outcome, client=client_key,
    )
    return result


@dataclass(frozen=True)
class _Attempt:
    """One try at one enrollment: what every refusal and audit event of it names."""

    session: Session
    enrollment: Enrollment
    practice: Practice
    client_key: str
    language: str = DEFAULT_LANGUAGE

    def refuse(self, outcome: Outcome, message: str | None = None, **detail) -> ActivationResult:
        """Audit the refusal and say it to the parent."""
        enrollment = self.enrollment
        record_event(
            self.session, actor=ACTOR, action="activation_attempt", practice_id=self.practice.id,
            patient_id=enrollment.patient_id, enrollment_id=enrollment.id, outcome=outcome,
            client=self.client_key, **detail,
        )
        return ActivationResult(
            outcome=outcome,
            message=message or refusal_message(outcome, self.practice, method=enrollment.method,
                                               language=self.language),
            retry_after_minutes=detail.get("retry_after_minutes"),
        )

    def count_wrong_try(self, outcome: Outcome, *, window: RateLimit,
                        settings: Settings) -> ActivationResult:
        """Count a wrong try against the client and the enrollment; lock it at the limit."""
        session, enrollment, practice = self.session, self.enrollment, self.practice
        window.count += 1
        session.add(window)
        enrollment.attempts += 1
        locks = enrollment.attempts >= settings.activation_max_attempts
        if locks:
            enrollment.status = EnrollmentStatus.locked  # staff see Locked, issue a new PIN
        session.add(enrollment)
        result = self.refuse(outcome, attempts=enrollment.attempts, locked=locks)
        if not locks:
            return result
        record_event(
            session, actor=ACTOR, action="enrollment_locked", practice_id=practice.id,
            patient_id=enrollment.patient_id, enrollment_id=enrollment.id,
            attempts=enrollment.attempts,
        )
        return ActivationResult(
            outcome=Outcome.locked,
            message=refusal_message(Outcome.locked, practice, method=enrollment.method,
                                    language=self.language),
            status_changed=True,
        )


def _secret_matches(enrollment: Enrollment, patient: Patient, secret: str,
                    date_of_birth: dt.date | None, answer: str | None) -> bool:
    # Both checks always run, and `&` does not short-circuit: the time taken says nothing
    # about which part was wrong.
    secret_ok = verify_secret(secret, enrollment.secret_hash)
    if enrollment.method == EnrollmentMethod.question:
        # An answer hashed in its older form (spacing and most punctuation kept) still counts.
        secret_ok = secret_ok | verify_secret(legacy_answer(answer), enrollment.secret_hash)
    return secret_ok & (date_of_birth == patient.date_of_birth)


def _existing_account(session: Session, *, practice_id: int, email: str, password: str
                      ) -> PortalAccount | None:
    """The practice's account with this email and password, or None (same time either way)."""
    account = session.exec(
        select(PortalAccount).where(
            PortalAccount.practice_id == practice_id, PortalAccount.email == email
        )
    ).first()
    password_ok = check_password(
        password, account.password_hash if account else _DUMMY_ACCOUNT_HASH
    )
    return account if account is not None and password_ok else None


def _new_account(session: Session, *, enrollment: Enrollment, email: str, password: str,
                 now: dt.datetime) -> PortalAccount | None:
    """A new account for this email, or None when the practice already has one."""
    taken = session.exec(
        select(PortalAccount.id).where(
            PortalAccount.practice_id == enrollment.practice_id, PortalAccount.email == email
        )
    ).first()
    if taken is not None:
        return None
    own = enrollment.recipient == EnrollmentRecipient.patient
    account = PortalAccount(
        practice_id=enrollment.practice_id,
        guardian_id=enrollment.guardian_id,
        patient_id=enrollment.patient_id if own else None,
        email=email,
        password_hash=hash_password(password),
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(account)
            session.flush()
    except IntegrityError:
        return None  # another activation created this email's account a moment ago
    return account


def _activated(attempt: _Attempt, *, account: PortalAccount, patient: Patient, email: str,
               existing_account: bool, now: dt.datetime) -> ActivationResult:
    """Link the child to the account, spend the PIN, audit, and say so."""
    session, enrollment = attempt.session, attempt.enrollment
    if account.guardian_id is None and enrollment.guardian_id is not None:
        account.guardian_id = enrollment.guardian_id
        session.add(account)
    _grant_access(session, account=account, enrollment=enrollment, now=now)
    record_event(
        session, actor=ACTOR, action="activation_attempt", practice_id=attempt.practice.id,
        patient_id=enrollment.patient_id, enrollment_id=enrollment.id,
        outcome=Outcome.activated, client=attempt.client_key, account_id=account.id,
        existing_account=existing_account, recipient=enrollment.recipient,
        access_level=enrollment.access_level,
    )
    message = activated_message(first_name=patient.first_name, email=email,
                                existing_account=existing_account, language=attempt.language,
                                own_account=enrollment.recipient == EnrollmentRecipient.patient)
    if enrollment.access_level == AccessLevel.limited:
        message += " " + limited_account_note(patient.first_name, attempt.language)
    return ActivationResult(
        outcome=Outcome.activated,
        message=message,
        account_email=email,
        child_first_name=patient.first_name,
        added_to_existing_account=existing_account,
        status_changed=True,
    )


def activate_account(
    session: Session,
    *,
    practice_id: int,
    link_token: str,
    client_key: str,
    email: str,
    password: str,
    repeat_password: str | None = None,
    existing_account: bool = False,
    pin: str | None = None,
    date_of_birth: dt.date | None = None,
    answer: str | None = None,
    now: dt.datetime | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> ActivationResult:
    """Check the PIN and date of birth (or the answer) and open or extend a portal account.

    Bad form input raises InvalidInput and writes nothing. Every other ending is returned as
    an ActivationResult, so that the wrong-try counters and the audit event commit with the
    session even when the try is refused.
    """
    now = now or utcnow()
    settings = get_settings()
    email = check_account_form(email, password, repeat_password=repeat_password,
                                existing_account=existing_account, language=language)

    # The enrollment row stays locked to the end of the transaction (SQLite: BEGIN IMMEDIATE),
    # so concurrent tries on one PIN are counted one after the other, never lost.
    row = _find_link(session, practice_id=practice_id, link_token=link_token, lock=True)
    if row is None:
        return _refuse_unknown_link(session, practice_id=practice_id, client_key=client_key,
                                    now=now, language=language)
    enrollment, practice = row
    attempt = _Attempt(session=session, enrollment=enrollment, practice=practice,
                       client_key=client_key, language=language)

    # A spent, replaced, locked or expired link is refused before any secret is hashed:
    # once a PIN locks, guessing at it costs the server nothing.
    status_refusal = _status_refusal(enrollment, now)
    if status_refusal is not None:
        return attempt.refuse(status_refusal)

    secret = parse_secret(enrollment.method, pin=pin, date_of_birth=date_of_birth, answer=answer,
                          language=language)

    window = _client_window(session, client_key=client_key, now=now)
    if window.count >= settings.activation_client_limit:
        minutes = _minutes_left(window, now)
        return attempt.refuse(
            Outcome.throttled, throttled_message(minutes, language), retry_after_minutes=minutes
        )

    patient = session.get(Patient, enrollment.patient_id)
    if not _secret_matches(enrollment, patient, secret, date_of_birth, answer):
        return attempt.count_wrong_try(Outcome.wrong_secret, window=window, settings=settings)

    # Only now, with the PIN and date of birth proven, may the child's age be spoken of. The
    # limit ends a parent's access; a young adult's own invitation is meant for that age.
    own = enrollment.recipient == EnrollmentRecipient.patient
    today = practice_day(now, practice.timezone)
    if not own and age_in_years(patient.date_of_birth, today=today) >= practice.minor_age_limit:
        return attempt.refuse(
            Outcome.too_old, too_old_message(practice, patient.first_name, language),
            minor_age_limit=practice.minor_age_limit,
        )

    if existing_account:
        account = _existing_account(session, practice_id=practice.id, email=email,
                                    password=password)
        if account is None or (own and account.guardian_id is not None):
            # Counted like a wrong PIN: a known PIN must not open unlimited password guessing.
            # (A parent's account cannot hold the patient's own access.)
            return attempt.count_wrong_try(Outcome.account_mismatch, window=window,
                                           settings=settings)
    else:
        account = _new_account(session, enrollment=enrollment, email=email, password=password,
                               now=now)
        if account is None:
            return attempt.refuse(Outcome.account_exists)
    return _activated(attempt, account=account, patient=patient, email=email,
                      existing_account=existing_account, now=now)
