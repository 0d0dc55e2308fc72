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

    from bench._common import percentiles, time_registrations, unregistered_families
    from services import db
    from services.demo import seed_demo
    from services.senders import senders_from_settings

    db.migrate(url)
    needed = args.runs + args.warmup
    with db.session_scope() as session:
        summary = seed_demo(session, practice_name="Bench Pediatrics", patients=max(
            args.patients, needed * 3), appointments=max(args.patients, needed * 3), seed=11)
    senders = senders_from_settings()
    assert senders.mailer is None, "SMTP must be unconfigured: messages are held"

    families = unregistered_families(summary.practice_id)
    if len(families) < needed:
        raise SystemExit(f"only {len(families)} unregistered patients; raise --patients")
    remaining = iter(families)
    time_registrations(remaining, args.warmup, practice_id=summary.practice_id, senders=senders)
    timings = sorted(time_registrations(remaining, args.runs, practice_id=summary.practice_id,
                                        senders=senders))

    print(json.dumps({
        "bench": "register_patient",
        "database": url.split(":", 1)[0],
        "patients": summary.patients,
        **percentiles(timings, digits=2),
        "mean_ms": round(statistics.fmean(timings), 2),
        "max_ms": round(timings[-1], 2),
        "target_p50_ms": TARGET_P50_MS,
        "meets_target": statistics.median(timings) <= TARGET_P50_MS,
        "outbox": "held (no SMTP)",
    }))
    db.dispose_engines()


if __name__ == "__main__":
    main()
