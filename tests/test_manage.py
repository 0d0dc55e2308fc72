"""manage.py: every command on a temporary database, and each failure."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import func, select

import manage
from models import Appointment, Enrollment, Patient, Practice, StaffUser
from services.db import session_scope

ROOT = Path(__file__).resolve().parent.parent


def run(monkeypatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return manage.main(list(argv))


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "manage.py", "--help"], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    for name in ("migrate", "setup-token", "create-practice", "create-user", "seed-demo",
                 "worker", "backup", "restore", "export-audit"):
        assert name in result.stdout


def test_migrate(database_url, monkeypatch, capsys):
    assert run(monkeypatch, "migrate") == 0
    assert "Database at head" in capsys.readouterr().out


def test_create_practice_and_user(database_url, monkeypatch, capsys):
    assert run(monkeypatch, "create-practice", "Sunny Peds", "--timezone", "America/Chicago") == 0
    assert run(monkeypatch, "create-user", "pat", "--name", "Pat P", "--email", "pat@example.com",
               "--role", "supervisor", "--practice", "Sunny Peds", "--password-stdin",
               stdin="a-long-password\n") == 0
    with session_scope(read_only=True) as session:
        practice_id = session.exec(select(Practice.id)).one()
    assert capsys.readouterr().out.splitlines()[-2:] == [
        f"Created practice “Sunny Peds” (id {practice_id}, America/Chicago).",
        "Created supervisor “pat”."]
    with session_scope(read_only=True) as session:
        user = session.exec(select(StaffUser).where(StaffUser.username == "pat")).one()
        assert user.role == "supervisor"
        assert user.password_hash.startswith("$2")


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["create-practice", "X", "--timezone", "Mars/Base"], "", "not an IANA timezone"),
        (["create-user", "u1", "--name", "U", "--email", "u@example.com", "--role", "staff",
          "--practice", "Nowhere", "--password-stdin"], "a-long-password\n",
         "Unknown practice “Nowhere”: create it first with create-practice."),
        (["create-user", "u2", "--name", "U", "--email", "u@example.com", "--role", "boss",
          "--practice", "Sunny Peds", "--password-stdin"], "a-long-password\n",
         "Unknown role “boss”: choose admin, staff or supervisor."),
        (["create-user", "u3", "--name", "U", "--email", "u@example.com", "--role", "staff",
          "--practice", "Sunny Peds", "--password-stdin"], "\n", "Password is empty"),
        (["create-user", "u4", "--name", "U", "--email", "u@example.com", "--role", "staff",
          "--practice", "Sunny Peds"], "", "--password-stdin"),
        (["create-practice", "Sunny Peds", "--timezone", "UTC"], "",
         "Practice “Sunny Peds” already exists."),
        (["seed-demo", "--appointments", "0"], "", "at least 1"),
    ],
)
def test_bad_input_fails_with_one_clear_line(database_url, monkeypatch, capsys, argv, stdin,
                                             message):
    assert run(monkeypatch, "create-practice", "Sunny Peds", "--timezone", "UTC") == 0
    capsys.readouterr()
    assert run(monkeypatch, *argv, stdin=stdin) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1


def test_duplicate_user_fails(database_url, monkeypatch, capsys):
    run(monkeypatch, "create-practice", "P", "--timezone", "UTC")
    argv = ["create-user", "dup", "--name", "D", "--email", "d@example.com", "--role", "staff",
            "--practice", "P", "--password-stdin"]
    assert run(monkeypatch, *argv, stdin="a-long-password\n") == 0
    assert run(monkeypatch, *argv, stdin="a-long-password\n") == 2
    assert "already exists" in capsys.readouterr().err


def _counts(session):
    return {
        table.__name__: session.exec(select(func.count()).select_from(table)).one()
        for table in (Practice, Patient, Appointment, Enrollment)
    }


def test_seed_demo_is_realistic_and_deterministic(database_url, monkeypatch):
    assert run(monkeypatch, "seed-demo", "--practice", "Demo A", "--appointments", "800",
               "--patients", "150", "--seed", "3") == 0
    assert run(monkeypatch, "seed-demo", "--practice", "Demo B", "--appointments", "800",
               "--patients", "150", "--seed", "3") == 0
    with session_scope(read_only=True) as session:
        a, b = (session.exec(select(Practice).where(Practice.name == name)).one()
                for name in ("Demo A", "Demo B"))

        def shape(practice):
            rows = session.exec(
                select(Appointment.start_at, Appointment.status, Appointment.visit_type)
                .where(Appointment.practice_id == practice.id).order_by(Appointment.id)
            ).all()
            statuses = session.exec(
                select(Enrollment.status, func.count()).where(Enrollment.practice_id == practice.id)
                .group_by(Enrollment.status)
            ).all()
            return rows, sorted(statuses)

        assert shape(a) == shape(b)  # same seed, same practice
        rows, statuses = shape(a)
        assert len(rows) == 800
        assert {status for status, _ in statuses} >= {"invited", "active", "locked", "declined"}
        from zoneinfo import ZoneInfo
        zone = ZoneInfo(a.timezone)
        hours = {start.astimezone(zone).hour for start, _, _ in rows}
        assert min(hours) >= 8 and max(hours) <= 16


def test_text_opt_out_add_list_remove(database_url, monkeypatch, capsys):
    assert run(monkeypatch, "text-opt-out", "add", "(617) 555-0123", "--note", "replied STOP") == 0
    assert run(monkeypatch, "text-opt-out", "list") == 0
    out = capsys.readouterr().out
    assert "(617) 555-0123" in out and "replied STOP" in out and "1 number(s)" in out
    assert run(monkeypatch, "text-opt-out", "remove", "6175550123") == 0
    assert run(monkeypatch, "text-opt-out", "remove", "6175550123") == 2
    assert "not on the text opt-out list" in capsys.readouterr().err
    assert run(monkeypatch, "text-opt-out", "add", "555-12") == 2
    assert "Cell phone number" in capsys.readouterr().err
def test_setup_token_is_printed_before_any_browser_and_creates_the_first_admin(
        database_url, monkeypatch, capsys):
    from services.setup import create_first_admin

    assert run(monkeypatch, "setup-token") == 0
    token = capsys.readouterr().out.split("setup token: ")[1].split()[0]
    assert run(monkeypatch, "setup-token") == 0  # the same token until it is used
    assert capsys.readouterr().out.split("setup token: ")[1].split()[0] == token
    with session_scope() as session:
        create_first_admin(session, token=token, username="admin", name="Ada Admin",
                           email="ada@example.com", password="a-long-password",
                           password_repeat="a-long-password")
    assert run(monkeypatch, "setup-token") == 2
    assert "setup is done" in capsys.readouterr().err
