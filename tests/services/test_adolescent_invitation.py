"""Adolescents: the access level each enrollment records (11/12/17/18 with an injected today),
the patient's own invitation (assent with who and when, refused without it; the young adult
without), a parent and a patient invitation live side by side (still one of each), the
patient's own activation, and the limited-account words on the activation page and the letter
(English and Spanish, read back with pypdf)."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from pypdf import PdfReader
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select

from models import (
    AuditEvent,
    Enrollment,
    EnrollmentRecipient,
    EnrollmentStatus,
    OutboxMessage,
    Patient,
    PortalAccount,
)
from services import registration
from services.activation import Outcome, activate_account, describe_link
from services.adolescent_invitation import (
    ASSENT,
    EMAIL,
    PatientInvitationForm,
    invite_patient,
)
from services.adolescents import AccessLevel
from services.db import session_scope
from services.errors import Conflict, InvalidInput
from services.letters import render_pin_letter
from services.registration_form import RegistrationForm
from services.senders import Senders
from services.status import PortalStatus, derive_status
from tests.factories import make_guardian, make_patient, make_practice, make_user

NOW = dt.datetime(2030, 9, 15, 16, 0, tzinfo=dt.UTC)  # noon in New York
TODAY = dt.date(2030, 9, 15)
HELD = Senders()
PASSWORD = "tulip orchard sunrise 42"


def born(age: int) -> dt.date:
    return TODAY.replace(year=TODAY.year - age)


@pytest.fixture
def clinic(session):
    practice = make_practice(session, name="Sunny Peds", portal_url="https://portal.sunny.example",
                             timezone="America/New_York", phone="(555) 010-2000")
    staff = make_user(session, practices=[practice], username="frontdesk")
    session.commit()
    return {"practice": practice, "staff": staff}


def patient_aged(session, clinic, age: int, *, language: str = "en"):
    patient = make_patient(session, clinic["practice"], first_name="Maya", last_name="Ortiz",
                           date_of_birth=born(age))
    guardian = make_guardian(session, clinic["practice"], patients=[patient],
                             email=f"parent{patient.id}@example.com", preferred_language=language)
    session.commit()
    return patient, guardian


def register_parent(clinic, patient, guardian, *, language=None):
    with session_scope() as session:
        return registration.register_patient(
            session, practice_id=clinic["practice"].id, patient_id=patient.id,
            form=RegistrationForm(email=guardian.email, guardian_id=guardian.id,
                                  preferred_language=language),
            actor="frontdesk", staff_user_id=clinic["staff"].id, senders=HELD, now=NOW)


def invite(clinic, patient, *, email="maya@example.com", assent=True, now=NOW, **changes):
    with session_scope() as session:
        return invite_patient(
            session, practice_id=clinic["practice"].id, patient_id=patient.id,
            form=PatientInvitationForm(email=email, assent=assent, **changes),
            actor="frontdesk", staff_user_id=clinic["staff"].id, senders=HELD, now=now)


def activate(enrollment_id, pin, date_of_birth, *, email="maya@example.com", language="en"):
    with session_scope() as session:
        enrollment = session.get(Enrollment, enrollment_id)
        return activate_account(
            session, practice_id=enrollment.practice_id, link_token=enrollment.link_token,
            client_key="ip:203.0.113.9", email=email, password=PASSWORD,
            repeat_password=PASSWORD, pin=pin, date_of_birth=date_of_birth, now=NOW,
            language=language)


def events(session, patient_id, action):
    return [json.loads(detail) for detail in session.exec(
        select(AuditEvent.detail).where(AuditEvent.patient_id == patient_id,
                                        AuditEvent.action == action))]


# --- the level recorded on the parent's enrollment -------------------------------------------


@pytest.mark.parametrize(("age", "level"), [(11, "Full"), (12, "Limited"), (17, "Limited")])
def test_registration_records_the_access_level_of_that_day(session, clinic, age, level):
    patient, guardian = patient_aged(session, clinic, age)
    result = register_parent(clinic, patient, guardian)
    with session_scope(read_only=True) as check:
        assert check.get(Enrollment, result.enrollment_id).access_level == level
        assert events(check, patient.id, "registration")[0]["access_level"] == level
    assert result.letter.limited == (level == "Limited")


def test_the_day_before_the_twelfth_birthday_is_still_full(session, clinic):
    patient, guardian = patient_aged(session, clinic, 12)
    with session_scope() as s:
        s.get(Patient, patient.id).date_of_birth = born(12) + dt.timedelta(days=1)
    result = register_parent(clinic, patient, guardian)
    with session_scope(read_only=True) as check:
        assert check.get(Enrollment, result.enrollment_id).access_level == "Full"


def test_a_parent_cannot_be_registered_at_the_minor_age_limit(session, clinic):
    patient, guardian = patient_aged(session, clinic, 18)
    with pytest.raises(Conflict, match="own name"):
        register_parent(clinic, patient, guardian)
    with session_scope(read_only=True) as check:
        assert check.exec(select(func.count()).select_from(Enrollment)).one() == 0


# --- the patient's own invitation ------------------------------------------------------------


def test_adolescent_invitation_records_assent_with_who_and_when(session, clinic):
    patient, _ = patient_aged(session, clinic, 14)
    result = invite(clinic, patient)
    assert result.access_level == AccessLevel.adolescent and result.pin
    with session_scope(read_only=True) as check:
        row = check.get(Enrollment, result.enrollment_id)
        assert row.recipient == EnrollmentRecipient.patient and row.guardian_id is None
        assert row.access_level == "Adolescent" and row.email == "maya@example.com"
        assert row.assent_by_id == clinic["staff"].id and row.assent_at == NOW
        assent = events(check, patient.id, "assent_recorded")
        assert assent == [{"enrollment_id": row.id, "staff_user_id": clinic["staff"].id,
                           "at": NOW.isoformat()}]
        assert events(check, patient.id, "patient_invited")[0]["access_level"] == "Adolescent"
        message = check.exec(select(OutboxMessage)).one()
        assert message.recipient == "maya@example.com" and message.enrollment_id == row.id


def test_adolescent_invitation_without_assent_writes_nothing(session, clinic):
    patient, _ = patient_aged(session, clinic, 14)
    with pytest.raises(InvalidInput) as refused:
        invite(clinic, patient, assent=False)
    assert refused.value.field == ASSENT
    with pytest.raises(InvalidInput) as no_address:
        invite(clinic, patient, email="")
    assert no_address.value.field == EMAIL
    with session_scope(read_only=True) as check:
        assert check.exec(select(func.count()).select_from(Enrollment)).one() == 0
        assert check.exec(select(func.count()).select_from(AuditEvent)).one() == 0


def test_under_the_confidential_age_the_patient_is_not_invited(session, clinic):
    patient, _ = patient_aged(session, clinic, 11)
    with pytest.raises(Conflict, match="Confidential age"):
        invite(clinic, patient)


def test_young_adult_is_invited_in_their_own_name_without_assent(session, clinic):
    patient, _ = patient_aged(session, clinic, 18)
    result = invite(clinic, patient, assent=False)
    assert result.access_level == AccessLevel.young_adult
    with session_scope(read_only=True) as check:
        row = check.get(Enrollment, result.enrollment_id)
        assert row.access_level == "Young adult" and row.assent_at is None
        assert events(check, patient.id, "assent_recorded") == []
    reader = PdfReader(io.BytesIO(render_pin_letter(result.letter)))
    text = " ".join(reader.pages[0].extract_text().split())
    assert "in your own name" in text and "your date of birth" in text


def test_a_parent_and_a_patient_invitation_live_side_by_side_one_of_each(session, clinic):
    patient, guardian = patient_aged(session, clinic, 15)
    parent = register_parent(clinic, patient, guardian)
    own = invite(clinic, patient)
    with session_scope(read_only=True) as check:
        live = check.exec(select(Enrollment.recipient).where(
            Enrollment.patient_id == patient.id,
            Enrollment.status != EnrollmentStatus.voided)).all()
        assert sorted(live) == ["Parent", "Patient"]
        # The patient row copies the newest live one while neither is active.
        assert check.get(Patient, patient.id).live_enrollment_id == own.enrollment_id
    with pytest.raises(Conflict):  # a second parent invitation is still refused
        register_parent(clinic, patient, guardian)
    with pytest.raises(IntegrityError), session_scope() as s:  # and the database says so too
        s.add(Enrollment(practice_id=clinic["practice"].id, patient_id=patient.id,
                         recipient=EnrollmentRecipient.patient, link_token="x" * 20))
        s.flush()
    again = invite(clinic, patient)  # inviting the patient again voids their unused PIN
    with session_scope(read_only=True) as check:
        assert check.get(Enrollment, own.enrollment_id).status == EnrollmentStatus.voided
        assert check.get(Enrollment, parent.enrollment_id).status == EnrollmentStatus.invited
        assert check.get(Patient, patient.id).live_enrollment_id == again.enrollment_id


def test_the_adolescent_activates_their_own_account(session, clinic):
    patient, guardian = patient_aged(session, clinic, 14)
    parent = register_parent(clinic, patient, guardian)
    own = invite(clinic, patient)
    with session_scope(read_only=True) as check:
        link = describe_link(check, practice_id=clinic["practice"].id,
                             link_token=check.get(Enrollment, own.enrollment_id).link_token,
                             now=NOW)
    assert link.own_account and link.refusal is None
    wrong = activate(own.enrollment_id, own.pin, born(13))
    assert wrong.outcome == Outcome.wrong_secret
    result = activate(own.enrollment_id, own.pin, patient.date_of_birth)
    assert result.activated and "your own records" in result.message
    with session_scope(read_only=True) as check:
        account = check.exec(select(PortalAccount)).one()
        assert account.patient_id == patient.id and account.guardian_id is None
        # Dashboard badge: Active (someone has access), though the parent has not activated.
        row = check.get(Patient, patient.id)
        assert row.live_enrollment_id == own.enrollment_id
        assert derive_status(row.live_enrollment_status, row.live_enrollment_expires_at,
                             now=NOW) == PortalStatus.active
        assert check.get(Enrollment, parent.enrollment_id).status == EnrollmentStatus.invited
        attempt = events(check, patient.id, "activation_attempt")[-1]
        assert attempt["recipient"] == "Patient" and attempt["access_level"] == "Adolescent"
    with pytest.raises(Conflict, match="own"):
        invite(clinic, patient)


def test_the_young_adult_activates_past_the_parents_age_limit(session, clinic):
    patient, _ = patient_aged(session, clinic, 19)
    own = invite(clinic, patient, assent=False)
    result = activate(own.enrollment_id, own.pin, patient.date_of_birth)
    assert result.activated


# --- the limited account in words ----------------------------------------------------------


@pytest.mark.parametrize(("language", "words"), [
    ("en", "This is a limited account"), ("es", "Esta es una cuenta limitada")])
def test_limited_account_words_on_activation_and_letter(session, clinic, language, words):
    patient, guardian = patient_aged(session, clinic, 13, language=language)
    result = register_parent(clinic, patient, guardian, language=language)
    reader = PdfReader(io.BytesIO(render_pin_letter(result.letter)))
    assert words in " ".join(reader.pages[0].extract_text().split())
    activated = activate(result.enrollment_id, result.pin, patient.date_of_birth,
                         email=guardian.email, language=language)
    assert activated.activated and words in activated.message


def test_a_full_account_letter_says_nothing_of_limits(session, clinic):
    patient, guardian = patient_aged(session, clinic, 8)
    result = register_parent(clinic, patient, guardian)
    reader = PdfReader(io.BytesIO(render_pin_letter(result.letter)))
    assert "limited" not in reader.pages[0].extract_text()
    assert "limited" not in activate(result.enrollment_id, result.pin, patient.date_of_birth,
                                     email=guardian.email).message
