"""The Dashboard in AppTest: filters (widgets and query string), summary, list, Register links."""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zoneinfo

import pytest

from models import AppointmentStatus, Enrollment, EnrollmentStatus, Role
from services.status import PortalStatus
from tests.factories import (
    make_appointment,
    make_guardian,
    make_location,
    make_patient,
    make_practice,
    make_provider,
    make_user,
)
from tests.pages.helpers import app_test, open_session, texts

TIMEZONE = "America/Chicago"
ZONE = zoneinfo.ZoneInfo(TIMEZONE)


def today() -> dt.date:
    return dt.datetime.now(ZONE).date()


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZONE).astimezone(dt.UTC)


class Clinic:
    """A practice in Chicago with two locations, two providers and a week of visits."""

    def __init__(self, session):
        self.practice = make_practice(session, timezone=TIMEZONE, name="Prairie Pediatrics")
        self.user = make_user(session, role=Role.staff, practices=[self.practice],
                              username="frontdesk")
        self.main = make_location(session, self.practice, name="Main Street")
        self.north = make_location(session, self.practice, name="Northside")
        self.dr_a = make_provider(session, self.practice, name="Dr. Avery")
        self.dr_b = make_provider(session, self.practice, name="Dr. Brooks")
        self.session = session
        day = today()
        self.rivera = make_patient(session, self.practice, first_name="Sam",
                                   last_name="Rivera", mrn="MRN-1001")
        make_guardian(session, self.practice, patients=[self.rivera], first_name="Maria",
                      last_name="Rivera", relationship="Mother", email="maria@example.org",
                      cell_phone="+13125550101")
        self.chen = make_patient(session, self.practice, first_name="Lee", last_name="Chen",
                                 mrn="MRN-1002")
        self.active = make_patient(session, self.practice, first_name="Ana", last_name="Ortiz",
                                   mrn="MRN-1003")
        session.add(Enrollment(practice_id=self.practice.id, patient_id=self.active.id,
                               status=EnrollmentStatus.active, link_token=uuid.uuid4().hex))
        self.today_main = self.visit(self.rivera, local(day, 9), self.main, self.dr_a)
        self.today_north = self.visit(self.chen, local(day, 10), self.north, self.dr_b)
        self.today_active = self.visit(self.active, local(day, 11), self.main, self.dr_b)
        self.today_cancelled = self.visit(self.chen, local(day, 12), self.main, self.dr_a,
                                          status=AppointmentStatus.cancelled)
        self.yesterday = self.visit(self.chen, local(day - dt.timedelta(days=1), 15),
                                    self.main, self.dr_a)
        self.tomorrow = self.visit(self.rivera, local(day + dt.timedelta(days=1), 8),
                                   self.north, self.dr_a)
        other = make_practice(session, timezone=TIMEZONE)
        self.other_visit = make_appointment(session, other, start_at=local(day, 9))
        session.commit()

    def visit(self, patient, start_at, location, provider, **fields):
        return make_appointment(self.session, self.practice, patient=patient,
                                start_at=start_at, location=location, provider=provider,
                                **fields)


@pytest.fixture
def clinic(session) -> Clinic:
    return Clinic(session)


def open_dashboard(clinic: Clinic, **query: str):
    """The Dashboard (the default page) as the clinic's staff user, with a query string."""
    at = open_session(app_test(), clinic.user.username)
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def listed(at) -> list[str]:
    """The patients on the list, in list order."""
    if not at.dataframe:
        return []
    return list(at.dataframe[0].value["Patient"])


def rows(at):
    return at.dataframe[0].value


def date_input(at, label: str):
    return next(widget for widget in at.sidebar.date_input if widget.label == label)


def metric(at, label: str) -> str:
    return next(item.value for item in at.metric if item.label == label)


