"""Reminder benchmark: prints as JSON how long one `send_reminders` run takes over a practice
with many invited, unactivated enrollments (a tenth of them due a reminder now).

    .venv/bin/python bench/reminders.py [--invited 20000] [--url URL]

Nothing is sent (no SMTP): reminders are queued as held messages. The database is a fresh
SQLite file unless --url names another (PostgreSQL: an empty scratch database).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_portal  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invited", type=int, default=20_000)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    url = scratch_portal("reminders", args.url)

    from sqlalchemy import insert

    from models import Enrollment, Guardian, Patient, Practice, utcnow
    from services import db
    from services.reminders import send_reminders

    db.migrate(url)
    now = utcnow()
    with db.session_scope() as session:
        practice = Practice(name="Bench Pediatrics")
        session.add(practice)
        session.flush()
        patients = [{"practice_id": practice.id, "mrn": f"B{n}", "first_name": "Kid",
                     "last_name": f"Bench{n}", "date_of_birth": dt.date(2018, 1, 1)}
                    for n in range(args.invited)]
        patient_ids = session.execute(insert(Patient).returning(Patient.id), patients
                                      ).scalars().all()
        guardians = [{"practice_id": practice.id, "first_name": "Parent", "last_name": f"B{n}",
                      "email": f"parent{n}@example.com",
                      "preferred_language": "es" if n % 3 == 0 else "en"}
                     for n in range(args.invited)]
        guardian_ids = session.execute(insert(Guardian).returning(Guardian.id), guardians
                                       ).scalars().all()
        # Issued over the last 30 days: about one in ten is at a reminder point today.
        session.execute(insert(Enrollment), [
            {"practice_id": practice.id, "patient_id": patient_id, "guardian_id": guardian_id,
             "secret_hash": "x", "link_token": secrets.token_urlsafe(18),
             "email": f"parent{n}@example.com",
             "issued_at": now - dt.timedelta(days=n % 30, hours=1),
             "expires_at": now - dt.timedelta(days=n % 30, hours=1) + dt.timedelta(days=14)}
            for n, (patient_id, guardian_id) in enumerate(zip(patient_ids, guardian_ids,
                                                              strict=True))])
    with db.session_scope() as session:
        started = time.perf_counter()
        first = send_reminders(session, limit=args.invited)
        first_seconds = time.perf_counter() - started
    with db.session_scope() as session:
        started = time.perf_counter()
        second = send_reminders(session, limit=args.invited)
        second_seconds = time.perf_counter() - started
    print(json.dumps({
        "database": url.split(":", 1)[0], "invited": args.invited,
        "first_run": {"seconds": round(first_seconds, 2), "reminded": first.reminded,
                      "passed_over": first.passed_over},
        "second_run": {"seconds": round(second_seconds, 2), "reminded": second.reminded},
    }, indent=2))


if __name__ == "__main__":
    main()
