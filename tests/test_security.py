"""Security rules checked without a browser: the Streamlit configuration, key strength at
start-up, and the server-side role and practice checks that run again on every rerun (nothing
is trusted from session state). The browser half is in tests/e2e/test_security.py."""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlmodel import delete, select

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


@pytest.mark.parametrize("name", ["PORTAL_COOKIE_KEY", "PORTAL_OUTBOX_KEY", "PORTAL_PIN_PEPPER"])
def test_a_short_key_stops_the_app_with_a_clear_message(database_url, monkeypatch, name):
    monkeypatch.setenv(name, "k" * 31)
    get_settings.cache_clear()
    at = app_test().run()
    assert not at.exception
    assert f"{name} must be at least 32 bytes" in texts(at)
    assert not at.text_input  # neither the sign-in form nor first-run setup


@pytest.mark.parametrize("name", ["PORTAL_COOKIE_KEY", "PORTAL_OUTBOX_KEY", "PORTAL_PIN_PEPPER"])
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


# --- sessions (issue 12) ------------------------------------------------------------------


def _staff_session_rows(session):
    from models import StaffSession

    session.expire_all()
    return session.exec(select(StaffSession)).all()


def test_ending_a_users_sessions_signs_out_the_open_tab_on_its_next_run(clinic, session):
    from services.sessions import revoke_all_for_user

    practice, _, users = clinic
    at = signed_in("desk", practice_id=practice.id, page=PAGE_FILES["Dashboard"])
    assert "Ordinary" in _shown(at)
    revoke_all_for_user(session, user_id=users["desk"].id, reason="password reset", actor="boss")
    session.commit()
    at.run()
    assert not at.exception
    assert "Ordinary" not in _shown(at)
    assert [w.label for w in at.text_input] == ["Username", "Password"]
    assert "Your session ended" in texts(at)


def test_a_session_idle_past_the_limit_shows_the_sign_in_form(clinic, session):
    practice, _, _ = clinic
    at = signed_in("desk", practice_id=practice.id, page=PAGE_FILES["Dashboard"])
    (row,) = _staff_session_rows(session)
    row.last_seen_at -= dt.timedelta(minutes=16)  # nobody touched the tab for 16 minutes
    session.add(row)
    session.commit()
    at.run()
    assert "Ordinary" not in _shown(at)
    assert [w.label for w in at.text_input] == ["Username", "Password"]
    assert _staff_session_rows(session)[0].revoked_reason == "idle"


def test_activity_keeps_the_session_alive(clinic, session):
    practice, _, _ = clinic
    at = signed_in("desk", practice_id=practice.id, page=PAGE_FILES["Dashboard"])
    (row,) = _staff_session_rows(session)
    row.last_seen_at -= dt.timedelta(minutes=14)
    before = row.last_seen_at
    session.add(row)
    session.commit()
    at.run()  # a click: activity 14 minutes after the last one
    assert "Ordinary" in _shown(at)
    assert _staff_session_rows(session)[0].last_seen_at > before


def test_logout_ends_the_session_on_the_server(clinic, session):
    practice, _, _ = clinic
    at = signed_in("desk", practice_id=practice.id)
    at.sidebar.button(key="portal_logout").click().run()
    assert [w.label for w in at.text_input] == ["Username", "Password"]
    (row,) = _staff_session_rows(session)
    assert row.revoked_reason == "signed out"


def test_a_sign_in_through_the_form_opens_one_server_side_session(clinic, session):
    from tests.factories import PASSWORD

    at = app_test().run()
    at.text_input[0].input("desk")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    (row,) = _staff_session_rows(session)
    assert row.revoked_at is None and row.client.startswith("ip:")
    from ui.auth import SESSION_KEY
    assert at.session_state[SESSION_KEY] not in row.token_hash


# --- passwords, echoed values (issue 12) ----------------------------------------------------


@pytest.mark.parametrize("password", ["bigbrother", "BigBrother", "0147258369",
                                      "PASSWORD1234"])
def test_a_common_password_is_refused_whatever_its_case(session, password):
    from services.auth import create_user
    from services.errors import InvalidInput
    from services.passwords import common_passwords

    assert len(common_passwords()) > 19_000  # the shipped list, not a handful
    with pytest.raises(InvalidInput, match="most common passwords") as refused:
        create_user(session, username="newdesk", name="New Desk", email="n@example.org",
                    role=Role.staff, password=password, actor="test")
    assert refused.value.field == "password"


