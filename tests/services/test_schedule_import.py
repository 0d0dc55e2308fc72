"""Schedule import: CSV with mapping and validation, idempotent upserts, FHIR bundles."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from sqlmodel import func, select

from models import (
    Appointment,
    AuditEvent,
    Guardian,
    ImportMapping,
    Location,
    Patient,
    PatientGuardian,
    Provider,
)
from services import schedule_import
from services.errors import Conflict, InvalidInput
from services.settings import get_settings
from tests.factories import make_guardian, make_location, make_patient, make_practice, make_provider

BUNDLE = Path(__file__).resolve().parents[1] / "fixtures" / "schedule_bundle.json"
HEADER = ["MRN", "Patient First Name", "Patient Last Name", "Date of Birth", "Appointment ID",
          "Appointment Date", "Appointment Time", "Provider", "Location", "Visit Type",
          "Status", "Guardian First Name", "Guardian Last Name", "Relationship",
          "Guardian Email", "Guardian Cell Phone"]
TODAY = dt.date(2030, 3, 1)


def _row(**changes) -> dict:
    row = {
        "MRN": "M-100", "Patient First Name": "Sofia", "Patient Last Name": "Rivera",
        "Date of Birth": "05/02/2019", "Appointment ID": "A-1",
        "Appointment Date": "03/14/2030", "Appointment Time": "9:30 AM",
        "Provider": "Dr. Ada Lee", "Location": "Main Street", "Visit Type": "Well Child",
        "Status": "Booked", "Guardian First Name": "Maria", "Guardian Last Name": "Rivera",
        "Relationship": "Mother", "Guardian Email": "Maria.Rivera@Example.com",
        "Guardian Cell Phone": "(617) 555-0142",
    }
    row.update(changes)
    return row


def _csv(rows: list[dict], header: list[str] = HEADER, delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, delimiter=delimiter,
                            extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


SCHEDULE = [
    _row(),
    _row(**{"Appointment ID": "A-2", "Appointment Date": "2030-03-20",
            "Appointment Time": "14:00", "Status": "", "Visit Type": "Sick Visit"}),
    _row(**{"MRN": "M-200", "Patient First Name": "Theo", "Patient Last Name": "Okafor",
            "Date of Birth": "2016-11-20", "Appointment ID": "A-3", "Status": "No Show",
            "Guardian First Name": "", "Guardian Last Name": "", "Relationship": "",
            "Guardian Email": "", "Guardian Cell Phone": ""}),
]


@pytest.fixture
def practice(session):
    practice = make_practice(session, name="Sunny Peds", timezone="America/New_York")
    make_provider(session, practice, name="Dr. Ada Lee")
    make_location(session, practice, name="Main Street")
    return practice


def _import(session, practice, data: bytes, filename: str = "schedule.csv", **options):
    options.setdefault("today", TODAY)
    return schedule_import.import_schedule(session, practice_id=practice.id, data=data,
                                           filename=filename, actor="boss", **options)


def _count(session, table, practice=None) -> int:
    query = select(func.count()).select_from(table)
    if practice is not None:
        query = query.where(table.practice_id == practice.id)
    return session.exec(query).one()


def _appointment(session, source_id: str) -> Appointment:
    return session.exec(select(Appointment).where(Appointment.source_id == source_id)).one()


# --- the happy path ------------------------------------------------------------------------------


def test_a_schedule_csv_creates_patients_appointments_and_guardians(session, practice):
    report = _import(session, practice, _csv(SCHEDULE))
    assert report.committed
    assert (report.rows, report.created, report.updated, report.unchanged) == (3, 3, 0, 0)
    assert report.rejected == []
    assert (report.patients_created, report.guardians_created) == (2, 1)
    first = _appointment(session, "A-1")
    # 9:30 in New York on 14 March 2030 (daylight saving time) is 13:30 UTC.
    assert first.start_at == dt.datetime(2030, 3, 14, 13, 30, tzinfo=dt.UTC)
    assert (first.visit_type, first.status) == ("Well Child", "scheduled")
    assert _appointment(session, "A-2").start_at == dt.datetime(2030, 3, 20, 18, 0,
                                                                tzinfo=dt.UTC)
    assert _appointment(session, "A-3").status == "no_show"
    sofia = session.exec(select(Patient).where(Patient.mrn == "M-100")).one()
    assert (sofia.first_name, sofia.date_of_birth) == ("Sofia", dt.date(2019, 5, 2))
    (maria,) = session.exec(
        select(Guardian).join(PatientGuardian).where(PatientGuardian.patient_id == sofia.id)
    ).all()
    assert (maria.email, maria.cell_phone, maria.relationship) == (
        "Maria.Rivera@example.com", "+16175550142", "Mother")
    (event,) = session.exec(select(AuditEvent).where(
        AuditEvent.action == "schedule_imported")).all()
    assert json.loads(event.detail)["created"] == 3
    assert event.practice_id == practice.id and event.actor == "boss"


def test_report_csv_lists_every_row_with_its_outcome(session, practice):
    report = _import(session, practice, _csv(SCHEDULE))
    lines = list(csv.reader(io.StringIO(schedule_import.report_csv(report).decode("utf-8-sig"))))
    assert lines[0] == ["Row", "Appointment ID", "Outcome", "Reason"]
    assert lines[1:] == [["2", "A-1", "created", ""], ["3", "A-2", "created", ""],
                         ["4", "A-3", "created", ""]]


def test_progress_runs_from_zero_to_one(session, practice):
    seen = []
    _import(session, practice, _csv(SCHEDULE), progress=lambda f, m: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert seen == sorted(seen)


def test_a_semicolon_file_with_a_byte_order_mark_is_read(session, practice):
    data = b"\xef\xbb\xbf" + _csv(SCHEDULE, delimiter=";")
    report = _import(session, practice, data)
    assert report.created == 3


def test_one_column_may_hold_the_date_and_the_time(session, practice):
    header = [h for h in HEADER if h not in ("Appointment Date", "Appointment Time")]
    header.append("Appointment Start")
    rows = [_row(**{"Appointment Start": "2030-03-14 09:30"}),
            _row(**{"Appointment ID": "A-2", "Appointment Start": "03/15/2030 2:00 PM"}),
            _row(**{"Appointment ID": "A-3", "Appointment Start": "2030-03-16T10:00:00Z"})]
    report = _import(session, practice, _csv(rows, header))
    assert report.created == 3, report.rejected
    assert _appointment(session, "A-1").start_at.hour == 13
    assert _appointment(session, "A-2").start_at == dt.datetime(2030, 3, 15, 18, 0,
                                                                tzinfo=dt.UTC)
    assert _appointment(session, "A-3").start_at.hour == 10


# --- mapping -------------------------------------------------------------------------------------

ODD_HEADER = ["Chart #", "Kid First", "Kid Last", "Born", "Visit No", "Day", "Slot", "Doc",
              "Site"]
ODD_MAPPING = {"mrn": "Chart #", "patient_first_name": "Kid First",
               "patient_last_name": "Kid Last", "date_of_birth": "Born",
               "source_id": "Visit No", "appointment_date": "Day", "appointment_time": "Slot",
               "provider": "Doc", "location": "Site"}


def _odd_csv() -> bytes:
    return _csv([{"Chart #": "M-9", "Kid First": "Ivy", "Kid Last": "Chen", "Born": "2020-01-02",
                  "Visit No": "V-1", "Day": "2030-03-14", "Slot": "08:15", "Doc": "Dr. Ada Lee",
                  "Site": "Main Street"}], ODD_HEADER)


def test_standard_headers_are_mapped_without_help():
    mapping = schedule_import.suggest_mapping(HEADER)
    assert mapping["mrn"] == "MRN"
    assert mapping["date_of_birth"] == "Date of Birth"
    assert mapping["guardian_email"] == "Guardian Email"
    assert mapping["guardian_phone"] == "Guardian Cell Phone"
    assert mapping["guardian_relationship"] == "Relationship"


def test_unmapped_required_fields_are_named(session, practice):
    with pytest.raises(InvalidInput) as error:
        _import(session, practice, _odd_csv())
    for label in ("Patient first name", "Date of birth", "Appointment ID", "Provider"):
        assert label in error.value.message
    assert "MRN," not in error.value.message  # "Chart #" was recognised as the MRN
    assert "Chart #" in error.value.message  # the file's columns are listed to choose from


def test_a_mapping_is_saved_and_used_for_the_next_file(session, practice):
    report = _import(session, practice, _odd_csv(), mapping=ODD_MAPPING)
    assert report.created == 1
    saved = session.exec(select(ImportMapping)).one()
    assert json.loads(saved.mapping_json) == ODD_MAPPING
    setup = schedule_import.prepare_import(session, practice_id=practice.id, data=_odd_csv(),
                                           filename="next.csv")
    assert setup.saved_mapping and setup.mapping["mrn"] == "Chart #"
    assert setup.rows == 1
    again = _import(session, practice, _odd_csv())  # no mapping given: the saved one
    assert again.unchanged == 1


def test_the_saved_mapping_belongs_to_one_practice(session, practice):
    _import(session, practice, _odd_csv(), mapping=ODD_MAPPING)
    other = make_practice(session)
    assert schedule_import.load_mapping(session, practice_id=other.id) is None


def test_a_guardian_email_without_guardian_names_is_a_mapping_problem(session, practice):
    header = [h for h in HEADER if h not in ("Guardian First Name", "Guardian Last Name")]
    with pytest.raises(InvalidInput) as error:
        _import(session, practice, _csv(SCHEDULE, header))
    assert "Guardian first name (needed with Guardian relationship and Guardian email and " \
        "Guardian cell phone)" in error.value.message


def test_a_mapped_column_missing_from_the_file_is_named(session, practice):
    mapping = schedule_import.suggest_mapping(HEADER) | {"visit_type": "Reason For Visit"}
    with pytest.raises(InvalidInput, match="Missing columns: “Reason For Visit”"):
        _import(session, practice, _csv(SCHEDULE), mapping=mapping)


def test_one_column_for_two_fields_is_refused(session, practice):
    mapping = schedule_import.suggest_mapping(HEADER) | {"patient_last_name": "Patient First Name"}
    with pytest.raises(InvalidInput, match="both Patient first name and Patient last name"):
        _import(session, practice, _csv(SCHEDULE), mapping=mapping)


def test_preview_shows_mapped_values_and_each_rows_problem():
    rows = [_row(), _row(**{"Appointment ID": "A-2", "Date of Birth": "31/31/2019"})]
    preview = schedule_import.preview_csv(_csv(rows),
                                          mapping=schedule_import.suggest_mapping(HEADER),
                                          timezone="America/New_York")
    assert list(preview["Row"]) == [2, 3]
    assert list(preview["MRN"]) == ["M-100", "M-100"]
    assert preview["Problem"][0] == ""
    assert "Date of birth “31/31/2019” is not a date" in preview["Problem"][1]


# --- bad rows ------------------------------------------------------------------------------------

BAD_ROWS = [
    ({"Appointment Date": "14.03.2030"}, "Appointment date “14.03.2030” is not a date"),
    ({"Appointment Date": ""}, "Appointment date is empty"),
    ({"Appointment Time": "25:61"}, "Appointment time “25:61” is not a time"),
    ({"Date of Birth": "02/30/2019"}, "Date of birth “02/30/2019” is not a date"),
    ({"Date of Birth": "2031-01-01"}, "Date of birth “2031-01-01” is in the future"),
    ({"Patient First Name": ""}, "Patient first name is empty"),
    ({"Patient Last Name": "#####"}, "Patient last name “#####” is not a name"),
    ({"Patient First Name": "Sof\x07ia"}, "Patient first name holds control characters"),
    ({"MRN": ""}, "MRN is empty"),
    ({"Appointment ID": ""}, "Appointment ID is empty"),
    ({"Provider": ""}, "Provider is empty"),
    ({"Guardian Email": "maria@"}, "Guardian email is not valid"),
    ({"Guardian Cell Phone": "555-12"}, "Guardian cell phone “555-12” has too few digits"),
    ({"Guardian First Name": ""}, "Guardian first name is empty"),
    ({"Status": "Maybe"}, "Status “Maybe” is not known"),
]


@pytest.mark.parametrize(("change", "reason"), BAD_ROWS,
                         ids=[reason.split(" is")[0] for _, reason in BAD_ROWS])
def test_each_kind_of_bad_row_is_rejected_with_its_row_and_field(session, practice, change,
                                                                  reason):
    rows = [SCHEDULE[0], _row(**{"Appointment ID": "A-9", **change})]
    report = _import(session, practice, _csv(rows))
    assert not report.committed
    (rejected,) = report.rejected
    assert rejected.row == 3
    assert reason in rejected.reason
    assert _count(session, Patient) == 0 and _count(session, Appointment) == 0


def test_a_garbage_row_with_the_wrong_number_of_values_is_rejected(session, practice):
    data = _csv(SCHEDULE) + b"this is not,a schedule row\n\x7f\x7f\n"
    report = _import(session, practice, data, keep_valid=True)
    assert [r.row for r in report.rejected] == [5, 6]
    assert "Row has 2 values but the header has 16 columns" in report.rejected[0].reason
    assert report.created == 3


def test_blank_lines_are_skipped_not_rejected(session, practice):
    data = _csv(SCHEDULE[:1]) + b"\n\n,,,,,,,,,,,,,,,\n"
    report = _import(session, practice, data)
    assert report.committed and report.rows == 1


def test_a_repeated_appointment_id_is_rejected(session, practice):
    report = _import(session, practice, _csv([SCHEDULE[0], SCHEDULE[0]]))
    assert report.rejected[0].row == 3
    assert "Appointment ID “A-1” already appears on row 2" in report.rejected[0].reason


def test_one_mrn_with_two_different_patients_is_rejected(session, practice):
    rows = [SCHEDULE[0], _row(**{"Appointment ID": "A-2", "Patient First Name": "Sophie"})]
    report = _import(session, practice, _csv(rows))
    assert "MRN “M-100” has a different name or date of birth on row 2" in \
        report.rejected[0].reason


# --- all or nothing ------------------------------------------------------------------------------


def test_a_file_with_a_bad_row_imports_nothing(session, practice):
    rows = [*SCHEDULE, _row(**{"MRN": "M-300", "Appointment ID": "A-4", "Provider": "Dr. New",
                               "Date of Birth": "not a date"})]
    report = _import(session, practice, _csv(rows), create_missing=True)
    assert not report.committed
    assert "Nothing was imported: 1 of 4 rows have problems" in report.summary
    assert report.summary.endswith("keep the valid rows to import the other 3.")
    assert (_count(session, Patient), _count(session, Appointment),
            _count(session, Guardian)) == (0, 0, 0)
    assert _count(session, Provider) == 1  # "Dr. New" was not created either
    assert _count(session, ImportMapping) == 0
    assert session.exec(select(AuditEvent)).all() == []
    outcomes = {line[0]: line[2] for line in report.outcomes}
    assert outcomes == {2: "not imported", 3: "not imported", 4: "not imported",
                        5: "rejected"}


def test_when_every_row_is_rejected_nothing_offers_to_import_the_other_0(session, practice):
    rows = [_row(**{"Date of Birth": "not a date"})]
    report = _import(session, practice, _csv(rows))
    assert "other 0" not in report.summary
    assert report.summary.endswith("Fix them in the file and import it again.")


def test_keep_valid_rows_imports_the_rest(session, practice):
    rows = [*SCHEDULE, _row(**{"MRN": "M-300", "Appointment ID": "A-4",
                               "Date of Birth": "not a date"})]
    report = _import(session, practice, _csv(rows), keep_valid=True)
    assert report.committed
    assert (report.created, len(report.rejected)) == (3, 1)
    assert "Imported 3 of 4 rows" in report.summary
    assert _count(session, Appointment) == 3
    assert session.exec(select(Patient).where(Patient.mrn == "M-300")).first() is None


def test_an_error_while_writing_leaves_nothing_half_written(database_url, practice, session,
                                                            monkeypatch):
    from services.db import session_scope

    session.commit()

    def fail(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(schedule_import.upsert, "upsert_appointments", fail)
    with pytest.raises(RuntimeError), session_scope() as other:
        schedule_import.import_schedule(other, practice_id=practice.id, data=_csv(SCHEDULE),
                                        filename="s.csv", actor="boss", today=TODAY)
    with session_scope(read_only=True) as check:
        assert _count(check, Patient) == 0 and _count(check, Guardian) == 0


# --- providers and locations ---------------------------------------------------------------------


def test_unknown_providers_and_locations_are_refused_by_default(session, practice):
    rows = [_row(**{"Provider": "Dr. Zed", "Location": "Annex"})]
    report = _import(session, practice, _csv(rows))
    (rejected,) = report.rejected
    assert "Provider “Dr. Zed” is not set up in this practice" in rejected.reason
    assert "Location “Annex” is not set up" in rejected.reason
    assert "Practice Settings" in rejected.reason


def test_unknown_providers_and_locations_can_be_created(session, practice):
    rows = [_row(**{"Provider": "Dr. Zed"}), _row(**{"Appointment ID": "A-2",
                                                     "Provider": "dr. zed",
                                                     "Location": "Annex"})]
    report = _import(session, practice, _csv(rows), create_missing=True)
    assert (report.providers_created, report.locations_created) == (["Dr. Zed"], ["Annex"])
    assert _count(session, Provider, practice) == 2 and _count(session, Location, practice) == 2
    assert _appointment(session, "A-1").provider_id == _appointment(session, "A-2").provider_id


def test_provider_names_match_without_regard_to_case(session, practice):
    report = _import(session, practice, _csv([_row(**{"Provider": "DR. ADA LEE"})]))
    assert report.created == 1 and _count(session, Provider) == 1


# --- idempotent upserts --------------------------------------------------------------------------


def test_importing_the_same_file_again_changes_nothing(session, practice):
    data = _csv(SCHEDULE)
    _import(session, practice, data)
    counts = [_count(session, t) for t in (Patient, Appointment, Guardian, PatientGuardian)]
    again = _import(session, practice, data)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert (again.patients_created, again.patients_updated, again.guardians_created,
            again.guardians_updated) == (0, 0, 0, 0)
    assert [_count(session, t) for t in (Patient, Appointment, Guardian,
                                         PatientGuardian)] == counts


def test_changed_rows_are_updated_in_place(session, practice):
    _import(session, practice, _csv(SCHEDULE))
    rows = copy.deepcopy(SCHEDULE)
    rows[1]["Appointment Time"] = "15:00"  # A-2 moves
    rows[2]["Patient Last Name"] = "Okafor-Reed"  # M-200's name corrected
    report = _import(session, practice, _csv(rows))
    assert (report.created, report.updated, report.unchanged) == (0, 2, 1)
    assert report.patients_updated == 1
    assert _appointment(session, "A-2").start_at.hour == 19
    assert session.exec(select(Patient.last_name).where(Patient.mrn == "M-200")).one() == \
        "Okafor-Reed"
    assert _count(session, Appointment) == 3


def test_a_clash_with_another_import_is_refused_as_a_conflict(session, practice, monkeypatch):
    _import(session, practice, _csv(SCHEDULE))
    session.commit()
    # Another import wrote these appointments after this one looked them up: the database's
    # unique key catches it (through COPY on PostgreSQL) and the import is refused whole.
    monkeypatch.setattr(schedule_import.upsert, "_stored_appointments",
                        lambda *_args: ({}, {}))
    with pytest.raises(Conflict, match="Another import or change"):
        _import(session, practice, _csv(SCHEDULE))


def test_a_file_without_status_keeps_the_status_on_file(session, practice):
    _import(session, practice, _csv(SCHEDULE))
    header = [h for h in HEADER if h != "Status"]
    report = _import(session, practice, _csv(SCHEDULE, header))
    assert report.unchanged == 3
    assert _appointment(session, "A-3").status == "no_show"


def test_an_import_saying_booked_keeps_the_desks_arrived(session, practice):
    from services.arrivals import mark_arrived

    _import(session, practice, _csv(SCHEDULE))
    for source_id in ("A-1", "A-2"):
        mark_arrived(session, practice_id=practice.id,
                     appointment_id=_appointment(session, source_id).id, actor="desk")
    session.commit()
    rows = copy.deepcopy(SCHEDULE)
    rows[1]["Status"] = "Booked"  # A-2 said nothing before; now it says Booked
    rows[1]["Appointment Time"] = "15:00"  # and moves: the time still applies
    report = _import(session, practice, _csv(rows))
    session.expire_all()
    assert _appointment(session, "A-1").status == "arrived"
    assert _appointment(session, "A-2").status == "arrived"
    assert _appointment(session, "A-2").start_at.hour == 19
    assert report.arrived_kept == 2
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    assert ("2 visits the desk marked Arrived stay Arrived (the file still says Booked)."
            in report.summary)
    assert "Kept Arrived" in schedule_import.report_csv(report).decode("utf-8-sig")


def test_completed_cancelled_and_no_show_from_the_file_replace_arrived(session, practice):
    from services.arrivals import mark_arrived

    rows = [_row(**{"Appointment ID": f"A-{n}"}) for n in range(1, 5)]
    _import(session, practice, _csv(rows))
    for row in rows:
        mark_arrived(session, practice_id=practice.id,
                     appointment_id=_appointment(session, row["Appointment ID"]).id,
                     actor="desk")
    session.commit()
    for row, status in zip(rows, ("Completed", "Cancelled", "No Show", "Checked in"),
                           strict=True):
        row["Status"] = status
    report = _import(session, practice, _csv(rows))
    session.expire_all()
    assert [_appointment(session, f"A-{n}").status for n in range(1, 5)] == [
        "completed", "cancelled", "no_show", "arrived"]
    assert report.arrived_kept == 0
    assert "stay Arrived" not in report.summary


def test_guardians_are_matched_per_patient_by_email_or_name(session, practice):
    sofia = make_patient(session, practice, mrn="M-100", first_name="Sofia",
                         last_name="Rivera", date_of_birth=dt.date(2019, 5, 2))
    by_email = make_guardian(session, practice, patients=[sofia], first_name="Maria",
                             last_name="Rivera-Diaz", email="maria.rivera@example.com",
                             cell_phone="+16175550100")
    theo = make_patient(session, practice, mrn="M-200", first_name="Theo", last_name="Okafor",
                        date_of_birth=dt.date(2016, 11, 20))
    by_name = make_guardian(session, practice, patients=[theo], first_name="Grace",
                            last_name="Okafor", email="old@example.com")
    # Another patient's guardian with Maria's email is not Sofia's guardian.
    make_guardian(session, practice, patients=[make_patient(session, practice)],
                  first_name="Maria", last_name="Rivera", email="Maria.Rivera@example.com")
    rows = [_row(), _row(**{"MRN": "M-200", "Patient First Name": "Theo",
                            "Patient Last Name": "Okafor", "Date of Birth": "2016-11-20",
                            "Appointment ID": "A-3", "Guardian First Name": "Grace",
                            "Guardian Last Name": "Okafor",
                            "Guardian Email": "grace@example.com",
                            "Guardian Cell Phone": ""})]
    report = _import(session, practice, _csv(rows))
    assert (report.guardians_created, report.guardians_updated) == (0, 2)
    session.refresh(by_email)
    session.refresh(by_name)
    assert by_email.cell_phone == "+16175550142" and by_email.last_name == "Rivera"
    assert by_name.email == "grace@example.com"
    assert by_name.cell_phone == "+16175550123"  # an empty cell in the file keeps the number
    assert (report.created, report.updated) == (2, 0)  # the appointments themselves are new


def test_a_number_on_file_is_not_taken_for_one_with_an_extension(session, practice):
    _import(session, practice, _csv(SCHEDULE))
    rows = copy.deepcopy(SCHEDULE)
    rows[0]["Guardian Cell Phone"] = "617-555-014 x2"  # the digits of the number on file
    report = _import(session, practice, _csv(rows))
    assert "Guardian cell phone “617-555-014 x2” has too few digits" in \
        report.rejected[0].reason


def test_practices_do_not_share_patients_or_appointments(session, practice):
    other = make_practice(session)
    make_provider(session, other, name="Dr. Ada Lee")
    make_location(session, other, name="Main Street")
    _import(session, practice, _csv(SCHEDULE))
    report = schedule_import.import_schedule(session, practice_id=other.id, data=_csv(SCHEDULE),
                                             filename="s.csv", actor="boss", today=TODAY)
    assert report.created == 3
    assert _count(session, Patient, practice) == 2 and _count(session, Patient, other) == 2
    assert _count(session, Appointment, other) == 3


# --- bad files -----------------------------------------------------------------------------------


def test_a_file_that_is_not_utf8_is_refused_clearly(session, practice):
    data = _csv([_row(**{"Patient First Name": "José"})]).decode().encode("latin-1")
    with pytest.raises(InvalidInput) as error:
        _import(session, practice, data)
    assert "not UTF-8 text (byte 0xE9 on line 2)" in error.value.message
    assert "CSV UTF-8" in error.value.message


def test_a_missing_required_column_is_named(session, practice):
    header = [h for h in HEADER if h != "Date of Birth"]
    with pytest.raises(InvalidInput, match="Choose a column for: Date of birth"):
        _import(session, practice, _csv(SCHEDULE, header))


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The file is empty"),
    (b"   \n", "The file is empty"),
    (",".join(HEADER).encode() + b"\n", "has a header but no rows"),
    (b"MRN,,DOB\nM-1,x,2019-01-01\n", "some header names are empty"),
    (b"MRN,MRN\n1,2\n", "Column “MRN” appears twice"),
    (b"PK\x03\x04\x00\x00binary", "binary data"),
    (",".join(HEADER).encode() + b'\n"M-1,Ann\n', "Row 2 cannot be read as CSV"),
])
def test_bad_files_get_clear_messages(session, practice, data, message):
    with pytest.raises(InvalidInput, match=message):
        _import(session, practice, data)


def test_an_oversized_upload_is_refused(session, practice, monkeypatch):
    monkeypatch.setenv("PORTAL_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    data = _csv(SCHEDULE) + b"x" * (1024 * 1024)
    with pytest.raises(InvalidInput, match="largest accepted is 1 MB"):
        _import(session, practice, data)
    with pytest.raises(InvalidInput, match="largest accepted is 1 MB"):
        schedule_import.prepare_import(session, practice_id=practice.id, data=data,
                                       filename="s.csv")


# --- FHIR ----------------------------------------------------------------------------------------


def _bundle(edit=None) -> bytes:
    bundle = json.loads(BUNDLE.read_text())
    if edit:
        edit(bundle)
    return json.dumps(bundle).encode()


def test_a_fhir_bundle_imports_appointments_patients_and_guardians(session, practice):
    report = _import(session, practice, _bundle(), filename="schedule.json")
    assert report.committed, report.rejected
    assert (report.rows, report.created, report.ignored) == (3, 3, 1)
    assert (report.patients_created, report.guardians_created) == (2, 2)
    assert report.row_label == "Entry"
    visit = _appointment(session, "5001")
    assert visit.start_at == dt.datetime(2030, 3, 14, 13, 30, tzinfo=dt.UTC)
    assert (visit.visit_type, visit.status) == ("Well Child", "scheduled")
    shot = _appointment(session, "5002")
    assert (shot.visit_type, shot.status) == ("Immunization", "completed")
    assert _appointment(session, "5003").status == "no_show"
    sofia = session.exec(select(Patient).where(Patient.mrn == "MRN-1001")).one()
    assert (sofia.first_name, sofia.last_name, sofia.date_of_birth) == (
        "Sofia", "Rivera", dt.date(2019, 5, 2))
    maria = session.exec(select(Guardian).where(Guardian.first_name == "Maria")).one()
    assert (maria.relationship, maria.email, maria.cell_phone) == (
        "Mother", "maria.rivera@example.com", "+16175550142")
    grace = session.exec(select(Guardian).where(Guardian.first_name == "Grace")).one()
    assert grace.relationship == "Legal guardian"
    assert visit.provider_id == session.exec(select(Provider.id).where(
        Provider.name == "Dr. Ada Lee")).one()


def test_a_fhir_bundle_imported_again_changes_nothing(session, practice):
    _import(session, practice, _bundle(), filename="schedule.json")
    again = _import(session, practice, _bundle(), filename="schedule.json")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert _count(session, Guardian) == 2


def test_a_fhir_appointment_with_a_missing_patient_is_rejected_by_entry(session, practice):
    def drop_theo(bundle):
        bundle["entry"] = [e for e in bundle["entry"] if e["resource"].get("id") != "pat-theo"]

    report = _import(session, practice, _bundle(drop_theo), filename="schedule.json",
                     keep_valid=True)
    (rejected,) = report.rejected
    assert rejected.row == 7 and rejected.source_id == "5002"  # entries after it move up
    assert "no Patient participant in the bundle" in rejected.reason
    assert report.created == 2


def test_an_invalid_fhir_resource_is_named_in_the_rejection(session, practice):
    def break_birth_date(bundle):
        bundle["entry"][2]["resource"]["birthDate"] = "02/05/2019"

    report = _import(session, practice, _bundle(break_birth_date), filename="schedule.json")
    assert not report.committed
    assert [r.row for r in report.rejected] == [7, 9]
    assert "Patient (entry 3) is invalid: birthDate" in report.rejected[0].reason


def test_a_fhir_guardian_email_is_checked(session, practice):
    def break_email(bundle):
        bundle["entry"][5]["resource"]["telecom"][0]["value"] = "grace@"

    report = _import(session, practice, _bundle(break_email), filename="schedule.json")
    (rejected,) = report.rejected
    assert "Guardian email is not valid" in rejected.reason


@pytest.mark.parametrize(("data", "message"), [
    (b"{not json", "not valid JSON"),
    (b'{"resourceType": "Patient"}', "not a FHIR Bundle"),
    (b'{"resourceType": "Bundle", "type": "collection"}', "no entries"),
    (b'{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]}',
     "holds no Appointment"),
])
def test_bad_fhir_files_get_clear_messages(session, practice, data, message):
    with pytest.raises(InvalidInput, match=message):
        _import(session, practice, data, filename="bundle.json")


def test_prepare_import_recognises_a_bundle(session, practice):
    setup = schedule_import.prepare_import(session, practice_id=practice.id, data=_bundle(),
                                           filename="export.json")
    assert (setup.kind, setup.rows) == ("fhir", 10)