def test_default_shows_todays_appointments_in_the_practice(clinic):
    at = open_dashboard(clinic)
    assert "Dashboard" in [title.value for title in at.title]
    assert date_input(at, "Start Date").value == today()
    assert date_input(at, "End Date").value == today()
    location = at.sidebar.selectbox(key=f"_filters_schedule_{clinic.practice.id}_location")
    assert location.label == "Location" and location.value == 0
    assert location.options == ["All locations", "Main Street", "Northside"]
    assert "**Providers:** All providers (2)" in texts(at)
    table = rows(at)
    assert list(table["Patient"]) == ["Rivera, Sam", "Chen, Lee", "Ortiz, Ana"]
    assert [t.strftime("%H:%M") for t in table["Time"]] == ["09:00", "10:00", "11:00"]
    assert metric(at, "Appointments") == "3"
    assert metric(at, "Unique patients") == "3"
    assert metric(at, "Active") == "1"
    assert metric(at, "Not registered") == "2"
    assert metric(at, "Share active") == "33%"
    assert at.query_params == {}  # the default view stays "today" when bookmarked


def test_row_shows_age_guardian_contact_provider_location_and_badge(clinic):
    table = rows(open_dashboard(clinic))
    rivera = table[table["Patient"] == "Rivera, Sam"].iloc[0]
    assert rivera["MRN"] == "MRN-1001"
    assert rivera["Date of birth"] == clinic.rivera.date_of_birth
    assert rivera["Age"].endswith((" y", " mo"))
    assert rivera["Guardian"] == "Maria Rivera (Mother)"
    assert rivera["Guardian contact"] == "maria@example.org · (312) 555-0101"
    assert (rivera["Provider"], rivera["Location"]) == ("Dr. Avery", "Main Street")
    assert list(rivera["Portal status"]) == [PortalStatus.not_registered.value]
    ortiz = table[table["Patient"] == "Ortiz, Ana"].iloc[0]
    assert list(ortiz["Portal status"]) == [PortalStatus.active.value]


def test_changing_start_date_adds_earlier_days(clinic):
    at = open_dashboard(clinic)
    date_input(at, "Start Date").set_value(today() - dt.timedelta(days=1)).run()
    assert listed(at)[0] == "Chen, Lee"
    assert len(listed(at)) == 4
    assert at.query_params["start"] == (today() - dt.timedelta(days=1)).isoformat()


def test_changing_end_date_adds_later_days_inclusive(clinic):
    at = open_dashboard(clinic)
    date_input(at, "End Date").set_value(today() + dt.timedelta(days=1)).run()
    assert listed(at)[-1] == "Rivera, Sam"
    assert len(listed(at)) == 4
    assert metric(at, "Appointments") == "4"


def test_changing_location_narrows_the_list(clinic):
    at = open_dashboard(clinic)
    at.sidebar.selectbox(key=f"_filters_schedule_{clinic.practice.id}_location").set_value(
        clinic.north.id).run()
    assert listed(at) == ["Chen, Lee"]
    assert at.query_params["location"] == str(clinic.north.id)


def test_end_date_before_start_date_shows_a_message_instead_of_the_list(clinic):
    at = open_dashboard(clinic)
    date_input(at, "End Date").set_value(today() - dt.timedelta(days=1)).run()
    assert not at.exception
    assert "End Date" in at.warning[0].value and "before Start Date" in at.warning[0].value
    assert not at.dataframe
    assert not at.metric


def test_filters_from_the_query_string_are_applied(clinic):
    day = today() + dt.timedelta(days=1)
    at = open_dashboard(clinic, start=day.isoformat(), end=day.isoformat(),
                        location=str(clinic.north.id))
    assert listed(at) == ["Rivera, Sam"]
    assert date_input(at, "Start Date").value == day
    assert at.sidebar.selectbox(
        key=f"_filters_schedule_{clinic.practice.id}_location").value == clinic.north.id
    assert not at.warning


def test_providers_and_search_from_the_query_string(clinic):
    at = open_dashboard(clinic, providers=str(clinic.dr_b.id))
    assert listed(at) == ["Chen, Lee", "Ortiz, Ana"]
    assert "**Providers:** Dr. Brooks" in texts(at)
    at = open_dashboard(clinic, q="rivera")
    assert listed(at) == ["Rivera, Sam"]