@pytest.mark.parametrize("password", [" Quiet-Harbor-71", "Quiet-Harbor-71 "])
def test_a_password_with_spaces_at_the_ends_is_refused_at_creation(session, password):
    # The sign-in form strips spaces at the ends, so such a password could never be typed.
    from services.auth import create_user
    from services.errors import InvalidInput

    with pytest.raises(InvalidInput, match="starts or ends with a space"):
        create_user(session, username="newdesk", name="New Desk", email="n@example.org",
                    role=Role.staff, password=password, actor="test")


def test_an_uncommon_password_with_inner_spaces_is_accepted(session):
    from services.auth import create_user

    create_user(session, username="newdesk", name="New Desk", email="n@example.org",
                role=Role.staff, password="quiet harbor 71", actor="test")


@pytest.mark.parametrize("name, value", [
    ("providers", "[click here](https://evil.example/phish)"),
    ("start", "![x](https://evil.example/pixel.png)"),
    ("location", "[x](javascript:alert(1))"),
])
def test_a_query_string_value_quoted_in_a_notice_is_plain_text(clinic, name, value):
    practice, _, _ = clinic
    at = signed_in("boss", practice_id=practice.id)
    at.query_params[name] = value
    at.switch_page(PAGE_FILES["Dashboard"]).run()
    assert not at.exception
    notices = [str(w.value) for w in at.warning]
    assert any("in the link" in notice for notice in notices), notices
    for notice in notices:
        assert "](" not in notice.replace("\\]\\(", ""), notice  # no live link or image



# --- files at rest (issue 12) ---------------------------------------------------------------


