"""Registration benchmark: prints the p50/p95 of `register_patient` (one unit of work each:
PIN, hash, enrollment, sealed outbox message, audit events, commit) as JSON.

    .venv/bin/python bench/registration.py [--runs 200] [--patients 5000] [--url URL]

SMTP is excluded: nothing is configured, so messages are held in the outbox. By default the
database is a fresh SQLite file in a temporary folder, filled with a demo practice of
--patients patients (seed-demo's generator); --url points it at another database instead
(PostgreSQL: use an empty scratch database, it is migrated and filled).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_portal  # noqa: E402

TARGET_P50_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    url = scratch_portal("registration", args.url)

    from sqlmodel import select

    from models import Enrollment, Guardian, PatientGuardian
    from services import db, registration
    from services.demo import seed_demo
    from services.registration_form import RegistrationForm
    from services.senders import senders_from_settings

    db.migrate(url)
    needed = args.runs + args.warmup
    with db.session_scope() as session:
        summary = seed_demo(session, practice_name="Bench Pediatrics", patients=max(
            args.patients, needed * 3), appointments=max(args.patients, needed * 3), seed=11)
    senders = senders_from_settings()
    assert senders.mailer is None, "SMTP must be unconfigured: messages are held"

    # Patients with a guardian and no live enrollment: each registration is a real first one.
    with db.session_scope(read_only=True) as session:
        live = select(Enrollment.patient_id).where(Enrollment.status != "voided")
        rows = session.exec(
            select(PatientGuardian.patient_id, Guardian.id, Guardian.email)
            .join(Guardian, Guardian.id == PatientGuardian.guardian_id)
            .where(Guardian.practice_id == summary.practice_id,
                   PatientGuardian.patient_id.not_in(live))
            .order_by(PatientGuardian.patient_id)
        ).all()
    seen, targets = set(), []
    for patient_id, guardian_id, email in rows:
        if patient_id not in seen:
            seen.add(patient_id)
            targets.append((patient_id, guardian_id, email))
    if len(targets) < needed:
        raise SystemExit(f"only {len(targets)} unregistered patients; raise --patients")

    timings = []
    for index, (patient_id, guardian_id, email) in enumerate(targets[:needed]):
        started = time.perf_counter()
        with db.session_scope() as session:
            registration.register_patient(
                session, practice_id=summary.practice_id, patient_id=patient_id,
                form=RegistrationForm(email=email, guardian_id=guardian_id), actor="bench",
                senders=senders)
        elapsed = (time.perf_counter() - started) * 1000
        if index >= args.warmup:
            timings.append(elapsed)

    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[min(len(timings) - 1, int(round(0.95 * len(timings))) - 1)]
    print(json.dumps({
        "bench": "register_patient",
        "database": url.split(":", 1)[0],
        "patients": summary.patients,
        "runs": len(timings),
        "p50_ms": round(p50, 2),
        "p95_ms": round(p95, 2),
        "mean_ms": round(statistics.fmean(timings), 2),
        "max_ms": round(timings[-1], 2),
        "target_p50_ms": TARGET_P50_MS,
        "meets_target": p50 <= TARGET_P50_MS,
        "outbox": "held (no SMTP)",
    }))
    db.dispose_engines()


if __name__ == "__main__":
    main()
