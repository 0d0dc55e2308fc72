"""Parent activation: secrets, refusals, guess limits, siblings, the age limit, audit."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from dataclasses import fields

import pytest
from sqlmodel import func, select

from models import (
    AuditEvent,
    Enrollment,
    EnrollmentStatus,
    PortalAccess,
    PortalAccount,
    RateLimit,
)
from services import activation
from services.activation import Outcome, activate_account, describe_link
from services.ages import age_in_years
from services.db import session_scope
from services.errors import InvalidInput, NotFound
from services.pins import format_pin, generate_pin
from services.settings import get_settings
from services.status import PortalStatus, derive_status
from tests.factories import make_enrollment, make_patient, make_practice

PASSWORD = "tulip orchard sunrise 42"
DOB = dt.date(2016, 5, 17)
NOW = dt.datetime(2025, 3, 10, 15, 0, tzinfo=dt.UTC)


def attempt(enrollment, *, pin=None, date_of_birth=DOB, email="parent@example.com",
            password=PASSWORD, repeat_password=None, client_key="ip:203.0.113.9", now=NOW,
            **options):
    """One try, in its own unit of work, as the page makes it."""
    with session_scope() as session:
        return activate_account(
            session, practice_id=enrollment.practice_id, link_token=enrollment.link_token,
            client_key=client_key, email=email, password=password,
            repeat_password=password if repeat_password is None else repeat_password,
            pin=pin, date_of_birth=date_of_birth, now=now, **options,
        )


def reload(enrollment) -> Enrollment:
    with session_scope(read_only=True) as session:
        stored = session.get(Enrollment, enrollment.id)
        session.expunge(stored)  # keeps its loaded values past the read-only rollback
        return stored


def count(model, *where) -> int:
    with session_scope(read_only=True) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def audit_details(action="activation_attempt") -> list[dict]:
    with session_scope(read_only=True) as session:
        events = session.exec(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()
        return [dict(json.loads(e.detail), actor=e.actor, practice_id=e.practice_id,
                     patient_id=e.patient_id) for e in events]


def use_settings(monkeypatch, **values):
    for name, value in values.items():
        monkeypatch.setenv(f"PORTAL_{name.upper()}", str(value))
    get_settings.cache_clear()


@pytest.fixture
def practice(session):
    return make_practice(session, name="Sunny Peds", phone="(617) 555-0100")


@pytest.fixture
def invited(session, practice):
    """An invited PIN enrollment, issued a week before NOW; returns (enrollment, pin)."""
    pin = generate_pin()
    patient = make_patient(session, practice, first_name="Emma", date_of_birth=DOB)
    enrollment = make_enrollment(session, practice, patient=patient, pin=pin,
                                 issued_at=NOW - dt.timedelta(days=7))
    session.commit()
    return enrollment, pin


@pytest.mark.parametrize("typed", [
    lambda pin: pin,
    lambda pin: pin.lower(),
    lambda pin: format_pin(pin),
    lambda pin: " ".join(pin.lower()),
    lambda pin: f"  {pin[:3]} - {pin[3:7]}\t{pin[7:]} ",
], ids=["as issued", "lower case", "dashed", "spaced", "mixed"])
def test_pin_typed_in_any_case_with_dashes_or_spaces_activates(invited, typed):
    enrollment, pin = invited
    result = attempt(enrollment, pin=typed(pin))
    assert result.outcome == Outcome.activated, result.message
    assert result.status_changed
    stored = reload(enrollment)
    assert stored.status == EnrollmentStatus.active
    assert stored.activated_at == NOW
    assert stored.secret_hash is None  # a used PIN is worth nothing
    assert derive_status(stored.status, stored.expires_at, now=NOW) == PortalStatus.active


def test_success_creates_an_account_linked_to_guardian_and_patient(invited):
    enrollment, pin = invited
    result = attempt(enrollment, pin=pin, email="Parent.Name@Example.COM")
    assert result.activated and result.child_first_name == "Emma"
    with session_scope(read_only=True) as session:
        account = session.exec(select(PortalAccount)).one()
        access = session.exec(select(PortalAccess)).one()
        session.expunge_all()
    assert account.email == "parent.name@example.com"
    assert account.practice_id == enrollment.practice_id
    assert account.guardian_id == enrollment.guardian_id
    assert account.password_hash.startswith("$2")  # bcrypt, never the password
    assert (access.account_id, access.patient_id, access.enrollment_id) == (
        account.id, enrollment.patient_id, enrollment.id)


def test_wrong_date_of_birth_and_wrong_pin_get_the_same_message(invited):
    enrollment, pin = invited
    wrong_dob = attempt(enrollment, pin=pin, date_of_birth=DOB + dt.timedelta(days=1))
    wrong_pin = attempt(enrollment, pin=generate_pin())
    assert wrong_dob.outcome == wrong_pin.outcome == Outcome.wrong_secret
    assert wrong_dob.message == wrong_pin.message
    assert "PIN and date of birth do not match" in wrong_pin.message
    assert reload(enrollment).attempts == 2  # committed although the tries were refused
    assert count(PortalAccount) == 0


def test_right_pin_and_date_of_birth_after_wrong_tries_still_works(invited):
    enrollment, pin = invited
    attempt(enrollment, pin=pin, date_of_birth=dt.date(2016, 5, 18))
    assert attempt(enrollment, pin=pin).activated


def test_pin_works_one_second_before_expiry(invited):
    enrollment, pin = invited
    result = attempt(enrollment, pin=pin, now=enrollment.expires_at - dt.timedelta(seconds=1))
    assert result.activated


def test_pin_refused_at_the_stroke_of_expiry(invited):
    enrollment, pin = invited
    result = attempt(enrollment, pin=pin, now=enrollment.expires_at)
    assert result.outcome == Outcome.expired
    assert "expired" in result.message and "(617) 555-0100" in result.message
    assert reload(enrollment).attempts == 0  # not a wrong guess
    assert count(PortalAccount) == 0


def test_five_wrong_tries_lock_the_enrollment(invited):
    enrollment, pin = invited
    results = [attempt(enrollment, pin=generate_pin()) for _ in range(5)]
    assert [r.outcome for r in results] == [Outcome.wrong_secret] * 4 + [Outcome.locked]
    assert [r.status_changed for r in results] == [False] * 4 + [True]
    stored = reload(enrollment)
    assert (stored.status, stored.attempts) == (EnrollmentStatus.locked, 5)
    assert derive_status(stored.status, stored.expires_at, now=NOW) == PortalStatus.locked
    # Now even the right PIN is refused, and says what to do.
    right = attempt(enrollment, pin=pin)
    assert right.outcome == Outcome.locked and not right.status_changed
    assert "too many wrong tries" in right.message and "new PIN" in right.message
    assert reload(enrollment).attempts == 5
    assert len(audit_details("enrollment_locked")) == 1


def test_lock_limit_comes_from_settings(monkeypatch, invited):
    use_settings(monkeypatch, activation_max_attempts=2)
    enrollment, _ = invited
    assert attempt(enrollment, pin=generate_pin()).outcome == Outcome.wrong_secret
    assert attempt(enrollment, pin=generate_pin()).outcome == Outcome.locked


def test_voided_pin_is_refused_as_replaced(session, practice):
    pin = generate_pin()
    patient = make_patient(session, practice, date_of_birth=DOB)
    old = make_enrollment(session, practice, patient=patient, pin=pin,
                          status=EnrollmentStatus.voided, voided_at=NOW)
    make_enrollment(session, practice, patient=patient, issued_at=NOW)
    session.commit()
    result = attempt(old, pin=pin)
    assert result.outcome == Outcome.voided
    assert "replaced by a newer one" in result.message
    assert count(PortalAccount) == 0


def test_used_pin_is_refused_the_second_time(invited):
    enrollment, pin = invited
    assert attempt(enrollment, pin=pin).activated
    again = attempt(enrollment, pin=pin, email="someone.else@example.com")
    assert again.outcome == Outcome.used
    assert "already been used" in again.message
    assert count(PortalAccount) == 1


def test_declined_enrollment_is_refused(session, practice):
    enrollment = make_enrollment(session, practice, status=EnrollmentStatus.declined,
                                 declined_reason="Family prefers paper")
    session.commit()
    result = attempt(enrollment, pin=generate_pin())
    assert result.outcome == Outcome.declined and "declined" in result.message


def test_unknown_link_and_another_practices_link_are_refused(session, invited):
    enrollment, pin = invited
    other = make_practice(session)
    session.commit()
    with session_scope() as s:
        wrong_practice = activate_account(
            s, practice_id=other.id, link_token=enrollment.link_token, client_key="ip:x",
            email="parent@example.com", password=PASSWORD, pin=pin, date_of_birth=DOB, now=NOW)
        unknown = activate_account(
            s, practice_id=enrollment.practice_id, link_token="no-such-token",
            client_key="ip:x", email="parent@example.com", password=PASSWORD, pin=pin,
            date_of_birth=DOB, now=NOW)
    assert wrong_practice.outcome == unknown.outcome == Outcome.unknown_link
    assert "call the practice" in unknown.message
    assert reload(enrollment).status == EnrollmentStatus.invited


def test_guessing_at_links_is_throttled_too(monkeypatch, session, practice):
    use_settings(monkeypatch, activation_client_limit=2)
    session.commit()
    outcomes = []
    for practice_id in (practice.id, 10**20, practice.id):
        with session_scope() as s:
            outcomes.append(activate_account(
                s, practice_id=practice_id, link_token="guess", client_key="ip:x",
                email="parent@example.com", password=PASSWORD, repeat_password=PASSWORD,
                pin=generate_pin(), date_of_birth=DOB, now=NOW).outcome)
    assert outcomes == [Outcome.unknown_link, Outcome.unknown_link, Outcome.throttled]
    assert [d["practice_id"] for d in audit_details()] == [practice.id, None, practice.id]


def test_sibling_added_to_existing_account_with_same_email_and_password(session, practice,
                                                                         invited):
    enrollment, pin = invited
    sister = make_patient(session, practice, first_name="Lily", date_of_birth=dt.date(2019, 1, 2))
    sister_pin = generate_pin()
    sister_enrollment = make_enrollment(session, practice, patient=sister, pin=sister_pin)
    session.commit()
    assert attempt(enrollment, pin=pin).activated

    # Choosing "new account" with the same email points to the sibling path instead.
    exists = attempt(sister_enrollment, pin=sister_pin, date_of_birth=sister.date_of_birth)
    assert exists.outcome == Outcome.account_exists
    assert "I already have an account" in exists.message
    assert reload(sister_enrollment).status == EnrollmentStatus.invited

    added = attempt(sister_enrollment, pin=sister_pin, date_of_birth=sister.date_of_birth,
                    existing_account=True, repeat_password="")
    assert added.activated and added.added_to_existing_account
    assert added.child_first_name == "Lily"
    assert count(PortalAccount) == 1
    with session_scope(read_only=True) as s:
        patients = s.exec(select(PortalAccess.patient_id)).all()
    assert sorted(patients) == sorted([enrollment.patient_id, sister.id])
    assert reload(sister_enrollment).status == EnrollmentStatus.active


def test_sibling_with_wrong_account_password_counts_as_a_wrong_try(session, practice, invited):
    enrollment, pin = invited
    brother = make_patient(session, practice, date_of_birth=DOB)
    brother_pin = generate_pin()
    brother_enrollment = make_enrollment(session, practice, patient=brother, pin=brother_pin)
    session.commit()
    assert attempt(enrollment, pin=pin).activated
    for password in ("not the password at all", PASSWORD):
        result = attempt(brother_enrollment, pin=brother_pin, existing_account=True,
                         password=password, email="nobody@example.com"
                         if password == PASSWORD else "parent@example.com")
        assert result.outcome == Outcome.account_mismatch
        assert "could not sign you in" in result.message
    assert reload(brother_enrollment).attempts == 2
    assert count(PortalAccess) == 1


@pytest.mark.parametrize(("birthday_offset", "granted"), [(-1, False), (0, False), (1, True)])
def test_minor_age_limit_in_the_practice_timezone(session, birthday_offset, granted):
    # 08:00 UTC on 10 March is still 9 March in Honolulu (UTC-10).
    practice = make_practice(session, timezone="Pacific/Honolulu", minor_age_limit=18)
    practice_today = dt.date(2025, 3, 9)
    turns_18 = practice_today + dt.timedelta(days=birthday_offset)
    dob = turns_18.replace(year=turns_18.year - 18)
    pin = generate_pin()
    patient = make_patient(session, practice, first_name="Noah", date_of_birth=dob)
    enrollment = make_enrollment(session, practice, patient=patient, pin=pin)
    session.commit()
    now = dt.datetime(2025, 3, 10, 8, 0, tzinfo=dt.UTC)
    result = attempt(enrollment, pin=pin, date_of_birth=dob, now=now)
    assert result.activated is granted
    if not granted:
        assert result.outcome == Outcome.too_old
        assert "ends when a child turns 18" in result.message and "Noah" in result.message
        assert reload(enrollment).status == EnrollmentStatus.invited
        assert count(PortalAccount) == 0


def test_age_limit_is_not_revealed_before_the_pin_is_proven(session):
    practice = make_practice(session, minor_age_limit=18)
    patient = make_patient(session, practice, date_of_birth=dt.date(2000, 1, 1))
    enrollment = make_enrollment(session, practice, patient=patient)
    session.commit()
    result = attempt(enrollment, pin=generate_pin(), date_of_birth=dt.date(2000, 1, 1))
    assert result.outcome == Outcome.wrong_secret


def test_age_in_years_counts_whole_birthdays():
    assert age_in_years(dt.date(2010, 6, 15), today=dt.date(2025, 6, 14)) == 14
    assert age_in_years(dt.date(2010, 6, 15), today=dt.date(2025, 6, 15)) == 15
    assert age_in_years(dt.date(2008, 2, 29), today=dt.date(2026, 2, 28)) == 17
    assert age_in_years(dt.date(2008, 2, 29), today=dt.date(2026, 3, 1)) == 18


def test_client_throttle_slows_tries_across_different_pins(monkeypatch, session, practice):
    use_settings(monkeypatch, activation_client_limit=3, activation_client_window_minutes=15)
    pins = [generate_pin() for _ in range(5)]
    enrollments = [make_enrollment(session, practice, pin=pin,
                                   patient=make_patient(session, practice, date_of_birth=DOB))
                   for pin in pins]
    session.commit()
    for enrollment in enrollments[:3]:
        assert attempt(enrollment, pin=generate_pin()).outcome == Outcome.wrong_secret

    # The fourth try from the same client is refused, even with the right PIN ...
    later = NOW + dt.timedelta(minutes=5)
    throttled = attempt(enrollments[3], pin=pins[3], now=later)
    assert throttled.outcome == Outcome.throttled
    assert throttled.retry_after_minutes == 10
    assert "Too many tries" in throttled.message and "wait 10 minutes" in throttled.message
    assert reload(enrollments[3]).attempts == 0  # the secret was never checked
    # ... while another client is not slowed down,
    assert attempt(enrollments[4], pin=pins[4], client_key="ip:198.51.100.7",
                   email="other@example.com").activated
    # and the first client may try again once its window has passed.
    assert attempt(enrollments[3], pin=pins[3], now=NOW + dt.timedelta(minutes=15)).activated


def test_successful_tries_do_not_use_up_the_client_allowance(monkeypatch, session, practice):
    use_settings(monkeypatch, activation_client_limit=1)
    pins = [generate_pin() for _ in range(3)]
    enrollments = [make_enrollment(session, practice, pin=pin,
                                   patient=make_patient(session, practice, date_of_birth=DOB))
                   for pin in pins]
    session.commit()
    assert attempt(enrollments[0], pin=pins[0]).activated
    assert attempt(enrollments[1], pin=pins[1], existing_account=True).activated
    assert attempt(enrollments[2], pin=pins[2], existing_account=True).activated


@pytest.mark.parametrize(("change", "field"), [
    ({"email": "not-an-email"}, "Email address"),
    ({"password": "short pass", "repeat_password": "short pass"}, "password"),
    ({"password": "parent@example.com-2025", "repeat_password": "parent@example.com-2025"},
     "password"),
    ({"password": "my parent secret", "repeat_password": "my parent secret",
      "email": "parent@example.com"}, "password"),
    ({"repeat_password": "a different passphrase"}, "repeat_password"),
    ({"pin": ""}, "pin"),
    ({"pin": "ABC-123"}, "pin"),
    ({"date_of_birth": None}, "date_of_birth"),
], ids=["email", "short", "contains email", "contains email name", "repeat", "no pin",
        "short pin", "no dob"])
def test_bad_input_names_the_field_and_writes_nothing(invited, change, field):
    enrollment, pin = invited
    values = {"pin": pin, **change}
    with pytest.raises(InvalidInput) as error:
        attempt(enrollment, **values)
    assert error.value.field == field
    assert reload(enrollment).attempts == 0
    assert count(AuditEvent) == 0 and count(RateLimit) == 0


def test_verification_question_enrollment_takes_the_answer_and_the_date_of_birth(
        session, practice):
    patient = make_patient(session, practice, date_of_birth=DOB)
    enrollment = make_enrollment(session, practice, patient=patient, answer="Mr. Whiskers")
    session.commit()
    wrong = attempt(enrollment, answer="Rex", date_of_birth=DOB)
    assert wrong.outcome == Outcome.wrong_secret
    assert "answer and date of birth do not match" in wrong.message
    # The right answer with another birth date is refused alike: an answer is often guessable.
    wrong_birth = attempt(enrollment, answer="mr whiskers", date_of_birth=DOB.replace(day=1))
    assert wrong_birth.outcome == Outcome.wrong_secret and wrong_birth.message == wrong.message
    with pytest.raises(InvalidInput) as missing:
        attempt(enrollment, answer="mr whiskers", date_of_birth=None)
    assert missing.value.field == "date_of_birth"
    right = attempt(enrollment, answer="  mr whiskers ", date_of_birth=DOB)
    assert right.activated
    assert reload(enrollment).attempts == 2


def test_an_answer_with_other_case_spacing_and_punctuation_is_right_at_no_cost(session,
                                                                               practice):
    patient = make_patient(session, practice, date_of_birth=DOB)
    enrollment = make_enrollment(session, practice, patient=patient, answer="Lincoln Elementary")
    session.commit()
    right = attempt(enrollment, answer="lincoln elementary!", date_of_birth=DOB)
    assert right.activated
    assert reload(enrollment).attempts == 0


def test_an_answer_hashed_in_its_older_form_still_activates(session, practice):
    from services.pins import hash_secret, legacy_answer

    patient = make_patient(session, practice, date_of_birth=DOB)
    enrollment = make_enrollment(
        session, practice, patient=patient, answer="x",
        secret_hash=hash_secret(legacy_answer("O'Brien Elementary")))
    session.commit()
    right = attempt(enrollment, answer="o'brien elementary", date_of_birth=DOB)
    assert right.activated


def test_every_try_is_audited_and_no_audit_holds_the_pin(monkeypatch, invited):
    use_settings(monkeypatch, activation_max_attempts=2)
    enrollment, pin = invited
    typed = [generate_pin(), pin.lower()]
    attempt(enrollment, pin=typed[0])
    attempt(enrollment, pin=typed[1])
    details = audit_details()
    assert [d["outcome"] for d in details] == ["wrong_secret", "activated"]
    for detail in details:
        assert detail["actor"] == "parent"
        assert detail["practice_id"] == enrollment.practice_id
        assert detail["patient_id"] == enrollment.patient_id
        assert detail["client"] == "ip:203.0.113.9"
    with session_scope(read_only=True) as session:
        everything = " ".join(e.detail for e in session.exec(select(AuditEvent)).all())
    for secret in typed + [pin, PASSWORD]:
        assert secret.upper() not in everything.upper()


def test_describe_link_for_a_pin_shows_no_patient_details(session, practice, invited):
    enrollment, _ = invited
    with session_scope(read_only=True) as s:
        link = describe_link(s, practice_id=practice.id, link_token=enrollment.link_token,
                             now=NOW)
    assert (link.practice_name, link.method, link.question, link.refusal) == (
        "Sunny Peds", "pin", None, None)
    shown = " ".join(str(getattr(link, f.name)) for f in fields(link))
    assert "Emma" not in shown and DOB.isoformat() not in shown
    assert link.earliest_birth_date <= DOB <= link.latest_birth_date


def test_describe_link_for_a_question_shows_the_question(session, practice):
    enrollment = make_enrollment(session, practice, answer="blue",
                                 verification_question="Favourite colour of the car?")
    session.commit()
    with session_scope(read_only=True) as s:
        link = describe_link(s, practice_id=practice.id, link_token=enrollment.link_token)
    assert (link.method, link.question) == ("question", "Favourite colour of the car?")


def test_describe_link_says_when_a_link_can_no_longer_be_used(invited):
    enrollment, _ = invited
    with session_scope(read_only=True) as s:
        link = describe_link(s, practice_id=enrollment.practice_id,
                             link_token=enrollment.link_token, now=enrollment.expires_at)
    assert link.refusal and "expired" in link.refusal


@pytest.mark.parametrize("practice_id", [None, 10**20], ids=["own practice", "huge id"])
def test_describe_link_refuses_unknown_links(invited, practice_id):
    enrollment, _ = invited
    with session_scope(read_only=True) as s, pytest.raises(NotFound) as error:
        describe_link(s, practice_id=practice_id or enrollment.practice_id, link_token="nope")
    assert "welcome email" in error.value.message


def test_concurrent_wrong_tries_are_all_counted(monkeypatch, invited):
    use_settings(monkeypatch, activation_max_attempts=1000, activation_client_limit=1000)
    enrollment, _ = invited
    threads, tries, errors = 4, 8, []

    def guess(worker):
        try:
            for _ in range(tries):
                # Two workers share each client, so their first tries race to create its row.
                attempt(enrollment, pin=generate_pin(), client_key=f"ip:10.0.0.{worker % 2}")
        except Exception as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    workers = [threading.Thread(target=guess, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    assert reload(enrollment).attempts == threads * tries
    with session_scope(read_only=True) as s:
        counts = s.exec(select(RateLimit.key, RateLimit.count).order_by(RateLimit.key)).all()
    assert [tuple(row) for row in counts] == [
        ("ip:10.0.0.0", 2 * tries), ("ip:10.0.0.1", 2 * tries)]


def test_concurrent_right_tries_activate_once(invited):
    enrollment, pin = invited
    results, errors = [], []

    def activate(n):
        try:
            results.append(attempt(enrollment, pin=pin, email=f"parent{n}@example.com",
                                   client_key=f"ip:10.0.1.{n}"))
        except Exception as error:  # noqa: BLE001 - reported by the assert below
            errors.append(error)

    workers = [threading.Thread(target=activate, args=(n,)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    assert sorted(r.outcome for r in results) == sorted(
        [Outcome.activated, Outcome.used, Outcome.used])
    assert count(PortalAccount) == 1 and count(PortalAccess) == 1


def test_brute_force_activates_nothing_and_ends_locked(monkeypatch, session, practice):
    """10,000 wrong guesses over 20 enrollments from 50 clients: nothing opens, all lock."""
    enrollments = [make_enrollment(session, practice, pin=generate_pin(),
                                   patient=make_patient(session, practice, date_of_birth=DOB))
                   for _ in range(20)]
    session.commit()
    hashed = Counter()
    real_verify = activation.verify_secret

    def counting_verify(secret, secret_hash):
        hashed["calls"] += 1
        return real_verify(secret, secret_hash)

    monkeypatch.setattr(activation, "verify_secret", counting_verify)
    outcomes = Counter()
    for batch in range(100):
        # 100 service calls per unit of work, so that 10,000 do not wait for 10,000 commits
        # (fsync on PostgreSQL); the locks and counters are the same as one try per unit.
        with session_scope() as s:
            for guess in range(batch * 100, (batch + 1) * 100):
                enrollment = enrollments[guess % 20]
                # The attacker knows each child's date of birth; only the PIN is guessed.
                result = activate_account(
                    s, practice_id=practice.id, link_token=enrollment.link_token,
                    client_key=f"ip:192.0.2.{guess % 50}", email="attacker@example.com",
                    password=PASSWORD, repeat_password=PASSWORD, pin=generate_pin(),
                    date_of_birth=DOB, now=NOW,
                )
                outcomes[result.outcome] += 1

    assert outcomes[Outcome.activated] == 0
    assert count(PortalAccount) == 0 and count(PortalAccess) == 0
    for enrollment in enrollments:
        stored = reload(enrollment)
        assert (stored.status, stored.attempts) == (EnrollmentStatus.locked, 5)
    # Once locked, a PIN costs no hashing: 5 per enrollment, then refusals.
    assert hashed["calls"] == 20 * 5
    assert outcomes[Outcome.locked] == 10_000 - 20 * 4
    assert count(AuditEvent, AuditEvent.action == "activation_attempt") == 10_000
