"""Import Schedule page: upload, mapping with a preview, import, report; bad files explained."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from models import Appointment, Patient, Role
from services.db import session_scope
from tests.factories import make_location, make_practice, make_provider, make_user
from tests.pages.admin_support import widget
from tests.pages.helpers import signed_in, texts

PAGE = "pages/import_schedule.py"
SCHEDULE = (
    b"Chart #,First Name,Last Name,DOB,Appt ID,Date,Time,Provider,Location,Parent First Name,"
    b"Parent Last Name,Parent Email\n"
    b"M-100,Sofia,Rivera,05/02/2019,A-1,03/14/2030,9:30 AM,Dr. Ada Lee,Main Street,Maria,"
    b"Rivera,maria@example.com\n"
    b"M-200,Theo,Okafor,2016-11-20,A-2,03/14/2030,10:00 AM,Dr. Ada Lee,Main Street,,,\n"
)


@pytest.fixture
def practice(session):
    practice = make_practice(session, name="Sunny Peds", timezone="America/New_York")
    make_user(session, role=Role.admin, practices=[practice], username="boss")
    make_provider(session, practice, name="Dr. Ada Lee")
    make_location(session, practice, name="Main Street")
    session.commit()
    return practice


def _upload(practice, data: bytes, name: str = "schedule.csv"):
    at = signed_in("boss", practice_id=practice.id, page=PAGE)
    at.file_uploader[0].set_value((name, data, "text/csv")).run()
    return at


def test_the_page_asks_for_a_file(practice):
    at = signed_in("boss", practice_id=practice.id, page=PAGE)
    assert not at.exception
    assert at.file_uploader[0].label == "Schedule file"
    assert "Import schedule" not in [b.label for b in at.button]  # nothing to import yet


def test_an_admin_maps_previews_and_imports_a_csv(practice):
    at = _upload(practice, SCHEDULE)
    assert not at.exception
    assert widget(at, "selectbox", "MRN *").value == "Chart #"  # guessed from the header
    assert widget(at, "selectbox", "Guardian email").value == "Parent Email"
    preview = at.dataframe[0].value
    assert list(preview["MRN"]) == ["M-100", "M-200"]
    assert list(preview["Problem"]) == ["", ""]
    widget(at, "button", "Import schedule").click().run()
    assert not at.exception
    assert "Imported 2 of 2 rows: 2 created, 0 updated, 0 unchanged, 0 rejected." in texts(at)
    assert [m.value for m in at.metric] == ["2", "0", "0", "0"]
    assert at.get("download_button")[0].proto.label == "Download report (CSV)"
    with session_scope(read_only=True) as session:
        assert session.exec(select(func.count()).select_from(Appointment)).one() == 2
        assert session.exec(select(func.count()).select_from(Patient)).one() == 2


def test_a_changed_mapping_shows_in_the_preview(practice):
    at = _upload(practice, SCHEDULE)
    widget(at, "selectbox", "Date of birth *").set_value("— not in the file —").run()
    assert "No column chosen for Date of birth" in at.dataframe[0].value["Problem"][0]


def test_a_refused_file_lists_its_rejected_rows(practice):
    bad = SCHEDULE.replace(b"05/02/2019", b"02/30/2019")
    at = _upload(practice, bad)
    widget(at, "button", "Import schedule").click().run()
    assert "Nothing was imported: 1 of 2 rows have problems" in texts(at)
    rejected = at.dataframe[-1].value
    assert list(rejected["Row"]) == [2]
    assert "Date of birth “02/30/2019” is not a date" in rejected["Reason"][0]
    widget(at, "checkbox", "Keep the valid rows").check()
    widget(at, "button", "Import schedule").click().run()
    assert "Imported 1 of 2 rows" in texts(at)


def test_a_file_that_is_not_utf8_gets_a_clear_message(practice):
    at = _upload(practice, SCHEDULE.replace(b"Sofia", "Sofía".encode("latin-1")))
    assert not at.exception
    assert "The file is not UTF-8 text" in texts(at)
