"""`python manage.py register-bulk`: dry run changes nothing; a run invites and writes letters."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

from pypdf import PdfReader
from sqlmodel import func, select

import manage
from models import Enrollment
from tests.factories import make_appointment, make_guardian, make_patient, make_practice

ZONE = zoneinfo.ZoneInfo("America/New_York")
DAY = dt.date.today() - dt.timedelta(days=1)


def visit(session, practice, name, email):
    patient = make_patient(session, practice, first_name=name, last_name="Lane")
    if email is not None:
        make_guardian(session, practice, patients=[patient], email=email)
    make_appointment(session, practice, patient=patient, start_at=dt.datetime.combine(
        DAY, dt.time(10), tzinfo=ZONE).astimezone(dt.UTC))


def enrollments(session) -> int:
    session.expire_all()
    count = session.exec(select(func.count()).select_from(Enrollment)).one()
    session.commit()  # end the read: the command writes next
    return count


def test_register_bulk_dry_run_then_run(session, tmp_path, capsys):
    practice = make_practice(session, name="Bay Kids", timezone="America/New_York")
    visit(session, practice, "Ivy", "ivy.parent@example.org")
    visit(session, practice, "Jo", None)
    session.commit()
    args = ["register-bulk", "--practice", "Bay Kids", "--start", DAY.isoformat(),
            "--end", DAY.isoformat()]
    assert manage.main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 to invite" in out and "skipped 1: No guardian on file" in out
    assert enrollments(session) == 0

    letters = tmp_path / "letters.pdf"
    assert manage.main([*args, "--letters", str(letters)]) == 0
    assert "1 registered." in capsys.readouterr().out
    assert enrollments(session) == 1
    assert "Ivy Lane" in PdfReader(io.BytesIO(letters.read_bytes())).pages[0].extract_text()


def test_register_bulk_names_an_opted_out_family(session, capsys):
    from services.text_opt_out import add_opt_out

    practice = make_practice(session, name="Bay Kids", timezone="America/New_York")
    visit(session, practice, "Kai", None)
    patient = make_patient(session, practice, first_name="Lu", last_name="Lane")
    make_guardian(session, practice, patients=[patient], email=None, cell_phone="+16175550155")
    make_appointment(session, practice, patient=patient, start_at=dt.datetime.combine(
        DAY, dt.time(11), tzinfo=ZONE).astimezone(dt.UTC))
    add_opt_out(session, phone="+16175550155", actor="admin")
    session.commit()
    assert manage.main(["register-bulk", "--practice", "Bay Kids", "--start", DAY.isoformat(),
                        "--end", DAY.isoformat(), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "skipped 1: Opted out of texts (STOP) and no guardian email on file" in out
    assert "skipped 1: No guardian on file" in out


def test_register_bulk_refuses_unknown_practice_and_bad_dates(session, capsys):
    assert manage.main(["register-bulk", "--practice", "Nowhere", "--start", "2024-01-01",
                        "--end", "2024-01-01"]) == 2
    assert "unknown practice" in capsys.readouterr().err
    assert manage.main(["register-bulk", "--practice", "Nowhere", "--start", "01/02/2024",
                        "--end", "2024-01-01"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
