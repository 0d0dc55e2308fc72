"""What a parent's registration and a patient's own invitation share: the practice and patient
(refused across practices), the practice's today, the voiding of a live invitation, a raced
insert refused by name, and the letter headed with the practice's details."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlmodel import select

from models import AuditEvent, Enrollment, EnrollmentStatus
from services.errors import Conflict, NotFound
from services.invitation_setup import (
    insert_enrollment,
    practice_letter,
    start_invitation,
    void_enrollment,
)
from services.senders import Senders
from tests.factories import make_enrollment, make_patient, make_practice

LATE_EVENING = dt.datetime(2030, 3, 2, 3, 30, tzinfo=dt.UTC)  # 10:30 pm on March 1 in New York


def start(session, practice, patient, now=LATE_EVENING):
    return start_invitation(session, practice_id=practice.id, patient_id=patient.id,
                            settings=None, senders=Senders(), now=now)


def test_the_practice_and_patient_are_found_and_today_is_the_practices(session):
    practice = make_practice(session, name="Sunny Peds", timezone="America/New_York",
                             phone="(555) 010-2000", address="1 Main Street")
    patient = make_patient(session, practice, first_name="Ava", last_name="Smith")

    setup = start(session, practice, patient)

    assert setup.patient_name == "Ava Smith"
    assert setup.today == dt.date(2030, 3, 1)
    assert setup.local_date(LATE_EVENING + dt.timedelta(hours=2)) == dt.date(2030, 3, 2)
    letter = practice_letter(setup, date_of_birth_hint=True, activation_url="https://x.example",
                             expires_on=None, pin="7KQ4M-9TXR2")
    assert (letter.practice_name, letter.practice_phone, letter.practice_address) == (
        "Sunny Peds", "(555) 010-2000", "1 Main Street")
    assert (letter.patient_name, letter.issued_on) == ("Ava Smith", dt.date(2030, 3, 1))


def test_another_practices_patient_or_no_practice_is_not_found(session):
    ours, theirs = make_practice(session), make_practice(session)
    patient = make_patient(session, theirs)

    with pytest.raises(NotFound):
        start(session, ours, patient)
    with pytest.raises(NotFound, match="practice does not exist"):
        start_invitation(session, practice_id=ours.id + theirs.id + 1000, patient_id=patient.id,
                         settings=None, senders=Senders(), now=LATE_EVENING)


def test_voiding_clears_the_secret_and_is_audited_once(session):
    practice = make_practice(session)
    live = make_enrollment(session, practice)
    session.commit()

    void_enrollment(session, live=live, now=LATE_EVENING, actor="desk1", reason="new PIN issued")
    session.expire_all()

    row = session.get(Enrollment, live.id)
    assert (row.status, row.secret_hash) == (EnrollmentStatus.voided, None)
    events = session.exec(select(AuditEvent.action).where(
        AuditEvent.patient_id == live.patient_id)).all()
    assert events == ["pin_voided"]


def test_voiding_what_another_desk_changed_meanwhile_is_refused(session):
    practice = make_practice(session)
    live = make_enrollment(session, practice)
    session.commit()
    session.exec(update(Enrollment).where(Enrollment.id == live.id)
                 .values(status=EnrollmentStatus.declined)
                 .execution_options(synchronize_session=False))  # `live` still reads invited

    with pytest.raises(Conflict, match="changed this patient's portal invitation"):
        void_enrollment(session, live=live, now=LATE_EVENING, actor="desk1", reason="again")

def test_a_second_live_invitation_is_refused_with_the_given_words(session):
    practice = make_practice(session)
    first = make_enrollment(session, practice)
    session.commit()
    second = Enrollment(practice_id=practice.id, patient_id=first.patient_id,
                        guardian_id=first.guardian_id, secret_hash="x", link_token="another",
                        issued_at=LATE_EVENING, expires_at=LATE_EVENING)

    with pytest.raises(Conflict, match="^Ava was registered just now") as refused:
        insert_enrollment(session, second, raced="Ava was registered just now.", field="Submit")
    assert refused.value.field == "Submit"
