"""Practices are isolated: no page, query value or session value shows another practice."""

from __future__ import annotations

import datetime as dt

import pytest

from models import Role
from tests.factories import (
    make_appointment,
    make_guardian,
    make_location,
    make_patient,
    make_practice,
    make_provider,
    make_user,
)
from tests.pages.helpers import signed_in
from tests.pages.test_app import PAGE_FILES

MARK = "Zyxwvut"  # appears only in the other practice's rows


def _everything_shown(at) -> str:
    parts = []
    for node in at._tree.get_all_nodes() if hasattr(at._tree, "get_all_nodes") else []:
        parts.append(str(getattr(node, "value", "")))
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "error",
                 "warning", "success", "metric", "text", "code"):
        parts.extend(str(getattr(element, "value", "")) for element in getattr(at, kind))
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    for table in at.table:
        parts.append(str(table.value))
    for widget in (*at.selectbox, *at.multiselect, *at.radio):
        parts.extend(str(option) for option in widget.options)
    return "\n".join(parts)


@pytest.fixture
def two_practices(session):
    today = dt.datetime.now(dt.UTC).replace(hour=15, minute=0, second=0, microsecond=0)
    mine = make_practice(session, name="Mine Pediatrics")
    other = make_practice(session, name=f"{MARK} Clinic")
    for practice, last in ((mine, "Ordinary"), (other, MARK)):
        location = make_location(session, practice, name=f"{last} Office")
        provider = make_provider(session, practice, name=f"Dr. {last}")
        patient = make_patient(session, practice, last_name=last, mrn=f"{last}-1")
        make_guardian(session, practice, patients=[patient], last_name=last,
                      email=f"{last.lower()}@example.com")
        appointment = make_appointment(session, practice, patient=patient, provider=provider,
                                       location=location, start_at=today)
    admin = make_user(session, role=Role.admin, practices=[mine], username="mine-admin")
    session.commit()
    return mine, other, admin, appointment


@pytest.mark.parametrize("title", sorted(PAGE_FILES))
def test_no_page_shows_another_practices_rows(two_practices, title):
    mine, other, admin, _ = two_practices
    at = signed_in(admin.username)
    at.switch_page(PAGE_FILES[title]).run()
    assert not at.exception
    assert MARK not in _everything_shown(at)


def test_another_practices_appointment_id_is_refused(two_practices):
    mine, other, admin, other_appointment = two_practices
    at = signed_in(admin.username)
    at.query_params["appointment"] = str(other_appointment.id)
    at.switch_page(PAGE_FILES["Register Patient"]).run()
    assert not at.exception
    assert MARK not in _everything_shown(at)


def test_another_practice_forced_into_session_state_is_replaced(two_practices):
    mine, other, admin, _ = two_practices
    at = signed_in(admin.username, practice_id=other.id)
    at.switch_page(PAGE_FILES["Dashboard"]).run()
    assert at.session_state["practice_id"] == mine.id
    assert MARK not in _everything_shown(at)
