"""Worker benchmark: how many messages per second one worker sends to a local SMTP server
(aiosmtpd on loopback), printed as JSON.

    .venv/bin/python bench/worker.py [--messages 1000] [--batch-size 50] [--url URL]

Each message is claimed in its own transaction, sent over a new SMTP connection, and marked
sent with its audit event, exactly as `manage.py worker` does. By default the database is a
fresh SQLite file in a temporary folder; --url points it at another (PostgreSQL: use an empty
scratch database, it is migrated and filled).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_portal  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()

    url = scratch_portal("worker", args.url, keep_delivery=True)

    from models import OutboxMessage, OutboxStatus, Practice
    from services.db import migrate, session_scope
    from services.senders import senders_from_settings
    from services.settings import get_settings
    from services.worker import run_worker
    from tests.smtp_server import HOST, smtp_server

    migrate(url)
    with session_scope() as session:
        practice = Practice(name=f"Bench {time.time_ns()}")
        session.add(practice)
        session.flush()
        session.add_all(
            OutboxMessage(practice_id=practice.id, channel="email",
                          recipient=f"parent{number}@example.com", subject="Your invitation",
                          body_text="Hello\n" * 40, status=OutboxStatus.pending)
            for number in range(args.messages))

    with smtp_server() as (inbox, port):
        os.environ.update(PORTAL_SMTP_HOST=HOST, PORTAL_SMTP_PORT=str(port),
                          PORTAL_SMTP_SECURITY="none")
        get_settings.cache_clear()
        started = time.perf_counter()
        sent = run_worker(senders=senders_from_settings(), interval=0.01,
                          batch_size=args.batch_size, stop=threading.Event(),
                          log=lambda _line: None, name="bench:1", max_passes=1)
        seconds = time.perf_counter() - started
        received = len(inbox.messages)

    print(json.dumps({
        "database": url.split(":", 1)[0],
        "messages": args.messages,
        "sent": sent,
        "received_by_smtp": received,
        "seconds": round(seconds, 2),
        "messages_per_second": round(sent / seconds, 1),
        "ms_per_message": round(1000 * seconds / max(sent, 1), 2),
    }, indent=2))


if __name__ == "__main__":
    main()
