"""Audit Log page: renders for an admin, filters by action and patient, pages, exports."""

from __future__ import annotations

import datetime as dt

import pytest

from models import Role
from services.audit import record_event
from tests.factories import make_patient, make_practice, make_user
from tests.pages.admin_support import widget
from tests.pages.helpers import signed_in, texts

PAGE = "pages/audit_log.py"


@pytest.fixture
def practice(session):
    practice = make_practice(session, name="Sunny Peds", timezone="America/New_York")
    make_user(session, role=Role.admin, practices=[practice], username="boss")
    sofia = make_patient(session, practice, mrn="M-100", first_name="Sofia", last_name="Rivera")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for minutes in range(60):
        event = record_event(session, actor="desk", action="pin_issued",
                             practice_id=practice.id,
                             patient_id=sofia.id if minutes % 2 else None)
        event.at = now - dt.timedelta(minutes=minutes)
    record_event(session, actor="boss", action="location_added", practice_id=practice.id,
                 name="Annex")
    session.commit()
    return practice


def test_the_page_shows_the_newest_events_a_page_at_a_time(practice):
    at = signed_in("boss", practice_id=practice.id, page=PAGE)
    assert not at.exception
    assert len(at.dataframe[0].value) == 50
    assert "61 events · page 1 of 2" in texts(at)
    widget(at, "number_input", "Page").set_value(2).run()
    assert len(at.dataframe[0].value) == 11
    assert at.get("download_button")[0].proto.label == "Download CSV"


def test_actions_are_shown_in_words_in_the_table_and_the_filter(practice):
    at = signed_in("boss", practice_id=practice.id, page=PAGE)
    assert set(at.dataframe[0].value["Action"]) == {"PIN issued", "Location added"}
    assert widget(at, "selectbox", "Action").options == [
        "Any action", "Location added", "PIN issued"]


def test_an_admin_filters_by_action_and_patient(practice):
    at = signed_in("boss", practice_id=practice.id, page=PAGE)
    widget(at, "selectbox", "Action").set_value("pin_issued")
    widget(at, "text_input", "Patient").input("rivera")
    widget(at, "button", "Apply").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 30 and set(table["Action"]) == {"PIN issued"}
    assert set(table["Patient"]) == {"Rivera, Sofia (MRN M-100)"}
    widget(at, "selectbox", "User").set_value("boss")
    widget(at, "button", "Apply").click().run()
    assert "No audit events match these filters." in texts(at)


def test_from_after_to_is_explained(practice):
    at = signed_in("boss", practice_id=practice.id, page=PAGE)
    assert {widget(at, "date_input", label).proto.format for label in ("From", "To")} == {
        "MM/DD/YYYY"}
    widget(at, "date_input", "From").set_value(dt.date(2031, 1, 2))
    widget(at, "date_input", "To").set_value(dt.date(2031, 1, 1))
    widget(at, "button", "Apply").click().run()
    assert "From is after To" in texts(at)
