"""The Dashboard's `Access due by` column and `Access due` filter in AppTest."""

from __future__ import annotations

import datetime as dt

from models import AppointmentStatus
from services.enrollment_cohort import access_deadline
from tests.factories import make_patient
from tests.pages.test_dashboard import Clinic, clinic, local, open_dashboard, rows, today  # noqa: F401


def add_completed(clinic: Clinic, days_ago: int, name: str):  # noqa: F811
    patient = make_patient(clinic.session, clinic.practice, first_name=name, last_name="Visit",
                           mrn=f"MRN-{name}")
    clinic.visit(patient, local(today() - dt.timedelta(days=days_ago), 9), clinic.main,
                 clinic.dr_a, status=AppointmentStatus.completed)
    clinic.session.commit()
    return patient


def test_completed_visit_shows_its_deadline_and_the_filter_finds_it(clinic):  # noqa: F811
    add_completed(clinic, 20, "Old")
    add_completed(clinic, 0, "Fresh")
    start = (today() - dt.timedelta(days=20)).isoformat()
    at = open_dashboard(clinic, start=start)
    table = rows(at)
    old = table[table["Patient"] == "Visit, Old"].iloc[0]
    visit_day = today() - dt.timedelta(days=20)
    assert old["Access due by"] == access_deadline(visit_day, holidays=set())
    assert old["Access due"] == "Overdue"
    fresh = table[table["Patient"] == "Visit, Fresh"].iloc[0]
    assert fresh["Access due by"] == access_deadline(today(), holidays=set())
    assert fresh["Access due"].startswith("Due")
    scheduled = table[table["Patient"] == "Rivera, Sam"].iloc[0]
    assert scheduled["Access due"] == ""  # not seen yet: no deadline

    at.sidebar.selectbox(key="_filters_access_due").set_value("Overdue").run()
    assert not at.exception
    assert list(rows(at)["Patient"]) == ["Visit, Old"]
    assert at.query_params["due"] == "overdue"


def test_access_due_from_a_link_and_a_bad_link(clinic):  # noqa: F811
    add_completed(clinic, 20, "Old")
    start = (today() - dt.timedelta(days=20)).isoformat()
    at = open_dashboard(clinic, start=start, due="overdue")
    assert list(rows(at)["Patient"]) == ["Visit, Old"]
    at = open_dashboard(clinic, start=start, due="someday")
    assert any("Access due “someday”" in str(w.value) for w in at.warning)
    assert "Visit, Old" in list(rows(at)["Patient"])
