"""manage.py import-schedule: imports, re-imports, saved and given mappings, clear failures."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import func, select

import manage
from models import Appointment, Location, Patient, Provider
from services.db import session_scope
from tests.factories import make_location, make_practice, make_provider

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "tests" / "fixtures" / "schedule_bundle.json"
HEADER = "MRN,First Name,Last Name,DOB,Appointment ID,Date,Time,Provider,Location\n"
ROWS = ("M-100,Sofia,Rivera,05/02/2019,A-1,03/14/2030,9:30 AM,Dr. Ada Lee,Main Street\n"
        "M-200,Theo,Okafor,2016-11-20,A-2,03/14/2030,10:00,Dr. Ada Lee,Main Street\n")


@pytest.fixture
def practice(session):
    practice = make_practice(session, name="Sunny Peds", timezone="America/New_York")
    make_provider(session, practice, name="Dr. Ada Lee")
    make_location(session, practice, name="Main Street")
    session.commit()
    return practice


def _file(tmp_path, text: str, name: str = "schedule.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _count(table) -> int:
    with session_scope(read_only=True) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def test_import_then_reimport_changes_nothing(practice, tmp_path, capsys):
    path = _file(tmp_path, HEADER + ROWS)
    assert manage.main(["import-schedule", path, "--practice", "Sunny Peds"]) == 0
    assert "Imported 2 of 2 rows: 2 created" in capsys.readouterr().out
    assert manage.main(["import-schedule", path, "--practice", "Sunny Peds"]) == 0
    assert "0 created, 0 updated, 2 unchanged" in capsys.readouterr().out
    assert (_count(Patient), _count(Appointment)) == (2, 2)


def test_a_mapping_given_as_json_is_used_and_saved(practice, tmp_path, capsys):
    text = (HEADER + ROWS).replace("MRN,", "Chart No.,", 1)
    path = _file(tmp_path, text)
    mapping = json.dumps({"mrn": "Chart No."})
    assert manage.main(["import-schedule", path, "--practice", "Sunny Peds",
                        "--mapping", mapping]) == 0
    # The next run finds the saved mapping without being told.
    assert manage.main(["import-schedule", path, "--practice", "Sunny Peds"]) == 0
    assert "2 unchanged" in capsys.readouterr().out


def test_a_mapping_file_is_read(practice, tmp_path):
    text = (HEADER + ROWS).replace("MRN,", "Chart No.,", 1)
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"mrn": "Chart No."}', encoding="utf-8")
    assert manage.main(["import-schedule", _file(tmp_path, text), "--practice", "Sunny Peds",
                        "--mapping", str(mapping)]) == 0


def test_a_file_with_a_bad_row_fails_and_imports_nothing(practice, tmp_path, capsys):
    path = _file(tmp_path, HEADER + ROWS + "M-300,Ivy,Chen,13/45/2020,A-3,03/14/2030,11:00,"
                                          "Dr. Ada Lee,Main Street\n")
    report = tmp_path / "report.csv"
    assert manage.main(["import-schedule", path, "--practice", "Sunny Peds",
                        "--report", str(report)]) == 2
    err = capsys.readouterr().err
    assert "Row 4: Date of birth “13/45/2020” is not a date" in err
    assert err.strip().splitlines()[-1].startswith("error: Nothing was imported: 1 of 3 rows")
    assert _count(Appointment) == 0
    lines = list(csv.reader(io.StringIO(report.read_text(encoding="utf-8-sig"))))
    assert lines[-1][:3] == ["4", "A-3", "rejected"]


def test_keep_valid_and_create_missing(practice, tmp_path, capsys):
    path = _file(tmp_path, HEADER + ROWS.replace("Main Street", "Annex", 1)
                 + "M-300,Ivy,Chen,13/45/2020,A-3,03/14/2030,11:00,Dr. Ada Lee,Main Street\n")
    assert manage.main(["import-schedule", path, "--practice", "Sunny Peds", "--keep-valid",
                        "--create-missing"]) == 0
    captured = capsys.readouterr()
    assert "Imported 2 of 3 rows" in captured.out and "Annex" in captured.out
    assert "Row 4:" in captured.err
    assert (_count(Appointment), _count(Location), _count(Provider)) == (2, 2, 1)


def test_a_fhir_bundle_is_imported(practice, capsys):
    assert manage.main(["import-schedule", str(BUNDLE), "--practice", "Sunny Peds"]) == 0
    assert "Imported 3 of 3 entries" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["missing.csv", "--practice", "Sunny Peds"], "error: no such file: missing.csv"),
    (["{file}", "--practice", "Nowhere"], "error: unknown practice “Nowhere”"),
    (["{file}", "--practice", "Sunny Peds", "--mapping", "{mrn"],
     "error: --mapping is not valid JSON"),
    (["{file}", "--practice", "Sunny Peds", "--mapping", "[1]"],
     "error: --mapping must be a JSON object"),
    (["{file}", "--practice", "Sunny Peds", "--mapping", '{"mrn": "Chart"}'],
     "error: Missing columns: “Chart” (for MRN) not in the file"),
    (["{latin1}", "--practice", "Sunny Peds"], "error: The file is not UTF-8 text"),
])
def test_bad_input_fails_with_one_line(practice, tmp_path, capsys, argv, message):
    good = _file(tmp_path, HEADER + ROWS)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes((HEADER + ROWS.replace("Sofia", "Sofía")).encode("latin-1"))
    argv = [{"{file}": good, "{latin1}": str(latin1)}.get(a, a) for a in argv]
    assert manage.main(["import-schedule", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message), err


def test_help_lists_import_schedule():
    result = subprocess.run([sys.executable, "manage.py", "--help"], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert "import-schedule" in result.stdout
