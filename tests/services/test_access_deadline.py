"""The Dashboard's access deadline and `Access due` filter on the Enrollment page's fixture
(tests/services/test_enrollment.py's docstring has the table): both must agree."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, select

from models import Patient
from services import enrollment
from services.access_deadline import AccessDue, first_access, parse_access_due
from services.errors import InvalidInput
from services.schedule import ScheduleCriteria, list_schedule, summarize_schedule
from tests.services.test_enrollment import END, NOW, START, local, scope, sunny  # noqa: F401


def listed(session, ids, *, now, due=None, start=START, end=END):
    criteria = ScheduleCriteria(start=start, end=end, access_due=due)
    page = list_schedule(session, practice_id=ids["practice"], criteria=criteria, now=now,
                         page_size=500)
    return page.rows


def marks(session, ids, *, now, **kw):
    return {row.mrn: (row.access.due_by, row.access.label) for row in
            listed(session, ids, now=now, **kw) if row.access}


def test_friday_visit_is_due_wednesday_and_given_on_wednesday_counts(session, sunny):  # noqa: F811
    wednesday = dt.date(2024, 11, 6)
    found = marks(session, sunny, now=local("11-19", "12:00"))
    assert found["MRN-P1"] == (wednesday, "Given")  # PIN Wed 23:30
    assert found["MRN-P2"] == (wednesday, "Given late")  # PIN Thu 00:30: misses


def test_deadline_words_before_the_pin(session, sunny):  # noqa: F811
    wednesday = dt.date(2024, 11, 6)
    assert marks(session, sunny, now=local("11-05", "12:00"))["MRN-P1"] == (
        wednesday, "Due tomorrow")
    assert marks(session, sunny, now=local("11-06", "12:00"))["MRN-P2"] == (wednesday, "Due today")
    # Thursday 00:15: P1 was given access on Wednesday, P2's PIN comes at 00:30.
    thursday = marks(session, sunny, now=local("11-07", "00:15"))
    assert thursday["MRN-P1"] == (wednesday, "Given")
    assert thursday["MRN-P2"] == (wednesday, "Overdue")


def test_only_completed_or_arrived_visits_have_a_deadline(session, sunny):  # noqa: F811
    rows = listed(session, sunny, now=NOW)
    p6 = [row for row in rows if row.mrn == "MRN-P6"]
    assert p6 and all(row.access is None for row in p6)  # cancelled, no-show, scheduled


def test_filter_agrees_with_the_enrollment_measure(session, sunny):  # noqa: F811
    # At NOW (Tue 11-19): P8 (Wed 11-13, due Mon 11-18) is overdue; P9 (Fri 11-15, due Wed
    # 11-20) is due tomorrow and "still in time" on the Enrollment page.
    overdue = {row.mrn for row in listed(session, sunny, now=NOW, due=AccessDue.overdue)}
    soon = {row.mrn for row in listed(session, sunny, now=NOW, due=AccessDue.due_soon)}
    today = {row.mrn for row in listed(session, sunny, now=NOW, due=AccessDue.due_today)}
    assert overdue == {"MRN-P8"}
    assert soon == {"MRN-P9"}
    assert today == set()
    missing = enrollment.list_patients_missing_access(session, scope=scope(sunny), now=NOW)
    never_given = missing[missing["Access given"].isna()]
    assert set(never_given["MRN"]) == overdue | soon
    assert set(never_given[never_given["Still in time"]]["MRN"]) == soon


def test_filter_on_thursday_lists_the_friday_visit_that_missed(session, sunny):  # noqa: F811
    now = local("11-07", "00:15")
    overdue = listed(session, sunny, now=now, due=AccessDue.overdue)
    assert {row.mrn for row in overdue} == {"MRN-P2"}
    summary = summarize_schedule(session, practice_id=sunny["practice"], now=now,
                                 criteria=ScheduleCriteria(start=START, end=END,
                                                           access_due=AccessDue.overdue))
    assert summary.appointments == 1
    due_today = listed(session, sunny, now=local("11-06", "12:00"), due=AccessDue.due_today)
    assert {row.mrn for row in due_today} == {"MRN-P1", "MRN-P2"}


def test_parse_access_due_names_the_field():
    assert parse_access_due("overdue") is AccessDue.overdue
    assert parse_access_due("Due today") is AccessDue.due_today
    assert parse_access_due("") is None
    with pytest.raises(InvalidInput) as error:
        parse_access_due("someday")
    assert error.value.field == "access_due"


def test_first_access_reads_the_patients_not_the_whole_practice(session, sunny):  # noqa: F811
    # The Dashboard marks each listed page's visits (up to 100 patients): the lookups must go
    # by patient. SQLite without statistics read every enrollment the practice issued up to
    # now through ix_enrollment_practice_issued instead (200 ms of a 30-day window at
    # 1,000,000 visits), and every portal account of the practice.
    bind = session.get_bind()
    mrns = dict(session.execute(select(Patient.id, Patient.mrn).where(
        Patient.practice_id == sunny["practice"])).all())
    page = [*mrns, *range(100_000, 100_100)]  # a full page: the plan depends on the list
    statements = []

    def remember(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    event.listen(bind, "before_cursor_execute", remember)
    try:
        given = first_access(session, practice_id=sunny["practice"], patient_ids=page, now=NOW)
    finally:
        event.remove(bind, "before_cursor_execute", remember)
    # PINs issued by NOW; P11 through a sibling's account.
    assert {mrns[patient_id] for patient_id in given} == {
        f"MRN-P{n}" for n in (1, 2, 3, 4, 5, 7, 10, 11)}
    assert len(statements) == 2
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL plans from its statistics; the figures above are its check
    for statement, parameters in statements:
        plan = [str(row[-1]) for row in session.connection().exec_driver_sql(
            f"EXPLAIN QUERY PLAN {statement}", parameters)]
        assert "(patient_id=?)" in plan[0], plan  # the first table read by patient
