"""Benchmark: import a 100,000-row schedule CSV into a fresh SQLite database, then the same
file again (which must change nothing). Prints the figures as JSON.

    .venv/bin/python bench/import.py [--rows 100000] [--database-url URL]

Targets (issues 7 and 17): first import <= 15 s, re-import <= 10 s with 0 changes, on SQLite
and on PostgreSQL. `seconds` is wall time; `cpu_seconds` this process's CPU time; on a PostgreSQL
server on this machine, `server_cpu_seconds` is the CPU time of the import's server backend
(read from /proc; null when it cannot be read). On a shared machine the wall time is roughly
the CPU times spread over the cores the load leaves free: each run reports the 1-minute
`load_average` when it started and ended, beside its figures. The temporary folder (the file,
the SQLite database) is removed at the end.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = ["MRN", "Patient First Name", "Patient Last Name", "DOB", "Appointment ID",
          "Appointment Date", "Appointment Time", "Provider", "Location", "Visit Type",
          "Status", "Parent First Name", "Parent Last Name", "Relationship", "Parent Email",
          "Parent Cell Phone"]
FIRST = ["Ava", "Liam", "Mia", "Noah", "Zoe", "Eli", "Ivy", "Leo", "Ada", "Max", "Ruby", "Owen",
         "Nora", "Jack", "Lily", "Sam", "Emma", "Luca", "Isla", "Finn"]
LAST = ["Lee", "Kim", "Patel", "Garcia", "Nguyen", "Smith", "Brown", "Lopez", "Chen", "Khan",
        "Silva", "Cohen", "Novak", "Okafor", "Rossi", "Murphy", "Haddad", "Sato", "Weber", "Diaz"]
PROVIDERS = [f"Dr. {f} {last}" for f, last in zip(FIRST[:8], LAST[8:16], strict=True)]
LOCATIONS = ["Main Street Pediatrics", "Northside Clinic", "Westfield Office"]
VISITS = ["Well Child", "Sick Visit", "Follow-up", "Vaccine", "Sports Physical"]
STATUSES = ["Scheduled"] * 8 + ["Completed"] * 6 + ["Cancelled", "No Show"]


def write_schedule(path: Path, rows: int, seed: int = 11) -> int:
    """A realistic export: about four visits per patient, one parent each. Returns patients."""
    rng = random.Random(seed)
    patients = max(1, rows // 4)
    today = dt.date.today()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for number in range(rows):
            p = rng.randrange(patients)
            first, last = FIRST[p % 20], LAST[(p // 20) % 20]
            born = today - dt.timedelta(days=30 + (p * 7919) % (17 * 365))
            day = today + dt.timedelta(days=rng.randrange(-180, 180))
            slot = rng.randrange(36)
            parent = FIRST[(p + 7) % 20]
            writer.writerow([
                f"MRN{p:07d}", first, last, born.strftime("%m/%d/%Y"), f"APT{number:08d}",
                day.strftime("%m/%d/%Y"),
                dt.time(8 + slot // 4, (slot % 4) * 15).strftime("%I:%M %p"),
                PROVIDERS[rng.randrange(len(PROVIDERS))], LOCATIONS[p % 3],
                VISITS[rng.randrange(len(VISITS))], STATUSES[rng.randrange(len(STATUSES))],
                parent, last, "Mother" if p % 2 else "Father",
                f"{parent.lower()}.{last.lower()}{p}@example.com",
                f"({('617', '312', '415', '646')[p % 4]}) {200 + p % 700:03d}-{p % 10000:04d}",
            ])
    return patients


def _backend_cpu(session) -> tuple[int, float] | None:
    """The PostgreSQL backend's process id and CPU seconds so far, if it runs on this host."""
    if session.connection().dialect.name != "postgresql":
        return None
    pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url",
                        help="default: a fresh SQLite file in a temp dir; an empty database "
                             "gives comparable figures")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="portal-import-bench-"))
    try:
        return _bench(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _bench(args: argparse.Namespace, work: Path) -> int:
    os.environ["PORTAL_DATA_DIR"] = str(work)
    os.environ["PORTAL_DATABASE_URL"] = args.database_url or f"sqlite:///{work / 'portal.db'}"
    os.environ["PORTAL_MAX_UPLOAD_MB"] = "500"

    from services.db import dispose_engines, migrate, session_scope
    from services.practices import create_practice
    from services.schedule_import import import_schedule

    started = time.perf_counter()
    schedule = work / "schedule.csv"
    patients = write_schedule(schedule, args.rows)
    generated = time.perf_counter() - started
    migrate()
    with session_scope() as session:
        # A practice of its own, so that a --database-url holding earlier runs still works.
        practice = create_practice(session, name=f"Bench Pediatrics {work.name}",
                                   timezone="America/Chicago", actor="bench")
    data = schedule.read_bytes()

    def run() -> dict:
        load_before = _load()
        started, cpu_started = time.perf_counter(), time.process_time()
        phases: dict[str, list[float]] = {}

        def progress(_fraction: float, message: str) -> None:
            # [wall, cpu] seconds from the start to each phase the importer announces.
            if not message.startswith(("Checked", "Compared")):
                phases[message] = [round(time.perf_counter() - started, 2),
                                   round(time.process_time() - cpu_started, 2)]

        with session_scope() as session:
            server_before = _backend_cpu(session)
            report = import_schedule(session, practice_id=practice.id, data=data,
                                     filename=schedule.name, actor="bench",
                                     create_missing=True, progress=progress)
            server_after = _backend_cpu(session)
        server_cpu = None
        if server_before and server_after and server_before[0] == server_after[0]:
            server_cpu = round(server_after[1] - server_before[1], 2)
        return {
            "seconds": round(time.perf_counter() - started, 2),
            "load_average_start_end": [load_before, _load()],
            # CPU time of this process: the wall time minus waiting for a busy machine.
            "cpu_seconds": round(time.process_time() - cpu_started, 2),
            "server_cpu_seconds": server_cpu,
            "phases": phases,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": len(report.rejected),
            "patients_created": report.patients_created,
            "guardians_created": report.guardians_created,
        }

    first = run()
    again = run()
    dispose_engines()
    print(json.dumps({
        "rows": args.rows,
        "patients_in_file": patients,
        "file_mb": round(len(data) / 1024 / 1024, 1),
        "database": os.environ["PORTAL_DATABASE_URL"].split(":", 1)[0].split("+")[0],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "generate_seconds": round(generated, 2),
        "import": first,
        "reimport": again,
        "targets": {"import_seconds": 15, "reimport_seconds": 10, "reimport_changes": 0},
        "met": first["seconds"] <= 15 and again["seconds"] <= 10
        and again["created"] == again["updated"] == 0,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
