"""Parent activation: the PIN (or verification answer) and the child's date of birth open a
portal account, with guess limits per enrollment and per client, and every try audited."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models import (
    Enrollment,
    EnrollmentMethod,
    EnrollmentStatus,
    Patient,
    PortalAccess,
    PortalAccount,
    Practice,
    RateLimit,
    utcnow,
)
from services.ages import age_in_years
from services.audit import record_event
from services.auth import check_password, hash_password
from services.errors import InvalidInput, NotFound
from services.pins import PIN_LENGTH, normalize_answer, normalize_pin, verify_secret
from services.settings import get_settings
from services.validation import normalize_email

MIN_PARENT_PASSWORD = 12
MAX_ID = 2**31 - 1  # ids are 32-bit integers; a larger number in a URL names nothing
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further
CLIENT_BUCKET = "activation"
ACTOR = "parent"
# Checked when no account has the email, so that a miss costs the same time as a hit.
_DUMMY_ACCOUNT_HASH = hash_password("no such portal account")
UNKNOWN_LINK_MESSAGE = (
    "We could not find this activation link. Open the link in the welcome email or scan the "
    "QR code on the PIN letter from your practice; if it still does not work, call the practice."
)


class Outcome(StrEnum):
    """How one activation try ended (also the `outcome` of its audit event)."""

    activated = "activated"
    wrong_secret = "wrong_secret"  # wrong PIN or date of birth, or wrong answer
    locked = "locked"  # too many wrong tries, now or before
    expired = "expired"
    voided = "voided"  # a newer PIN replaced this one
    used = "used"
    declined = "declined"
    throttled = "throttled"  # too many tries from this client
    too_old = "too_old"  # the child is past the practice's minor age limit
    account_exists = "account_exists"
    account_mismatch = "account_mismatch"  # existing account: email or password wrong
    unknown_link = "unknown_link"


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


def _call_practice(practice: Practice) -> str:
    if practice.phone:
        return f"call {practice.name} at {practice.phone}"
    return f"call {practice.name}"


def _refusal_message(outcome: Outcome, practice: Practice, *, method: str) -> str:
    call = _call_practice(practice)
    if outcome == Outcome.wrong_secret:
        if method == EnrollmentMethod.question:
            return (
                "That answer does not match our records. Check it and try again; after a few "
                f"wrong tries the link is locked and you would need to {call} for a new one."
            )
        return (
            "That PIN and date of birth do not match our records. Check both (the PIN is on "
            "your letter or in the welcome email) and try again; after a few wrong tries the PIN "
            f"is locked and you would need to {call} for a new one."
        )
    return {
        Outcome.locked: (
            f"This PIN is locked after too many wrong tries. Please {call} and ask for a new PIN."
        ),
        Outcome.expired: f"This PIN has expired. Please {call} and ask for a new PIN.",
        Outcome.voided: (
            "This PIN was replaced by a newer one. Use the link in the most recent email or "
            f"letter from {practice.name}, or {call} for help."
        ),
        Outcome.used: (
            "This PIN has already been used to activate a portal account, so it cannot be used "
            "again. Sign in to the patient portal with the email and password chosen then; if "
            f"that was not you, {call}."
        ),
        Outcome.declined: (
            "Portal access for this child was declined at the practice. If you would like it "
            f"now, {call} and ask for a PIN."
        ),
        Outcome.account_exists: (
            "A portal account with this email address already exists. Tick \"I already have an "
            "account\" and enter its password to add this child to it."
        ),
        Outcome.account_mismatch: (
            "We could not sign you in with that email address and password. Check them and "
            "try again, or untick \"I already have an account\" to create a new account; if you "
            f"forgot the password, {call}."
        ),
    }[outcome]


def _too_old_message(practice: Practice, first_name: str) -> str:
    return (
        f"Parents' portal access ends when a child turns {practice.minor_age_limit}, so we "
        f"cannot give you access to {first_name}'s records. {first_name} can ask "
        f"{practice.name} for a portal account of their own; {_call_practice(practice)} for help."
    )


def _throttled_message(minutes: int) -> str:
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"Too many tries from this device. Please wait {minutes} {unit} and try again, "
        "or call the practice for help."
    )


def _practice_today(practice: Practice, now: dt.datetime) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(practice.timezone)).date()


def _status_refusal(enrollment: Enrollment, now: dt.datetime) -> Outcome | None:
    """Why a link can no longer be used, before any secret is looked at (None: it can)."""
    status = enrollment.status
    if status == EnrollmentStatus.voided:
        return Outcome.voided
    if status == EnrollmentStatus.active:
        return Outcome.used
    if status == EnrollmentStatus.locked:
        return Outcome.locked
    if status == EnrollmentStatus.declined:
        return Outcome.declined
    # Expiry is exclusive: at the stroke of expires_at the PIN no longer works.
    if enrollment.expires_at is not None and enrollment.expires_at <= now:
        return Outcome.expired
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
    session: Session, *, practice_id: int, link_token: str, now: dt.datetime | None = None
) -> ActivationLink:
    """What the activation page asks for this link (NotFound for an unknown link)."""
    now = now or utcnow()
    row = _find_link(session, practice_id=practice_id, link_token=link_token, lock=False)
    if row is None:
        raise NotFound(UNKNOWN_LINK_MESSAGE)
    enrollment, practice = row
    today = _practice_today(practice, now)
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
            _refusal_message(refusal, practice, method=enrollment.method) if refusal else None
        ),
    )


def _validate_password(password: str, *, email: str, repeat: str | None) -> None:
    if not password:
        raise InvalidInput(
            f"Password is empty: choose one of at least {MIN_PARENT_PASSWORD} characters.",
            field="password",
        )
    if len(password) < MIN_PARENT_PASSWORD:
        raise InvalidInput(
            f"Password is too short: use at least {MIN_PARENT_PASSWORD} characters.",
            field="password",
        )
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise InvalidInput(
            "Password is too long: use at most 72 characters (fewer with accents or emoji).",
            field="password",
        )
    local_part = email.split("@", 1)[0]
    lowered = password.lower()
    if email in lowered or (len(local_part) >= 4 and local_part in lowered):
        raise InvalidInput(
            "Password must not contain your email address: choose something else.",
            field="password",
        )
    if repeat is not None and repeat != password:
        raise InvalidInput(
            "Repeat password does not match Password: type the same password twice.",
            field="repeat_password",
        )


def _parse_secret(
    method: str, *, pin: str | None, date_of_birth: dt.date | None, answer: str | None
) -> str:
    """The normalised secret from the form, or InvalidInput (nothing counted, nothing written)."""
    if method == EnrollmentMethod.question:
        secret = normalize_answer(answer)
        if not secret:
            raise InvalidInput(
                "Answer is empty: type the answer to the question above.", field="answer"
            )
        return secret
    secret = normalize_pin(pin)
    if not secret:
        raise InvalidInput(
            "PIN is empty: type the PIN from your letter or welcome email.", field="pin"
        )
    if len(secret) != PIN_LENGTH or not secret.isalnum():
        raise InvalidInput(
            f"PIN should be {PIN_LENGTH} letters and digits (dashes and spaces do not matter): "
            "check it against your letter or email.",
            field="pin",
        )
    if date_of_birth is None:
        raise InvalidInput(
            "Child's date of birth is empty: pick it in the calendar or type it as MM/DD/YYYY.",
            field="date_of_birth",
        )
    return secret


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
    session: Session, *, practice_id: int, client_key: str, now: dt.datetime
) -> ActivationResult:
    """A try at a link that names nothing: counted per client, since links can be guessed at."""
    window = _client_window(session, client_key=client_key, now=now)
    if window.count >= get_settings().activation_client_limit:
        minutes = _minutes_left(window, now)
        result = ActivationResult(outcome=Outcome.throttled, message=_throttled_message(minutes),
                                  retry_after_minutes=minutes)
    else:
        window.count += 1
        session.add(window)
        result = ActivationResult(outcome=Outcome.unknown_link, message=UNKNOWN_LINK_MESSAGE)
    known = 0 < practice_id <= MAX_ID and session.get(Practice, practice_id) is not None
    record_event(
        session, actor=ACTOR, action="activation_attempt",
        practice_id=practice_id if known else None, outcome=result.outcome, client=client_key,
    )
    return result


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
) -> ActivationResult:
    """Check the PIN and date of birth (or the answer) and open or extend a portal account.

    Bad form input raises InvalidInput and writes nothing. Every other ending is returned as
    an ActivationResult, so that the wrong-try counters and the audit event commit with the
    session even when the try is refused.
    """
    now = now or utcnow()
    settings = get_settings()
    email = normalize_email(email, field="Email address").lower()
    if not existing_account:
        _validate_password(password, email=email, repeat=repeat_password)
    elif not password:
        raise InvalidInput(
            "Password is empty: enter the password of your existing account.", field="password"
        )

    # The enrollment row stays locked to the end of the transaction (SQLite: BEGIN IMMEDIATE),
    # so concurrent tries on one PIN are counted one after the other, never lost.
    row = _find_link(session, practice_id=practice_id, link_token=link_token, lock=True)
    if row is None:
        return _refuse_unknown_link(session, practice_id=practice_id, client_key=client_key,
                                    now=now)
    enrollment, practice = row

    def refuse(outcome: Outcome, message: str | None = None, **detail) -> ActivationResult:
        record_event(
            session, actor=ACTOR, action="activation_attempt", practice_id=practice.id,
            patient_id=enrollment.patient_id, enrollment_id=enrollment.id, outcome=outcome,
            client=client_key, **detail,
        )
        return ActivationResult(
            outcome=outcome,
            message=message or _refusal_message(outcome, practice, method=enrollment.method),
            retry_after_minutes=detail.get("retry_after_minutes"),
        )

    # A spent, replaced, locked or expired link is refused before any secret is hashed:
    # once a PIN locks, guessing at it costs the server nothing.
    status_refusal = _status_refusal(enrollment, now)
    if status_refusal is not None:
        return refuse(status_refusal)

    secret = _parse_secret(enrollment.method, pin=pin, date_of_birth=date_of_birth, answer=answer)

    window = _client_window(session, client_key=client_key, now=now)
    if window.count >= settings.activation_client_limit:
        minutes = _minutes_left(window, now)
        return refuse(
            Outcome.throttled, _throttled_message(minutes), retry_after_minutes=minutes
        )

    patient = session.get(Patient, enrollment.patient_id)

    def count_wrong_try(outcome: Outcome) -> ActivationResult:
        window.count += 1
        session.add(window)
        enrollment.attempts += 1
        locks = enrollment.attempts >= settings.activation_max_attempts
        if locks:
            enrollment.status = EnrollmentStatus.locked  # staff see Locked, issue a new PIN
        session.add(enrollment)
        result = refuse(outcome, attempts=enrollment.attempts, locked=locks)
        if not locks:
            return result
        record_event(
            session, actor=ACTOR, action="enrollment_locked", practice_id=practice.id,
            patient_id=enrollment.patient_id, enrollment_id=enrollment.id,
            attempts=enrollment.attempts,
        )
        return ActivationResult(
            outcome=Outcome.locked,
            message=_refusal_message(Outcome.locked, practice, method=enrollment.method),
            status_changed=True,
        )

    # Both checks always run, and `&` does not short-circuit: the time taken says nothing
    # about which part was wrong.
    secret_ok = verify_secret(secret, enrollment.secret_hash)
    if enrollment.method == EnrollmentMethod.question:
        matches = secret_ok
    else:
        matches = secret_ok & (date_of_birth == patient.date_of_birth)
    if not matches:
        return count_wrong_try(Outcome.wrong_secret)

    # Only now, with the PIN and date of birth proven, may the child's age be spoken of.
    if age_in_years(patient.date_of_birth, today=_practice_today(practice, now)) >= (
        practice.minor_age_limit
    ):
        return refuse(
            Outcome.too_old, _too_old_message(practice, patient.first_name),
            minor_age_limit=practice.minor_age_limit,
        )

    account = session.exec(
        select(PortalAccount).where(
            PortalAccount.practice_id == practice.id, PortalAccount.email == email
        )
    ).first()
    if existing_account:
        password_ok = check_password(
            password, account.password_hash if account else _DUMMY_ACCOUNT_HASH
        )
        if account is None or not password_ok:
            # Counted like a wrong PIN: a known PIN must not open unlimited password guessing.
            return count_wrong_try(Outcome.account_mismatch)
    else:
        if account is not None:
            return refuse(Outcome.account_exists)
        account = PortalAccount(
            practice_id=practice.id,
            guardian_id=enrollment.guardian_id,
            email=email,
            password_hash=hash_password(password),
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(account)
                session.flush()
        except IntegrityError:
            # Another activation created this email's account a moment ago.
            return refuse(Outcome.account_exists)

    if account.guardian_id is None and enrollment.guardian_id is not None:
        account.guardian_id = enrollment.guardian_id
        session.add(account)
    _grant_access(session, account=account, enrollment=enrollment, now=now)
    record_event(
        session, actor=ACTOR, action="activation_attempt", practice_id=practice.id,
        patient_id=enrollment.patient_id, enrollment_id=enrollment.id,
        outcome=Outcome.activated, client=client_key, account_id=account.id,
        existing_account=existing_account,
    )
    return ActivationResult(
        outcome=Outcome.activated,
        message=(
            f"{patient.first_name} is now linked to the portal account {email}."
            if existing_account
            else f"Your portal account {email} is active, with access to "
            f"{patient.first_name}'s records."
        ),
        account_email=email,
        child_first_name=patient.first_name,
        added_to_existing_account=existing_account,
        status_changed=True,
    )
