"""Audit retention: export older events to a neutralised CSV; prune only what was archived and
is past six years and the practice's own retention."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from sqlmodel import select

import manage
from models import AuditEvent
from services.audit_archive import export_audit, years_before
from services.errors import Conflict, InvalidInput
from services.spreadsheet import neutralise_cell
from tests.factories import make_practice

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def event(session, *, years_ago: float, practice=None, detail: str = "", actor: str = "sam"):
    at = NOW - dt.timedelta(days=round(365.25 * years_ago))
    row = AuditEvent(at=at, actor=actor, action="registration", detail=detail,
                     practice_id=practice.id if practice else None)
    session.add(row)
    session.flush()
    return row.id


def read(path):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def ids(session):
    return set(session.exec(select(AuditEvent.id)).all())


@pytest.mark.parametrize(("value", "shown"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("plain", "plain"), (None, None), (7, 7),
])
def test_cells_that_would_run_as_formulas_are_neutralised(value, shown):
    assert neutralise_cell(value) == shown


def test_years_before_keeps_the_day_and_handles_leap_days():
    assert years_before(NOW, 6) == dt.datetime(2020, 6, 1, 12, tzinfo=dt.UTC)
    leap = dt.datetime(2024, 2, 29, tzinfo=dt.UTC)
    assert years_before(leap, 6) == dt.datetime(2018, 2, 28, tzinfo=dt.UTC)


def test_export_writes_older_events_only_and_deletes_nothing(session, tmp_path):
    practice = make_practice(session)
    old = event(session, years_ago=8, practice=practice, detail='{"note": "=cmd|calc"}',
                actor="-attacker")
    young = event(session, years_ago=1, practice=practice)
    session.commit()
    report = export_audit(session, before=dt.date(2019, 1, 1), dest=tmp_path / "a.csv", now=NOW)
    rows = read(tmp_path / "a.csv")
    assert report.exported == 1 and report.pruned == 0
    assert [int(row["id"]) for row in rows] == [old]
    assert rows[0]["actor"] == "'-attacker"
    assert rows[0]["detail"] == '{"note": "=cmd|calc"}'  # starts with "{": left as it is
    assert ids(session) >= {old, young}


def test_prune_removes_only_archived_events_past_every_retention(session, tmp_path):
    six = make_practice(session)
    ten = make_practice(session, audit_retention_years=10)
    gone = event(session, years_ago=8, practice=six)
    system = event(session, years_ago=8)
    kept_by_ten = event(session, years_ago=8, practice=ten)
    old_for_ten = event(session, years_ago=11, practice=ten)
    recent = event(session, years_ago=2, practice=six)
    session.commit()

    report = export_audit(session, before=dt.date(2020, 1, 1), dest=tmp_path / "b.csv",
                          prune=True, now=NOW)

    archived = {int(row["id"]) for row in read(tmp_path / "b.csv")}
    assert archived == {gone, system, kept_by_ten, old_for_ten}
    left = ids(session)
    assert not left & {gone, system, old_for_ten}
    assert {kept_by_ten, recent} <= left
    assert (report.exported, report.pruned, report.kept_by_retention) == (4, 3, 1)
    trail = session.exec(select(AuditEvent).where(AuditEvent.action == "audit_pruned")).one()
    assert '"pruned": 3' in trail.detail


def test_prune_refuses_a_date_inside_six_years_and_writes_nothing(session, tmp_path):
    event(session, years_ago=5)
    session.commit()
    before = ids(session)
    with pytest.raises(InvalidInput, match="6-year audit retention"):
        export_audit(session, before=dt.date(2021, 1, 1), dest=tmp_path / "c.csv", prune=True,
                     now=NOW)
    assert not (tmp_path / "c.csv").exists()
    assert ids(session) == before


def test_an_existing_archive_is_never_overwritten(session, tmp_path):
    (tmp_path / "d.csv").write_text("precious")
    with pytest.raises(Conflict, match="already exists"):
        export_audit(session, before=dt.date(2019, 1, 1), dest=tmp_path / "d.csv", now=NOW)
    assert (tmp_path / "d.csv").read_text() == "precious"


def test_the_command_archives_and_fails_in_one_line(database_url, tmp_path, capsys):
    assert manage.main(["export-audit", str(tmp_path / "e.csv"), "--before", "2015-01-01"]) == 0
    assert "Archived 0 audit events" in capsys.readouterr().out
    assert manage.main(["export-audit", str(tmp_path / "f.csv"), "--before", "01/02/2015"]) == 2
    assert "--before must be a date" in capsys.readouterr().err
    assert manage.main(["export-audit", str(tmp_path / "g.csv"), "--before", "2099-01-01",
                        "--prune"]) == 2
    assert "6-year audit retention" in capsys.readouterr().err
