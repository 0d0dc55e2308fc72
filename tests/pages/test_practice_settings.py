"""Practice Settings page: renders for an admin, saves settings, adds holidays and locations."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from models import Holiday, Location, Practice, Provider, Role
from services.db import session_scope
from tests.factories import make_practice, make_provider, make_user
from tests.pages.admin_support import widget
from tests.pages.helpers import signed_in, texts
from ui.text import plain

PAGE = "pages/practice_settings.py"


@pytest.fixture
def practice(session):
    practice = make_practice(session, name="Sunny Peds", timezone="America/New_York")
    make_user(session, role=Role.admin, practices=[practice], username="boss")
    make_provider(session, practice, name="Dr. Ada Lee")
    session.commit()
    return practice


def _open(practice):
    return signed_in("boss", practice_id=practice.id, page=PAGE)


def test_the_page_shows_the_practice_and_its_providers(practice):
    at = _open(practice)
    assert not at.exception
    assert widget(at, "text_input", "Practice name").value == "Sunny Peds"
    assert widget(at, "selectbox", "Timezone").value == "America/New_York"
    assert "No holidays yet." in texts(at)
    assert list(at.dataframe[0].value["Provider"]) == ["Dr. Ada Lee"]


def test_an_admin_saves_the_practice_settings(practice):
    at = _open(practice)
    widget(at, "text_input", "Practice name").input("Sunny Pediatrics")
    widget(at, "selectbox", "Timezone").set_value("America/Chicago")
    widget(at, "number_input", "PIN lifetime (days)").set_value(21)
    widget(at, "text_input", "Portal URL").input("https://portal.sunny.example")
    widget(at, "button", "Save practice settings").click().run()
    assert not at.exception
    assert "Saved the practice settings." in texts(at)
    with session_scope(read_only=True) as session:
        saved = session.get(Practice, practice.id)
        assert (saved.name, saved.timezone, saved.pin_lifetime_days, saved.portal_url) == (
            "Sunny Pediatrics", "America/Chicago", 21, "https://portal.sunny.example")


def test_a_bad_portal_url_is_named(practice):
    at = _open(practice)
    widget(at, "text_input", "Portal URL").input("portal dot example")
    widget(at, "button", "Save practice settings").click().run()
    assert "Portal URL “portal dot example” is not a web address" in texts(at)


def test_an_admin_adds_a_holiday_a_location_and_renames_a_provider(practice):
    at = _open(practice)
    assert widget(at, "date_input", "Date").proto.format == "MM/DD/YYYY"
    widget(at, "date_input", "Date").set_value(dt.date(2030, 7, 4))
    widget(at, "text_input", "Holiday name").input("Independence Day")
    widget(at, "button", "Add holiday").click().run()
    assert "Added the holiday on 07/04/2030." in texts(at)
    assert "07/04/2030 Independence Day" in [
        str(option) for option in widget(at, "selectbox", "Holiday").options]
    widget(at, "text_input", "Location name").input("Northside Clinic")
    widget(at, "button", "Add location").click().run()
    assert "Added location Northside Clinic." in texts(at)
    widget(at, "text_input", "New provider name").input("Dr. Ada Lee-Park")
    widget(at, "button", "Rename provider").click().run()
    assert not at.exception
    with session_scope(read_only=True) as session:
        assert session.exec(select(Holiday.name)).one() == "Independence Day"
        assert session.exec(select(Location.name)).one() == "Northside Clinic"
        assert session.exec(select(Provider.name)).one() == "Dr. Ada Lee-Park"


def test_removing_a_holiday_says_its_date_as_the_page_writes_it(practice):
    with session_scope() as session:
        session.add(Holiday(practice_id=practice.id, day=dt.date(2030, 12, 25), name="Christmas"))
    at = _open(practice)
    widget(at, "button", "Remove holiday").click().run()
    assert not at.exception
    assert "Removed the holiday on 12/25/2030." in texts(at)
    assert "2030-12-25" not in texts(at)
    widget(at, "date_input", "Date").set_value(dt.date(2030, 7, 4))
    widget(at, "button", "Add holiday").click().run()
    widget(at, "date_input", "Date").set_value(dt.date(2030, 7, 4))
    widget(at, "button", "Add holiday").click().run()
    assert "Date 07/04/2030 is already a holiday." in texts(at)


def test_adding_a_holiday_without_a_date_names_the_field(practice):
    at = _open(practice)
    widget(at, "button", "Add holiday").click().run()
    assert "Date is empty" in texts(at)


def test_an_admin_sets_when_parents_are_reminded(practice):
    at = _open(practice)
    assert widget(at, "text_input", "Remind after (days)").value == "3, 10"
    assert widget(at, "number_input", "Remind before PIN expiry (days)").value == 2
    widget(at, "text_input", "Remind after (days)").input("2, 7")
    widget(at, "number_input", "Remind before PIN expiry (days)").set_value(0)
    widget(at, "button", "Save reminder settings").click().run()
    assert not at.exception and "Saved the reminder settings." in texts(at)
    with session_scope(read_only=True) as session:
        saved = session.get(Practice, practice.id)
        assert (saved.remind_after_days, saved.remind_before_expiry_days) == ("2,7", 0)


def test_bad_reminder_days_are_named_and_nothing_saved(practice):
    at = _open(practice)
    widget(at, "text_input", "Remind after (days)").input("three")
    widget(at, "button", "Save reminder settings").click().run()
    assert "Remind after (days): “three” is not a number of days" in texts(at)
    with session_scope(read_only=True) as session:
        assert session.get(Practice, practice.id).remind_after_days == "3,10"
def test_the_patient_portal_sign_in_address_is_a_setting(practice):
    at = _open(practice)
    widget(at, "text_input", "Patient portal sign-in address").input("mychart dot example")
    widget(at, "button", "Save practice settings").click().run()
    assert "Patient portal sign-in address “mychart dot example” is not a web address" in \
        texts(at)
    widget(at, "text_input", "Patient portal sign-in address").input(
        "https://mychart.sunnypeds.example/login")
    widget(at, "button", "Save practice settings").click().run()
    assert "Saved the practice settings." in texts(at)
    with session_scope(read_only=True) as session:
        saved = session.exec(select(Practice.portal_sign_in_url)).first()
    assert saved == "https://mychart.sunnypeds.example/login"


def test_a_refused_name_is_quoted_in_words_and_shown_as_text_not_markdown(practice):
    at = _open(practice)
    for _ in range(2):
        widget(at, "text_input", "Location name").input("  [x](https://evil.example) ")
        widget(at, "button", "Add location").click().run()
    message = "Location name “[x](https://evil.example)” is already in use in this practice."
    assert [error.value for error in at.error] == [plain(message)]
    assert message in texts(at)