def test_sixteen_threads_starting_at_once_agree_on_one_key(data_dir):
    import threading

    from services.settings import cookie_key

    barrier = threading.Barrier(16)
    keys: list[str] = []

    def start():
        barrier.wait()
        keys.append(cookie_key())

    threads = [threading.Thread(target=start) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 16 and len(set(keys)) == 1
    path = data_dir / "cookie_key.key"
    assert path.read_text(encoding="utf-8") == keys[0]
    assert path.stat().st_mode & 0o077 == 0
    assert [p.name for p in data_dir.iterdir() if p.name.endswith(".tmp")] == []


def test_the_sqlite_database_and_its_wal_are_owner_only(tmp_path):
    from sqlalchemy import text as sql

    from services import db

    path = tmp_path / "fresh" / "portal.db"
    engine = db.build_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.execute(sql("CREATE TABLE t (x INTEGER)"))
            connection.execute(sql("INSERT INTO t VALUES (1)"))
        files = [path, Path(f"{path}-wal")]
        assert all(f.exists() for f in files)
        for f in files:
            assert f.stat().st_mode & 0o077 == 0, f"{f.name} is readable by others"
    finally:
        engine.dispose()


def test_an_existing_world_readable_database_is_tightened(tmp_path):
    from services import db

    path = tmp_path / "portal.db"
    path.write_bytes(b"")
    path.chmod(0o644)
    db.build_engine(f"sqlite:///{path}").dispose()
    assert path.stat().st_mode & 0o077 == 0


def _unusable_data_dir(tmp_path) -> Path:
    # A file where the folder should be: refused even to root (permission bits are not).
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    return blocker / "data"


def test_manage_py_names_an_unusable_data_folder_in_one_line(tmp_path):
    import subprocess
    import sys

    data = _unusable_data_dir(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_DATA_DIR"] = str(data)
    result = subprocess.run([sys.executable, "manage.py", "migrate"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "data folder" in lines[0] and "PORTAL_DATA_DIR" in lines[0]


def test_the_app_names_an_unusable_data_folder_without_a_traceback(database_url, tmp_path,
                                                                    monkeypatch):
    monkeypatch.setenv("PORTAL_DATA_DIR", str(_unusable_data_dir(tmp_path)))
    get_settings.cache_clear()
    at = app_test().run()
    assert not at.exception
    assert "data folder" in texts(at) and "PORTAL_DATA_DIR" in texts(at)
    assert not at.text_input


def test_manage_py_refuses_a_deeply_nested_json_file_in_one_line(database_url, tmp_path, capsys):
    import manage

    nested = tmp_path / "mapping.json"
    nested.write_text("[" * 200_000 + "]" * 200_000)
    schedule = tmp_path / "schedule.csv"
    schedule.write_text("MRN\n1\n")
    code = manage.main(["import-schedule", "--practice", "Nowhere", str(schedule),
                        "--mapping", str(nested)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nested too deeply" in err[0]


def test_staff_users_lists_a_users_open_sessions_and_ends_them(clinic, session):
    from services.sessions import create_session, session_username

    practice, _, users = clinic
    desk_session = create_session(session, user_id=users["desk"].id, client="ip:10.0.0.7")
    session.commit()
    at = signed_in("boss", practice_id=practice.id, page=PAGE_FILES["Staff Users"])
    box = next(b for b in at.selectbox if b.label == "Staff user")
    box.set_value(users["desk"].id).run()
    frames = [frame.value for frame in at.dataframe]
    assert any("Address" in f.columns and "10.0.0.7" in f["Address"].tolist() for f in frames)
    next(b for b in at.button if b.label == "End sessions").click().run()
    assert not at.exception
    assert session_username(session, session_id=desk_session) is None
    assert "Ended the sessions of desk" in texts(at)


# --- CSV exports neutralise formulas (issue 12) -----------------------------------------------

HYPERLINK = '=HYPERLINK("http://x","y")'


@pytest.fixture
def imported_formula(session):
    """A schedule import whose patient is named =HYPERLINK(...), seen three days ago."""
    import csv as csv_module
    import io

    from services import schedule_import

    practice = make_practice(session, name="Sunny Peds", timezone="America/New_York")
    make_provider(session, practice, name="Dr. Ada Lee")
    make_location(session, practice, name="Main Street")
    session.commit()
    visit = dt.date.today() - dt.timedelta(days=3)
    row = {"MRN": "M-1", "Patient First Name": "+Sofia", "Patient Last Name": HYPERLINK,
           "Date of Birth": "05/02/2019", "Appointment ID": HYPERLINK,
           "Appointment Date": f"{visit:%m/%d/%Y}", "Appointment Time": "9:30 AM",
           "Provider": "Dr. Ada Lee", "Location": "Main Street", "Visit Type": "Well Child",
           "Status": "Completed", "Guardian First Name": "Maria", "Guardian Last Name": "Rivera",
           "Relationship": "Mother", "Guardian Email": "maria@example.com"}
    buffer = io.StringIO()
    writer = csv_module.DictWriter(buffer, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    report = schedule_import.import_schedule(
        session, practice_id=practice.id, data=buffer.getvalue().encode(), filename="s.csv",
        actor="boss")
    session.commit()
    assert report.committed, report.rejected
    return practice, report, visit


def _cells(text: str) -> list[str]:
    import csv as csv_module
    import io

    return [cell for row in csv_module.reader(io.StringIO(text.lstrip("\ufeff")))
            for cell in row]


def _no_formula(cells: list[str]) -> None:
    assert "'" + HYPERLINK in cells or any(c.startswith("'=HYPERLINK") for c in cells), cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells


def test_the_import_report_csv_neutralises_formulas(imported_formula):
    from services import schedule_import

    _, report, _ = imported_formula
    _no_formula(_cells(schedule_import.report_csv(report).decode("utf-8-sig")))


def test_the_patients_missing_the_measure_csv_neutralises_formulas(imported_formula, session):
    from services.enrollment import EnrollmentScope, export_patients_missing_access_csv

    practice, _, visit = imported_formula
    text = export_patients_missing_access_csv(
        session, scope=EnrollmentScope(practice_id=practice.id, start=visit, end=visit))
    _no_formula(_cells(text))


def test_the_audit_log_csv_neutralises_formulas(imported_formula, session):
    from models import Patient
    from services.audit import export_audit_csv, record_event

    practice, _, _ = imported_formula
    patient = session.exec(select(Patient)).one()
    record_event(session, actor="desk", action="registration", practice_id=practice.id,
                 patient_id=patient.id, note=HYPERLINK)
    session.commit()
    text = export_audit_csv(session, practice_id=practice.id, timezone=practice.timezone)
    _no_formula(_cells(text.decode("utf-8-sig")))


def test_a_parent_cannot_choose_a_common_password(session):
    from services.activation_form import check_account_form
    from services.errors import InvalidInput

    with pytest.raises(InvalidInput, match="most common passwords") as refused:
        check_account_form("parent@example.org", "Password1234", repeat_password="Password1234",
                           existing_account=False)
    assert refused.value.field == "password"


def test_a_deeply_nested_json_upload_is_refused_with_a_message(session):
    from services import schedule_import
    from services.errors import InvalidInput

    practice = make_practice(session, name="Sunny Peds")
    session.commit()
    with pytest.raises(InvalidInput, match="nested too deeply") as refused:
        schedule_import.import_schedule(
            session, practice_id=practice.id, data=b"[" * 200_000 + b"]" * 200_000,
            filename="bundle.json", actor="boss")
    assert refused.value.field == "file"
