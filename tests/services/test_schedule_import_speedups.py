"""Schedule import shortcuts: a phone number spaced differently is parsed once, the cycle
collector is paused only while an import runs, and the bulk writes keep ids and links."""

from __future__ import annotations

import datetime as dt
import gc

import pytest
from sqlmodel import select

from models import Appointment, Guardian, Patient, PatientGuardian
from services import schedule_import, validation
from services.errors import InvalidInput
from services.schedule_import import checks
from services.schedule_import.checks import Checker
from tests.factories import make_guardian, make_location, make_patient, make_practice, make_provider
from tests.services.test_schedule_import import HEADER, TODAY, _csv, _row


@pytest.fixture
def practice(session):
    practice = make_practice(session, name="Sunny Peds", timezone="America/New_York")
    make_provider(session, practice, name="Dr. Ada Lee")
    make_location(session, practice, name="Main Street")
    return practice


def _import(session, practice, data: bytes, **options):
    options.setdefault("today", TODAY)
    return schedule_import.import_schedule(session, practice_id=practice.id, data=data,
                                           filename="schedule.csv", actor="boss", **options)


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """The raw numbers the importer hands to the phone check, in order."""
    seen: list[str] = []

    def counted(value, **options):
        seen.append(value)
        return validation.normalize_phone(value, **options)

    monkeypatch.setattr(checks, "normalize_phone", counted)
    return seen


# --- phone numbers -------------------------------------------------------------------------------


def test_one_number_spaced_three_ways_is_parsed_once(parses):
    checker = Checker(timezone="America/New_York", region="US")
    raws = {"(617) 555-0142", "617.555.0142", "6175550142"}
    checked = checker.check_phones(raws, set())
    assert checked == dict.fromkeys(raws, "+16175550142")
    assert len(parses) == 1


def test_letters_a_plus_or_a_leading_one_get_their_own_check(parses):
    checker = Checker(timezone="America/New_York", region="US")
    checked = checker.check_phones(
        {"617-555-0142", "617-555-0142 x2", "+617 555 0142", "1 617 555 0142"}, set())
    assert checked["617-555-0142"] == checked["1 617 555 0142"] == "+16175550142"
    assert checked["617-555-0142 x2"] == "+16175550142"  # the extension is dropped
    assert isinstance(checked["+617 555 0142"], InvalidInput)  # 617 is not a country code
    assert sorted(parses) == sorted(checked)


def test_a_bad_number_spaced_two_ways_is_quoted_as_each_row_wrote_it(parses):
    checker = Checker(timezone="America/New_York", region="US")
    checked = checker.check_phones({"555-12", "555 12"}, set())
    assert "“555-12” has too few digits" in checked["555-12"].message
    assert "“555 12” has too few digits" in checked["555 12"].message
    assert len(parses) == 2


def test_two_rows_with_one_parent_phone_written_differently(session, practice, parses):
    rows = [_row(),
            _row(**{"Appointment ID": "A-2", "Guardian Cell Phone": "617.555.0142"})]
    report = _import(session, practice, _csv(rows))
    assert (report.created, report.rejected, report.guardians_created) == (2, [], 1)
    (maria,) = session.exec(select(Guardian)).all()
    assert maria.cell_phone == "+16175550142"
    assert len(parses) == 1


# --- the cycle collector -------------------------------------------------------------------------


def test_the_collector_is_off_during_an_import_and_on_after(session, practice):
    during = []
    _import(session, practice, _csv([_row()]),
            progress=lambda _fraction, _message: during.append(gc.isenabled()))
    assert during and not any(during)
    assert gc.isenabled()


def test_the_collector_is_on_again_after_a_refused_file(session, practice):
    with pytest.raises(InvalidInput):
        _import(session, practice, b"MRN,Name\n")
    assert gc.isenabled()


def test_a_collector_turned_off_elsewhere_stays_off(session, practice):
    gc.disable()
    try:
        _import(session, practice, _csv([_row()]))
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- bulk writes ---------------------------------------------------------------------------------


def test_new_rows_follow_the_ids_on_file_and_link_to_their_own_patients(session, practice):
    earlier = make_patient(session, practice, mrn="M-1")
    make_guardian(session, practice, patients=[earlier], email="earlier@example.com")
    rows = [_row(**{"MRN": f"M-{n}", "Appointment ID": f"A-{n}",
                    "Appointment Time": f"{9 + n % 3}:00 AM",
                    "Guardian First Name": f"Parent{n}", "Guardian Email": f"p{n}@example.com",
                    "Guardian Cell Phone": f"(617) 555-01{n:02d}"})
            for n in range(2, 8)]
    report = _import(session, practice, _csv(rows, HEADER))
    assert (report.created, report.patients_created, report.guardians_created) == (6, 6, 6)
    patients = session.exec(select(Patient).order_by(Patient.id)).all()
    assert [p.mrn for p in patients][0] == "M-1"
    assert len({p.id for p in patients}) == 7
    for n in range(2, 8):
        patient = next(p for p in patients if p.mrn == f"M-{n}")
        (guardian,) = session.exec(select(Guardian).join(PatientGuardian).where(
            PatientGuardian.patient_id == patient.id)).all()
        assert (guardian.first_name, guardian.email, guardian.cell_phone,
                guardian.relationship, guardian.preferred_language) == (
            f"Parent{n}", f"p{n}@example.com", f"+16175550{100 + n}", "Mother", "en")
        appointment = session.exec(select(Appointment).where(
            Appointment.source_id == f"A-{n}")).one()
        assert appointment.patient_id == patient.id
        assert appointment.start_at == dt.datetime(2030, 3, 14, 13 + n % 3, tzinfo=dt.UTC)
    again = _import(session, practice, _csv(rows, HEADER))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 6)
