"""Register Patient with siblings in AppTest: the siblings listed (an Active one shown, not
offered), two children in one submit, one email, one family letter with both PINs."""

from __future__ import annotations

import uuid

from sqlmodel import select

from models import Enrollment, EnrollmentStatus, OutboxMessage, PatientGuardian
from tests.factories import make_patient
from tests.pages.helpers import texts
from tests.pages.test_register import clinic, complete, key, open_register  # noqa: F401


def test_two_siblings_registered_in_one_submit(session, clinic):  # noqa: F811
    practice, guardian = clinic["practice"], clinic["guardian"]
    brother = make_patient(session, practice, first_name="Minh", last_name="Nguyễn")
    sister = make_patient(session, practice, first_name="Thu", last_name="Nguyễn")
    session.add(PatientGuardian(patient_id=brother.id, guardian_id=guardian.id))
    session.add(PatientGuardian(patient_id=sister.id, guardian_id=guardian.id))
    session.add(Enrollment(practice_id=practice.id, patient_id=sister.id,
                           status=EnrollmentStatus.active, link_token=uuid.uuid4().hex))
    session.commit()
    at = open_register(clinic, appointment=clinic["appointment"].id)
    assert not at.exception, at.exception
    boxes = [box for box in at.checkbox if box.key == key(clinic, f"sibling_{brother.id}")]
    assert len(boxes) == 1 and "Minh Nguyễn" in boxes[0].label
    assert not [box for box in at.checkbox if box.key == key(clinic, f"sibling_{sister.id}")]
    assert "Thu Nguyễn" in texts(at) and "Active" in texts(at)
    boxes[0].check().run()
    complete(at, clinic)
    assert not at.exception, at.exception
    shown = texts(at)
    assert "Registered together: Zoë Nguyễn, Minh Nguyễn" in shown
    session.expire_all()
    live = session.exec(select(Enrollment.patient_id).where(
        Enrollment.status == EnrollmentStatus.invited)).all()
    assert sorted(live) == sorted([clinic["patient"].id, brother.id])
    [message] = session.exec(select(OutboxMessage)).all()
    assert "Minh Nguyễn" in message.body_text and "Zoë Nguyễn" in message.body_text
    session.commit()
    [download] = at.get("download_button")
    assert download.label == "Print PIN"  # the family letter (read back in test_family.py)
    pins = [line.split("`")[1] for line in shown.splitlines() if "PIN `" in line]
    assert len(pins) == 2
