"""Enrollment page: renders for supervisors and admins, refuses staff, shows the measure."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from models import AppointmentStatus, EnrollmentStatus, Role
from services import auth
from services.db import session_scope
from tests.factories import (
    make_appointment,
    make_enrollment,
    make_location,
    make_patient,
    make_practice,
    make_provider,
    make_user,
)
from tests.pages.helpers import signed_in, texts
from ui.context import USER_KEY

PAGE = "pages/enrollment.py"
ROOT = Path(__file__).resolve().parents[2]
ZONE = zoneinfo.ZoneInfo("America/New_York")


def days_ago(days: int, hour: int = 10) -> dt.datetime:
    today = dt.datetime.now(ZONE).date()
    local = dt.datetime.combine(today - dt.timedelta(days=days), dt.time(hour), tzinfo=ZONE)
    return local.astimezone(dt.UTC)


@pytest.fixture
def practice(session):
    """Two patients seen in the last 30 days: one given a PIN the same day (in time) and
    activated the next day, one seen 12 days ago and never invited (missed).
    Numerator 1, denominator 2."""
    practice = make_practice(session, name="Sunny Peds", timezone="America/New_York")
    for role in Role:
        make_user(session, role=role, practices=[practice], username=f"u-{role}")
    provider = make_provider(session, practice, name="Dr. Avery")
    location = make_location(session, practice, name="Main Street")
    timely = make_patient(session, practice, mrn="MRN-ON-TIME")
    missed = make_patient(session, practice, mrn="MRN-MISSED", last_name="Late",
                          first_name="Lee")
    make_appointment(session, practice, patient=timely, provider=provider, location=location,
                     start_at=days_ago(5), status=AppointmentStatus.completed.value)
    make_enrollment(session, practice, patient=timely, issued_at=days_ago(5, hour=11),
                    status=EnrollmentStatus.active.value, activated_at=days_ago(4),
                    secret_hash=None)
    make_appointment(session, practice, patient=missed, provider=provider, location=location,
                     start_at=days_ago(12), status=AppointmentStatus.completed.value)
    session.commit()
    return practice


def open_page(username: str, practice_id: int):
    return signed_in(username, practice_id=practice_id, page=PAGE)


def metric_values(at) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


@pytest.mark.parametrize("role", [Role.supervisor, Role.admin])
def test_renders_without_exception_for_supervisor_and_admin(practice, role):
    at = open_page(f"u-{role}", practice.id)
    assert not at.exception, at.exception
    assert "Enrollment" in [title.value for title in at.title]
    assert "You do not have access to this page." not in texts(at)
    assert len(at.get("plotly_chart")) == 5


def test_staff_cannot_open_it(practice):
    # The navigation does not offer the page to staff ...
    at = signed_in(f"u-{Role.staff}", practice_id=practice.id)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE)
    # ... and the page itself refuses them when it is run directly (a hand-typed URL).
    with session_scope(read_only=True) as session:
        staff = auth.get_active_user(session, username=f"u-{Role.staff}")
    page = AppTest.from_file(str(ROOT / PAGE), default_timeout=30)
    page.session_state[USER_KEY] = staff
    page.session_state["practice_id"] = practice.id
    page.run()
    assert not page.exception
    assert "You do not have access to this page." in texts(page)
    assert not page.metric and not page.get("plotly_chart")


def test_headline_and_measure_show_the_hand_count(practice):
    values = metric_values(open_page(f"u-{Role.supervisor}", practice.id))
    assert values["Patients seen"] == "2"
    assert (values["Invited"], values["Activated"], values["Activation rate"]) == ("1", "1",
                                                                                  "100%")
    assert (values["Numerator"], values["Denominator"], values["Rate"]) == ("1", "2", "50%")
    assert values["Missing"] == "1"


def test_missing_patients_table_and_csv_button(practice):
    at = open_page(f"u-{Role.supervisor}", practice.id)
    (table,) = at.dataframe
    assert table.value["MRN"].tolist() == ["MRN-MISSED"]
    (button,) = at.download_button
    assert button.label == "Download patients missing the measure (CSV)"


def test_shared_filters_without_search_default_to_the_last_30_days(practice):
    at = open_page(f"u-{Role.supervisor}", practice.id)
    labels = [widget.label for widget in at.sidebar.date_input]
    assert labels == ["Start Date", "End Date"]
    start, end = (widget.value for widget in at.sidebar.date_input)
    assert (end - start).days == 29
    assert "Location" in [box.label for box in at.sidebar.selectbox]
    assert not at.sidebar.text_input  # no search box on this page
    assert "Select Provider(s)" in [button.label for button in at.sidebar.button]


def test_narrowing_the_period_recounts(practice):
    at = open_page(f"u-{Role.supervisor}", practice.id)
    at.sidebar.date_input[0].set_value(dt.datetime.now(ZONE).date() - dt.timedelta(days=7))
    at.run()
    assert not at.exception
    values = metric_values(at)
    assert (values["Numerator"], values["Denominator"]) == ("1", "1")
    assert not at.download_button  # nobody misses it in the last 7 days


def test_end_before_start_warns_instead_of_counting(practice):
    at = open_page(f"u-{Role.supervisor}", practice.id)
    today = dt.datetime.now(ZONE).date()
    at.sidebar.date_input[0].set_value(today)
    at.sidebar.date_input[1].set_value(today - dt.timedelta(days=3))
    at.run()
    assert not at.exception
    assert "before Start Date" in texts(at)
    assert not at.metric


def test_a_practice_with_no_visits_says_so(session):
    empty = make_practice(session, name="Quiet Peds")
    make_user(session, role=Role.supervisor, practices=[empty], username="quiet-supervisor")
    session.commit()
    at = open_page("quiet-supervisor", empty.id)
    assert not at.exception
    assert "No completed visits in this period." in texts(at)
