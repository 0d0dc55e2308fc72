"""Bulk invitations benchmark: plans and runs `Register all` for one day of --patients patients
(each with a guardian email on file), then renders the combined letters; prints seconds as JSON.

    .venv/bin/python bench/bulk_registration.py [--patients 500] [--url URL]

SMTP is excluded: nothing is configured, so the welcome emails are held in the outbox. Target:
500 patients in at most 60 s on SQLite (plan + run; the letters PDF is reported apart).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_portal  # noqa: E402

TARGET_SECONDS = 60.0


def _fill(session, count: int, day: dt.date) -> int:
    from tests.factories import make_location, make_practice, make_provider, make_visit

    practice = make_practice(session, name="Bulk Bench Pediatrics", timezone="America/New_York")
    location = make_location(session, practice, name="Main Street")
    provider = make_provider(session, practice, name="Dr. Bench")
    start = dt.datetime.combine(day, dt.time(13), tzinfo=dt.UTC)
    for index in range(count):
        # Every fifth family has two children: their letters share a page.
        email = f"parent{index // 2 if index % 5 == 0 else index}@example.org"
        make_visit(session, practice, start_at=start + dt.timedelta(seconds=index * 30),
                   location=location, provider=provider, mrn=f"B{index:06d}",
                   first_name=f"Kid{index}", last_name="Bench", date_of_birth=dt.date(2015, 1, 1),
                   guardian={"first_name": "Parent", "last_name": f"P{index}", "email": email,
                             "cell_phone": None})
    return practice.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=500)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    url = scratch_portal("bulk", args.url)

    from services import db
    from services.bulk_registration import plan_bulk, render_bulk_letters, run_bulk
    from services.schedule import ScheduleCriteria
    from services.senders import senders_from_settings

    db.migrate(url)
    day = dt.date.today() - dt.timedelta(days=1)
    with db.session_scope() as session:
        practice_id = _fill(session, args.patients, day)
    senders = senders_from_settings()
    assert senders.mailer is None, "SMTP must be unconfigured: messages are held"

    started = time.perf_counter()
    with db.session_scope(read_only=True) as session:
        plan = plan_bulk(session, practice_id=practice_id,
                         criteria=ScheduleCriteria(start=day - dt.timedelta(days=1),
                                                   end=day + dt.timedelta(days=1)))
    planned = time.perf_counter()
    outcome = run_bulk(plan, practice_id=practice_id, actor="bench", senders=senders)
    ran = time.perf_counter()
    letters = render_bulk_letters(outcome)
    rendered = time.perf_counter()
    total = ran - started
    print(json.dumps({
        "bench": "bulk_registration",
        "database": url.split(":", 1)[0],
        "patients": args.patients,
        "registered": len(outcome.registered),
        "failed": len(outcome.failed),
        "plan_s": round(planned - started, 2),
        "run_s": round(ran - planned, 2),
        "plan_and_run_s": round(total, 2),
        "per_patient_ms": round(1000 * (ran - planned) / max(1, len(outcome.registered)), 1),
        "letters_s": round(rendered - ran, 2),
        "letters_pages_families": len(outcome.families),
        "letters_bytes": len(letters),
        "target_s": TARGET_SECONDS,
        "meets_target": total <= TARGET_SECONDS,
        "outbox": "held (no SMTP)",
    }))
    db.dispose_engines()


if __name__ == "__main__":
    main()