@pytest.mark.parametrize(("query", "notice"), [
    ({"start": "2025-02-30"}, "Start Date “2025-02-30” in the link is not a date"),
    ({"end": "tomorrow"}, "End Date “tomorrow” in the link is not a date"),
    ({"start": "1900-01-01"}, "out of range"),
    ({"location": "999999"}, "not one of this practice's locations"),
    ({"location": "north"}, "not one of this practice's locations"),
    ({"providers": "abc"}, "showing all providers"),
    ({"cancelled": "maybe"}, "not 1 or 0"),
])
def test_bad_query_values_fall_back_to_defaults_with_a_notice(clinic, query, notice):
    at = open_dashboard(clinic, **query)
    # Notices are shown as plain text: Markdown characters arrive escaped with a backslash.
    shown = [re.sub(r"\\(.)", r"\1", warning.value) for warning in at.warning]
    assert any(notice in text for text in shown), texts(at)
    assert listed(at) == ["Rivera, Sam", "Chen, Lee", "Ortiz, Ana"]
    for name in query:
        assert name not in at.query_params  # the URL no longer carries the refused value


def test_link_notice_stays_until_a_filter_changes(clinic):
    at = open_dashboard(clinic, start="not-a-date")
    at.run()  # a rerun of its own (the sign-in cookie starts one) keeps the notice
    assert "not a date" in at.warning[0].value
    at.sidebar.selectbox(key=f"_filters_schedule_{clinic.practice.id}_location").set_value(
        clinic.main.id).run()
    assert not at.warning
    assert listed(at) == ["Rivera, Sam", "Ortiz, Ana"]


def test_another_practices_location_in_the_link_is_refused(clinic, session):
    other_location = make_location(session, make_practice(session))
    session.commit()
    at = open_dashboard(clinic, location=str(other_location.id))
    assert "not one of this practice's locations" in at.warning[0].value
    assert len(listed(at)) == 3


def test_register_marks_the_rows_to_register_on_the_register_page(clinic):
    at = open_dashboard(clinic)
    table = rows(at)
    marks = dict(zip(table["Patient"], table["Register"], strict=True))
    assert marks == {"Rivera, Sam": "Register", "Chen, Lee": "Register", "Ortiz, Ana": ""}
    ids = dict(zip(table["Patient"], table["Appointment"], strict=True))
    assert ids["Rivera, Sam"] == clinic.today_main.id  # the row detail's Register link uses it
    # The Register link targets the page app.py serves at url_path "register".
    pages = {info.get("url_pathname"): info["script_path"]
             for info in at._registered_pages.values()}
    assert pages["register"].endswith("pages/register.py")


def test_supervisors_see_the_list_without_register_links(clinic, session):
    supervisor = make_user(session, role=Role.supervisor, practices=[clinic.practice])
    session.commit()
    clinic.user = supervisor
    at = open_dashboard(clinic)
    assert listed(at) == ["Rivera, Sam", "Chen, Lee", "Ortiz, Ana"]
    assert "Register" not in rows(at).columns


def test_register_page_opens_with_the_appointment_from_the_link(clinic):
    at = open_dashboard(clinic)
    at.query_params.clear()
    at.query_params["appointment"] = str(clinic.today_main.id)
    at.switch_page("pages/register.py").run()
    assert not at.exception
    assert "Register Patient" in [title.value for title in at.title]
    assert "You do not have access" not in texts(at)


def test_cancelled_are_hidden_until_the_toggle(clinic):
    at = open_dashboard(clinic)
    assert "(cancelled hidden)" in texts(at)
    at.sidebar.toggle[0].set_value(True).run()
    assert listed(at) == ["Rivera, Sam", "Chen, Lee", "Ortiz, Ana", "Chen, Lee"]
    assert list(rows(at)["Visit status"])[-1] == "Cancelled"
    assert at.query_params["cancelled"] == "1"


def test_search_by_name_or_mrn(clinic):
    at = open_dashboard(clinic)
    at.sidebar.text_input[0].input("MRN-1002").run()
    assert listed(at) == ["Chen, Lee"]
    assert at.query_params["q"] == "MRN-1002"


