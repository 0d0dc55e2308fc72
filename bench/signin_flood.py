"""Sign-in flood benchmark: a registration's p50/p95 while calm, and while 50 clients keep
failing to sign in at once; prints JSON.

    .venv/bin/python bench/signin_flood.py [--runs 60] [--clients 50] [--url URL]

"flood" uses the app's sign-in (bcrypt outside any transaction, one short write per failure);
"flood_former" repeats the former sign-in (the bcrypt check inside the transaction that holds
the user's row and, on SQLite, the write lock) for comparison. The target: flood p50 and p95
at most 2x calm. Threads stand in for the server's script threads (one process, as Streamlit
runs). --url points at another database (PostgreSQL: an empty scratch database).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_portal  # noqa: E402


def main() -> None:  # noqa: C901 - a linear script: set up, three phases, report
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="registrations per phase")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--skip-former", action="store_true",
                        help="do not repeat the former sign-in for comparison")
    args = parser.parse_args()

    url = scratch_portal("signin", args.url)

    from sqlmodel import select

    from bench._common import percentiles, time_registrations, unregistered_families
    from models import Role, StaffUser
    from services import db, signin
    from services.auth import check_password, create_user
    from services.demo import seed_demo
    try:
        from services.senders import senders_from_settings
    except ImportError:  # before the Structure split
        from services.notifications import senders_from_settings

    db.migrate(url)
    needed = args.runs * 3 + 5
    with db.session_scope() as session:
        summary = seed_demo(session, practice_name="Bench Pediatrics", patients=needed * 3,
                            appointments=needed * 3, seed=11)
        for number in range(5):
            create_user(session, username=f"desk{number}", name=f"Desk {number}",
                        email=f"desk{number}@example.org", role=Role.staff,
                        password=f"Bench-desk-pass-{number}x", actor="bench")
    senders = senders_from_settings()
    families = iter(unregistered_families(summary.practice_id))
    failures: list[str] = []

    def register_some(count: int) -> list[float]:
        return time_registrations(families, count, practice_id=summary.practice_id,
                                  senders=senders, failures=failures)

    def former_sign_in(username: str, password: str) -> None:
        # The sign-in before this change: the row locked (SQLite: BEGIN IMMEDIATE) across the
        # bcrypt check, the failure written in the same transaction.
        with db.session_scope() as session:
            user = session.exec(select(StaffUser).where(StaffUser.username == username)
                                .with_for_update()).first()
            if user is not None and not check_password(password, user.password_hash):
                user.failed_logins += 1
                session.add(user)

    def flood(attempt) -> tuple[list[float], int]:
        stop, tries, errors = threading.Event(), [0], [0]

        def client(number: int) -> None:
            while not stop.is_set():
                try:
                    attempt(f"desk{number % 5}" if number % 2 else f"nobody{number}",
                            "wrong-password-123", number)
                except Exception:  # noqa: BLE001 - the former sign-in times out under load
                    errors[0] += 1
                tries[0] += 1

        threads = [threading.Thread(target=client, args=(n,), daemon=True)
                   for n in range(args.clients)]
        for thread in threads:
            thread.start()
        time.sleep(2)  # let the flood build up before measuring
        timings = register_some(args.runs)
        stop.set()
        for thread in threads:
            thread.join()
        return timings, tries[0], errors[0]

    register_some(5)  # warm-up
    calm = register_some(args.runs)
    flooded, tries, errors = flood(lambda user, password, n: signin.sign_in(
        username=user, password=password, client=f"ip:10.0.0.{n}"))
    failed_in_flood, failures[:] = list(failures), []
    result = {
        "bench": "registration during a sign-in flood",
        "database": url.split(":", 1)[0],
        "clients": args.clients,
        "calm": percentiles(calm),
        "flood": {**percentiles(flooded), "failed_sign_ins": tries, "sign_in_errors": errors,
                  "registration_errors": failed_in_flood},
    }
    print(json.dumps(result), file=sys.stderr, flush=True)  # in case the former path stalls
    if not args.skip_former:
        former, former_tries, former_errors = flood(
            lambda user, password, n: former_sign_in(user, password))
        result["flood_former"] = {**percentiles(former), "failed_sign_ins": former_tries,
                                  "sign_in_errors": former_errors,
                                  "registration_errors": list(failures)}
    result["flood_vs_calm_p50"] = round(result["flood"]["p50_ms"] / result["calm"]["p50_ms"], 2)
    result["flood_vs_calm_p95"] = round(result["flood"]["p95_ms"] / result["calm"]["p95_ms"], 2)
    result["meets_2x_target"] = max(result["flood_vs_calm_p50"], result["flood_vs_calm_p95"]) <= 2
    print(json.dumps(result))
    db.dispose_engines()


if __name__ == "__main__":
    main()
