"""The operator's command line: `python manage.py --help` lists every command."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from services.errors import PortalError, quoted

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(function):
        COMMANDS[name] = function
        return function

    return register


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


@command("migrate")
def migrate_command(_args: argparse.Namespace) -> int:
    from services.db import migrate
    from services.settings import get_settings

    migrate()
    print(f"Database at head: {get_settings().resolved_database_url.split('@')[-1]}")
    return 0


@command("create-practice")
def create_practice_command(args: argparse.Namespace) -> int:
    from services.db import migrate, session_scope
    from services.practices import create_practice

    migrate()
    with session_scope() as session:
        practice = create_practice(
            session, name=args.name, timezone=args.timezone, actor="cli", portal_url=args.portal_url
        )
    print(f"Created practice {quoted(practice.name)} (id {practice.id}, {practice.timezone}).")
    return 0


@command("create-user")
def create_user_command(args: argparse.Namespace) -> int:
    from services.auth import create_user
    from services.db import migrate, session_scope

    if not args.password_stdin:
        return _fail("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    migrate()
    with session_scope() as session:
        user = create_user(
            session, username=args.username, name=args.name, email=args.email, role=args.role,
            password=password, practice_names=args.practice or [], actor="cli",
        )
    print(f"Created {user.role} {quoted(user.username)}.")
    return 0


@command("setup-token")
def setup_token_command(_args: argparse.Namespace) -> int:
    from services.auth import count_users
    from services.db import migrate, session_scope
    from services.setup import ensure_setup_token, token_path

    migrate()
    with session_scope(read_only=True) as session:
        if count_users(session):
            return _fail("setup is done: staff users exist; sign in, or add one with create-user")
    print(f"Practice Portal first-run setup token: {ensure_setup_token()} "
          f"(also in {token_path()})")
    return 0


@command("seed-demo")
def seed_demo_command(args: argparse.Namespace) -> int:
    from services.db import migrate, session_scope
    from services.demo import DEFAULT_PRACTICE, seed_demo

    if args.appointments < 1:
        return _fail("--appointments must be at least 1")
    if args.patients is not None and args.patients < 1:
        return _fail("--patients must be at least 1")
    migrate()
    started = time.perf_counter()
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        if fraction - last[0] >= 0.05 or fraction >= 1.0:
            last[0] = fraction
            print(f"  {fraction:6.1%}  {message}", flush=True)

    with session_scope() as session:
        summary = seed_demo(
            session, practice_name=args.practice or DEFAULT_PRACTICE, patients=args.patients,
            appointments=args.appointments, seed=args.seed, progress=progress,
        )
    elapsed = time.perf_counter() - started
    print(
        f"Seeded {quoted(summary.practice_name)}: {summary.locations} locations, "
        f"{summary.providers} providers, {summary.patients:,} patients, "
        f"{summary.guardians:,} guardians, {summary.appointments:,} appointments, "
        f"{summary.enrollments:,} enrollments in {elapsed:.1f} s."
    )
    return 0


@command("send-outbox")
def send_outbox_command(args: argparse.Namespace) -> int:
    from services.db import migrate, session_scope
    from services.outbox import describe_run, send_due_messages
    from services.reminders import send_reminders
    from services.senders import senders_from_settings

    if args.limit < 1:
        return _fail("--limit must be at least 1")
    migrate()
    senders = senders_from_settings()
    with session_scope() as session:
        reminded = send_reminders(session, senders=senders)
    if reminded.reminded:
        print(f"Queued reminders to {reminded.reminded} parent(s) ({reminded.emails} email(s), "
              f"{reminded.texts} text(s)).")
    if senders.mailer is None and senders.texter is None:
        print("No SMTP server or SMS API is configured: messages stay held in the outbox "
              "(set PORTAL_SMTP_HOST).")
        return 0
    with session_scope() as session:
        report = send_due_messages(session, senders=senders, limit=args.limit)
    print(describe_run(report))
    for error in report.errors:
        print(f"  {error}", file=sys.stderr)
    # Non-zero when something did not go out, so that a cron job's mail reports it.
    return 1 if report.retrying or report.failed else 0


@command("worker")
def worker_command(args: argparse.Namespace) -> int:
    import signal
    import threading

    from services.db import migrate
    from services.senders import senders_from_settings
    from services.settings import get_settings
    from services.worker import run_worker

    interval = (get_settings().worker_interval_seconds if args.interval is None
                else args.interval)
    if interval <= 0:
        return _fail("--interval must be more than 0 seconds")
    if args.batch_size < 1:
        return _fail("--batch-size must be at least 1")
    migrate()
    senders = senders_from_settings()
    if senders.mailer is None and senders.texter is None:
        print("warning: no SMTP server or SMS API is configured: messages stay held "
              "(set PORTAL_SMTP_HOST)", file=sys.stderr, flush=True)
    stop = threading.Event()

    def request_stop(signum, _frame):
        stop.set()  # the message in hand is finished; no new one is claimed

    previous = {number: signal.signal(number, request_stop)
                for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        run_worker(senders=senders, interval=interval, batch_size=args.batch_size, stop=stop,
                   log=lambda line: print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}",
                                          flush=True),
                   max_passes=1 if args.once else None)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0


@command("import-schedule")
def import_schedule_command(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from services.db import migrate, session_scope
    from services.errors import NotFound
    from services.practices import find_practice
    from services.schedule_import import import_schedule, report_csv

    path = Path(args.file)
    if not path.is_file():
        return _fail(f"no such file: {args.file}")
    mapping = None
    if args.mapping:
        text = args.mapping
        if not text.lstrip().startswith("{") and Path(text).is_file():
            text = Path(text).read_text(encoding="utf-8")
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError as error:
            return _fail(f"--mapping is not valid JSON ({error.msg}): give an object such as "
                         '\'{"mrn": "Chart #", "date_of_birth": "DOB"}\' or a file holding one')
        if not isinstance(mapping, dict):
            return _fail('--mapping must be a JSON object of field: column, such as '
                         '\'{"mrn": "Chart #"}\'')
    migrate()
    shown = [-1.0]

    def progress(fraction: float, message: str) -> None:
        if fraction - shown[0] >= 0.1 or fraction >= 1.0:
            shown[0] = fraction
            print(f"  {fraction:6.1%}  {message}", flush=True)

    with session_scope() as session:
        practice = find_practice(session, name=args.practice)
        if practice is None:
            raise NotFound(f"unknown practice {quoted(args.practice)}: check the name, or "
                           "create it with create-practice")
        report = import_schedule(
            session, practice_id=practice.id, data=path.read_bytes(), filename=path.name,
            actor="cli", mapping=mapping, create_missing=args.create_missing,
            keep_valid=args.keep_valid, progress=progress)
    if args.report:
        Path(args.report).write_bytes(report_csv(report))
    for rejected in report.rejected[:20]:
        print(f"  {report.row_label} {rejected.row}: {rejected.reason}", file=sys.stderr)
    if len(report.rejected) > 20:
        print(f"  ... and {len(report.rejected) - 20:,} more (all of them with --report FILE)",
              file=sys.stderr)
    if not report.committed:
        return _fail(report.summary)
    print(report.summary)
    return 0


@command("register-bulk")
def register_bulk_command(args: argparse.Namespace) -> int:
    import datetime as dt
    from pathlib import Path

    from services.bulk_registration import plan_bulk, render_bulk_letters, run_bulk
    from services.db import migrate, session_scope
    from services.errors import NotFound
    from services.practices import find_practice, list_locations
    from services.schedule import ScheduleCriteria

    try:
        start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
    except ValueError:
        return _fail("--start and --end must be dates as YYYY-MM-DD")
    migrate()
    with session_scope(read_only=True) as session:
        practice = find_practice(session, name=args.practice)
        if practice is None:
            raise NotFound(f"unknown practice {quoted(args.practice)}: check the name")
        location_id = None
        if args.location:
            found = [row.id for row in list_locations(session, practice_id=practice.id)
                     if row.name.lower() == args.location.strip().lower()]
            if not found:
                raise NotFound(f"unknown location {quoted(args.location)} in {practice.name}")
            location_id = found[0]
        plan = plan_bulk(session, practice_id=practice.id, criteria=ScheduleCriteria(
            start=start, end=end, location_id=location_id))
    print(f"{len(plan.candidates):,} to invite; {plan.already_invited:,} already invited or "
          f"active; {len(plan.skipped):,} skipped.")
    for reason, count in plan.skipped_by_reason.items():
        print(f"  skipped {count:,}: {reason}")
    print(plan.delivery)
    if args.dry_run:
        print("Dry run: nothing registered.")
        return 0
    outcome = run_bulk(plan, practice_id=practice.id, actor="cli")
    for failed in outcome.failed:
        print(f"  failed: {failed.patient_name}: {failed.reason}", file=sys.stderr)
    if args.letters and outcome.registered:
        Path(args.letters).write_bytes(render_bulk_letters(outcome))
        print(f"Letters: {args.letters} ({len(outcome.families):,} families)")
    print(outcome.summary)
    return 1 if outcome.failed else 0
@command("text-opt-out")
def text_opt_out_command(args: argparse.Namespace) -> int:
    from services.db import migrate, session_scope
    from services.text_opt_out import add_opt_out, list_opt_outs, remove_opt_out

    migrate()
    if args.action == "list":
        with session_scope(read_only=True) as session:
            rows = list_opt_outs(session)
        for row in rows:
            print(f"{row.shown_as}\t{row.opted_out_at:%Y-%m-%d %H:%M} UTC\t{row.source}"
                  f"{chr(9) + row.note if row.note else ''}")
        print(f"{len(rows)} number(s) opted out of texts.")
        return 0
    if not args.phone:
        return _fail(f"give the cell phone number: text-opt-out {args.action} PHONE")
    with session_scope() as session:
        if args.action == "add":
            row = add_opt_out(session, phone=args.phone, actor="cli", source="cli",
                              note=args.note or "")
            print(f"{row.shown_as} is on the text opt-out list: no text goes to it.")
        else:
            remove_opt_out(session, phone=args.phone, actor="cli")
            print("Removed from the text opt-out list: texts may go to it again.")
    return 0


@command("backup")
def backup_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from services.backup import KEYS_WARNING, backup_database

    manifest = backup_database(dest=Path(args.dest), with_keys=args.with_keys)
    if args.with_keys:
        print(f"warning: {KEYS_WARNING}", file=sys.stderr)
    print(f"Backed up the {manifest.engine} database (schema {manifest.schema_revision}) "
          f"to {args.dest}.")
    return 0


@command("restore")
def restore_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from services.backup import restore_database

    report = restore_database(source=Path(args.source), force=args.force,
                              with_keys=args.with_keys)
    print(f"Restored the backup of {report.manifest.created_at} "
          f"(schema {report.manifest.schema_revision}).")
    if report.upgraded_to:
        print(f"Upgraded the schema to {report.upgraded_to}.")
    for path in report.keys_written:
        print(f"Wrote key {path}.")
    return 0


@command("export-audit")
def export_audit_command(args: argparse.Namespace) -> int:
    import datetime as dt
    from pathlib import Path

    from services.audit_archive import export_audit
    from services.db import migrate, session_scope
    from services.errors import NotFound
    from services.practices import find_practice

    try:
        before = dt.date.fromisoformat(args.before)
    except ValueError:
        return _fail(f"--before must be a date such as 2019-12-31, not {quoted(args.before)}")
    migrate()
    with session_scope() as session:
        practice_id = None
        if args.practice:
            practice = find_practice(session, name=args.practice)
            if practice is None:
                raise NotFound(f"unknown practice {quoted(args.practice)}")
            practice_id = practice.id
        report = export_audit(session, before=before, dest=Path(args.dest), prune=args.prune,
                              practice_id=practice_id)
    print(f"Archived {report.exported:,} audit events from before {before} to {report.path}.")
    if args.prune:
        print(f"Removed {report.pruned:,} of them from the database; kept "
              f"{report.kept_by_retention:,} that a practice's longer retention still covers.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="manage.py",
        description="Practice Portal operator commands. All honour PORTAL_DATABASE_URL and "
                    "PORTAL_DATA_DIR.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("migrate", help="upgrade the database schema to the newest version")

    practice = commands.add_parser("create-practice", help="create a practice")
    practice.add_argument("name")
    practice.add_argument("--timezone", required=True, help="IANA name, e.g. America/Chicago")
    practice.add_argument("--portal-url", help="public URL of this app, for activation links")

    user = commands.add_parser("create-user", help="create a staff user")
    user.add_argument("username")
    user.add_argument("--name", required=True)
    user.add_argument("--email", required=True)
    user.add_argument("--role", required=True, help="admin, staff or supervisor")
    user.add_argument("--practice", action="append", help="practice name (repeatable)")
    user.add_argument("--password-stdin", action="store_true",
                      help="read the password from standard input")

    commands.add_parser("setup-token", help="print the first-run setup token (before any "
                                            "browser has opened the app)")

    demo = commands.add_parser("seed-demo", help="create or fill a synthetic demo practice")
    demo.add_argument("--practice", help="practice name (created when missing)")
    demo.add_argument("--patients", type=int)
    demo.add_argument("--appointments", type=int, default=6000)
    demo.add_argument("--seed", type=int, default=7)

    schedule = commands.add_parser(
        "import-schedule", help="import a schedule CSV or FHIR R4 Bundle (JSON) into a practice")
    schedule.add_argument("file", help="the CSV export or FHIR Bundle JSON file")
    schedule.add_argument("--practice", required=True, help="practice name")
    schedule.add_argument("--mapping", metavar="JSON",
                          help='CSV columns as a JSON object or file, e.g. \'{"mrn": "Chart #"}\' '
                               "(default: the practice's saved mapping, else guessed)")
    schedule.add_argument("--create-missing", action="store_true",
                          help="create unknown providers and locations instead of rejecting")
    schedule.add_argument("--keep-valid", action="store_true",
                          help="import the valid rows even when some are rejected")
    schedule.add_argument("--report", metavar="FILE", help="write the row-by-row report as CSV")

    outbox = commands.add_parser(
        "send-outbox", help="queue the reminders that are due, then send the emails and texts due")
    outbox.add_argument("--limit", type=int, default=500, help="most messages in one run")

    bulk = commands.add_parser(
        "register-bulk", help="invite every patient of a date range who has no invitation yet")
    bulk.add_argument("--practice", required=True, help="practice name")
    bulk.add_argument("--start", required=True, help="first visit day, YYYY-MM-DD")
    bulk.add_argument("--end", required=True, help="last visit day, YYYY-MM-DD")
    bulk.add_argument("--location", help="location name (default: every location)")
    bulk.add_argument("--dry-run", action="store_true", help="say who would be invited; change "
                                                             "nothing")
    bulk.add_argument("--letters", metavar="FILE", help="write the letters PDF (one page per "
                                                        "family)")
    opt_out = commands.add_parser(
        "text-opt-out", help="list, add or remove numbers that opted out of texts (STOP)")
    opt_out.add_argument("action", choices=["list", "add", "remove"])
    opt_out.add_argument("phone", nargs="?", help="the cell phone number, e.g. (617) 555-0123")
    opt_out.add_argument("--note", help="why, e.g. 'replied STOP on 2026-11-30'")

    worker = commands.add_parser(
        "worker", help="keep sending due emails and texts (stops cleanly on SIGTERM); "
                       "several may run at once")
    worker.add_argument("--interval", type=float,
                        help="seconds between passes (default PORTAL_WORKER_INTERVAL_SECONDS, 15)")
    worker.add_argument("--batch-size", type=int, default=50,
                        help="messages claimed per batch (one log line each)")
    worker.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")

    audit = commands.add_parser(
        "export-audit", help="archive audit events older than a date to CSV; --prune then "
                             "removes those past the retention (at least 6 years)")
    audit.add_argument("dest", help="the CSV file to create")
    audit.add_argument("--before", required=True, metavar="DATE",
                       help="archive events before this day (UTC), e.g. 2019-12-31")
    audit.add_argument("--practice", help="only this practice's events")
    audit.add_argument("--prune", action="store_true",
                       help="after the archive is written, delete the archived events that are "
                            "older than 6 years and than the practice's retention")

    backup = commands.add_parser(
        "backup", help="write a backup of the database to a new file (SQLite online backup, "
                       "PostgreSQL pg_dump)")
    backup.add_argument("dest", help="the backup file to create, e.g. portal-2026-01-31.tar.gz")
    backup.add_argument("--with-keys", action="store_true",
                        help="also put the outbox and cookie keys in the backup (keep it secret)")

    restore = commands.add_parser(
        "restore", help="restore a backup into the configured database, then migrate it")
    restore.add_argument("source", help="a file written by the backup command")
    restore.add_argument("--force", action="store_true",
                         help="overwrite a database that already holds rows")
    restore.add_argument("--with-keys", action="store_true",
                         help="also write the keys the backup holds to their files")

    return parser


# Commands that must work on a host that does not hold the keys (yet): copying data in and out.
KEYLESS_COMMANDS = {"migrate", "backup", "restore", "export-audit"}


def _check_keys() -> None:
    """Fail before doing anything when the outbox key or the PIN pepper is missing but rows
    made with it wait."""
    from services.settings import outbox_key, pin_pepper

    outbox_key()
    pin_pepper()


def main(argv: list[str] | None = None) -> int:
    """Run one command; domain errors become a one-line message and exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command not in KEYLESS_COMMANDS:
            _check_keys()
        return COMMANDS[args.command](args)
    except PortalError as error:
        return _fail(error.message)
    except ValueError as error:
        return _fail(str(error))
    except RecursionError:
        return _fail("the file is nested too deeply to read (more levels than any schedule "
                     "export has): check that it is the right file")
    except OSError as error:
        return _fail(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "))
    except KeyboardInterrupt:
        return _fail("interrupted")


if __name__ == "__main__":
    sys.exit(main())