def test_provider_chooser_applies_a_subset(clinic):
    at = open_dashboard(clinic)
    next(b for b in at.sidebar.button if b.label == "Select Provider(s)").click().run()
    boxes = {box.label: box for box in at.checkbox}
    assert {name: box.value for name, box in boxes.items()} == {
        "Dr. Avery": True, "Dr. Brooks": True}
    assert [b.label for b in at.button if b.label in {"Select all providers", "Apply"}] == [
        "Select all providers", "Apply"]
    boxes["Dr. Brooks"].uncheck().run()
    next(b for b in at.button if b.label == "Apply").click().run()
    assert listed(at) == ["Rivera, Sam"]
    assert "**Providers:** Dr. Avery" in texts(at)
    assert at.query_params["providers"] == str(clinic.dr_a.id)
    assert not at.checkbox  # the chooser closed


def test_provider_chooser_select_all_and_apply_nothing(clinic):
    at = open_dashboard(clinic, providers=str(clinic.dr_a.id))
    next(b for b in at.sidebar.button if b.label == "Select Provider(s)").click().run()
    assert {box.label: box.value for box in at.checkbox} == {
        "Dr. Avery": True, "Dr. Brooks": False}
    next(b for b in at.button if b.label == "Clear").click().run()
    next(b for b in at.button if b.label == "Apply").click().run()
    assert "Choose at least one provider" in at.error[0].value
    next(b for b in at.button if b.label == "Select all providers").click().run()
    next(b for b in at.button if b.label == "Apply").click().run()
    assert "**Providers:** All providers (2)" in texts(at)
    assert "providers" not in at.query_params
    assert len(listed(at)) == 3


def test_empty_result_says_so_and_suggests_widening(clinic):
    at = open_dashboard(clinic, q="nobody-by-this-name")
    assert not at.dataframe
    assert "No appointments match these filters" in at.info[0].value
    assert "Widen them" in at.info[0].value


def test_legend_explains_every_badge(clinic):
    at = open_dashboard(clinic)
    legend = at.expander[0]
    assert legend.label == "What the portal status badges mean"
    text = "\n".join(str(item.value) for item in legend.markdown)
    for badge in PortalStatus:
        assert f"**{badge.value}**" in text


def test_long_lists_are_paged(clinic, session):
    day = today() + dt.timedelta(days=2)
    for minute in range(150):
        make_appointment(session, clinic.practice, patient=clinic.chen,
                         location=clinic.main, provider=clinic.dr_a,
                         start_at=local(day, 8) + dt.timedelta(minutes=minute))
    session.commit()
    at = open_dashboard(clinic, start=day.isoformat(), end=day.isoformat())
    assert len(rows(at)) == 100
    assert "Appointments 1–100 of 150" in texts(at)
    at.pagination[0].set_value(2).run()
    assert len(rows(at)) == 50
    assert "Appointments 101–150 of 150" in texts(at)
    assert rows(at)["Time"].iloc[0].strftime("%H:%M") == "09:40"


def test_filters_are_kept_when_coming_back_from_another_page(clinic):
    at = open_dashboard(clinic, location=str(clinic.north.id))
    at.switch_page("pages/register.py").run()
    at.query_params.clear()  # navigating drops the Dashboard's query string
    at.switch_page("pages/dashboard.py").run()
    assert listed(at) == ["Chen, Lee"]
    assert at.query_params["location"] == str(clinic.north.id)


def test_a_failed_delivery_shows_beside_the_badge_with_the_reason(clinic, session):
    from services.delivery_failures import mark_delivery_failed
    from tests.factories import make_enrollment

    enrollment = make_enrollment(session, clinic.practice, patient=clinic.rivera,
                                 email="maria@exmaple.org")
    mark_delivery_failed(session, enrollment_id=enrollment.id, practice_id=clinic.practice.id,
                         patient_id=clinic.rivera.id, channel="email",
                         recipient="maria@exmaple.org",
                         error="PermanentFailure: recipient refused: {'maria@exmaple.org': "
                               "(550, b'5.1.1 No such user here')}")
    session.commit()
    at = open_dashboard(clinic)
    frame = rows(at).set_index("Patient")
    assert list(frame.loc["Rivera, Sam", "Portal status"]) == ["Invited", "Delivery failed"]
    assert "maria@exmaple.org does not exist" in frame.loc["Rivera, Sam", "Delivery"]
    assert list(frame.loc["Chen, Lee", "Portal status"]) == ["Not registered"]
    assert frame.loc["Chen, Lee", "Delivery"] == ""
