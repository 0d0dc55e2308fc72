"""Security rules checked without a browser: the Streamlit configuration, key strength at
start-up, and the server-side role and practice checks that run again on every rerun (nothing
is trusted from session state). The browser half is in tests/e2e/test_security.py."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlmodel import delete

from models import Role, StaffPractice
from services.settings import get_settings
from tests.factories import (
    make_appointment,
    make_guardian,
    make_location,
    make_patient,
    make_practice,
    make_provider,
    make_user,
)
from tests.pages.helpers import app_test, signed_in, texts
from tests.pages.test_app import PAGE_FILES, ROLE_TITLES
from ui.context import USER_KEY

ROOT = Path(__file__).resolve().parent.parent
NO_ACCESS = "You do not have access to this page."
MARK = "Qwertzuiop"  # only in the other practice's rows



def test_streamlit_config_protects_against_xsrf_and_hides_error_details():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["enableCORS"] is True
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "viewer"  # no developer menu for users
    assert config["browser"]["gatherUsageStats"] is False


@pytest.mark.parametrize("name", ["PORTAL_COOKIE_KEY", "PORTAL_OUTBOX_KEY"])
def test_a_short_key_stops_the_app_with_a_clear_message(database_url, monkeypatch, name):
    monkeypatch.setenv(name, "k" * 31)
    get_settings.cache_clear()
    at = app_test().run()
    assert not at.exception
    assert f"{name} must be at least 32 bytes" in texts(at)
    assert not at.text_input  # neither the sign-in form nor first-run setup


@pytest.mark.parametrize("name", ["PORTAL_COOKIE_KEY", "PORTAL_OUTBOX_KEY"])
def test_a_32_byte_key_is_enough(database_url, monkeypatch, name):
    monkeypatch.setenv(name, "k" * 32)
    get_settings.cache_clear()
    at = app_test().run()
    assert not at.exception
    assert "must be at least 32 bytes" not in texts(at)
    assert [w.label for w in at.text_input][0] == "Setup token"  # the app itself started


@pytest.fixture
def clinic(session):
    practice = make_practice(session, name="Sunny Peds")
    other = make_practice(session, name="Other Peds")
    today = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for owner, last in ((practice, "Ordinary"), (other, MARK)):
        patient = make_patient(session, owner, last_name=last)
        make_guardian(session, owner, patients=[patient], last_name=last)
        provider = make_provider(session, owner, name=f"Dr. {last}")
        location = make_location(session, owner, name=f"{last} Office")
        make_appointment(session, owner, patient=patient, start_at=today, provider=provider,
                         location=location)
    users = {
        "boss": make_user(session, role=Role.admin, practices=[practice], username="boss"),
        "desk": make_user(session, role=Role.staff, practices=[practice], username="desk"),
    }
    session.commit()
    return practice, SimpleNamespace(id=other.id, location_id=location.id,
                                     provider_id=provider.id), users


def _shown(at) -> str:
    frames = "\n".join(frame.value.to_csv() for frame in at.dataframe)
    options = "\n".join(str(option) for box in at.selectbox for option in box.options)
    return "\n".join((texts(at), frames, options))


STAFF_FORBIDDEN = sorted(set(PAGE_FILES) - ROLE_TITLES[Role.staff])


def test_a_role_forged_in_session_state_registers_no_page_of_that_role(clinic):
    at = signed_in("desk")
    at.session_state["roles"] = ["admin"]
    at.session_state[USER_KEY] = at.session_state[USER_KEY].model_copy(update={"role": "admin"})
    at.run()
    assert not at.exception
    assert at.session_state[USER_KEY].role == Role.staff  # reloaded from the database
    # st.navigation lists only the staff pages; the server serves the default page for any
    # other URL (tests/e2e/test_sign_in.py types them in a browser).
    for title in STAFF_FORBIDDEN:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(PAGE_FILES[title])


def test_a_role_lowered_in_the_database_applies_on_the_next_run(clinic, session):
    practice, _, users = clinic
    at = signed_in("boss", practice_id=practice.id, page=PAGE_FILES["Staff Users"])
    assert [element.value for element in at.title] == ["Staff Users"]
    users["boss"].role = Role.staff
    session.add(users["boss"])
    session.commit()
    at.run()
    assert not at.exception
    # The page is gone from the navigation: the run shows the default page instead.
    assert [element.value for element in at.title] == ["Dashboard"]
    assert "Add a staff user" not in _shown(at)


def test_a_membership_removed_mid_session_closes_the_practice(clinic, session):
    practice, _, users = clinic
    at = signed_in("desk", practice_id=practice.id, page=PAGE_FILES["Dashboard"])
    assert "Ordinary" in _shown(at)
    session.exec(delete(StaffPractice).where(StaffPractice.staff_user_id == users["desk"].id))
    session.commit()
    at.run()
    assert not at.exception
    assert "Ordinary" not in _shown(at)
    assert not at.dataframe


@pytest.mark.parametrize("title", ["Dashboard", "Enrollment"])
def test_another_practices_ids_in_the_query_string_show_nothing_of_it(clinic, title):
    practice, other, _ = clinic
    at = signed_in("boss", practice_id=practice.id)
    at.query_params["location"] = str(other.location_id)
    at.query_params["providers"] = str(other.provider_id)
    at.switch_page(PAGE_FILES[title]).run()
    assert not at.exception
    assert MARK not in _shown(at)
    assert "not one of this practice's locations" in _shown(at)


def test_a_user_disabled_mid_session_is_signed_out(clinic, session):
    practice, _, users = clinic
    at = signed_in("desk", practice_id=practice.id, page=PAGE_FILES["Dashboard"])
    assert "Ordinary" in _shown(at)
    users["desk"].disabled = True
    session.add(users["desk"])
    session.commit()
    at.run()
    assert not at.exception
    assert "Ordinary" not in _shown(at)
    assert [w.label for w in at.text_input] == ["Username", "Password"]
