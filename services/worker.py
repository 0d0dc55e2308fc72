"""`manage.py worker`: the long-running sender of due outbox messages, and its heartbeat.

Each pass sends what is due in batches (each message claimed in its own transaction, so several
workers may run at once), writes one log line per batch that handled something, touches this
worker's `WorkerHeartbeat` row and sleeps until the next pass or until asked to stop. A stop
request (SIGTERM) is honoured between messages: the message in hand is finished first.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlmodel import Session, select

from models import WorkerHeartbeat, utcnow
from services.db import session_scope
from services.outbox import DeliveryReport, send_due_messages
from services.senders import Senders

# A worker not seen for this long is shown as stopped on the Outbox page.
STALE_AFTER = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class BatchResult:
    """What one batch did, for the log line."""

    report: DeliveryReport
    seconds: float

    @property
    def handled(self) -> int:
        report = self.report
        return report.sent + report.retrying + report.failed + report.skipped

    def log_line(self, name: str) -> str:
        report = self.report
        return (f"worker {name}: sent {report.sent}, will retry {report.retrying}, "
                f"failed {report.failed}, taken by another worker {report.skipped} "
                f"in {self.seconds:.2f} s")


def worker_name() -> str:
    """This process's name in the heartbeat table: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def touch_heartbeat(session: Session, *, name: str, sent: int = 0,
                    now: dt.datetime | None = None) -> None:
    """Record that the worker `name` is alive (and how many messages it sent since)."""
    now = now or utcnow()
    changed = session.exec(
        update(WorkerHeartbeat).where(WorkerHeartbeat.name == name)
        .values(last_seen_at=now, sent_total=WorkerHeartbeat.sent_total + sent)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        session.add(WorkerHeartbeat(name=name, started_at=now, last_seen_at=now,
                                    sent_total=sent))


def worker_last_seen(session: Session) -> dt.datetime | None:
    """When any worker was last seen (None when none ever ran)."""
    return session.exec(select(func.max(WorkerHeartbeat.last_seen_at))).one()


def describe_worker(last_seen: dt.datetime | None, *, now: dt.datetime | None = None) -> str:
    """The Outbox page's words for the worker's heartbeat."""
    if last_seen is None:
        return ("No worker has run yet: messages go out only when someone sends them "
                "(start `python manage.py worker`).")
    now = now or utcnow()
    if last_seen.tzinfo is None:
        last_seen = last_seen.replace(tzinfo=dt.UTC)
    seconds = max(int((now - last_seen).total_seconds()), 0)
    if seconds < 60:
        ago = "less than a minute ago"
    elif seconds < 3600:
        minutes = seconds // 60
        ago = f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    elif seconds < 172_800:
        hours = seconds // 3600
        ago = f"{hours} hour{'s' if hours != 1 else ''} ago"
    else:
        ago = f"{seconds // 86_400} days ago"
    if now - last_seen > STALE_AFTER:
        return f"Worker last seen {ago}: it looks stopped, so messages are waiting."
    return f"Worker last seen {ago}."


def run_batch(*, senders: Senders, limit: int,
              should_stop: Callable[[], bool] | None = None) -> BatchResult:
    """Send up to `limit` due messages (one claim per message); never raises for a send."""
    started = time.perf_counter()
    with session_scope() as session:
        report = send_due_messages(session, senders=senders, limit=limit,
                                   should_stop=should_stop)
    return BatchResult(report=report, seconds=time.perf_counter() - started)


def run_worker(*, senders: Senders, interval: float, batch_size: int, stop: threading.Event,
               log: Callable[[str], None], name: str | None = None,
               max_passes: int | None = None) -> int:
    """Pass after pass until `stop` is set (or `max_passes` ran); returns messages sent."""
    name = name or worker_name()
    total = passes = 0
    log(f"worker {name}: started, every {interval:g} s, batches of {batch_size}")
    while not stop.is_set():
        sent = 0
        while not stop.is_set():
            result = run_batch(senders=senders, limit=batch_size, should_stop=stop.is_set)
            sent += result.report.sent
            if result.handled:
                log(result.log_line(name))
            if result.handled < batch_size:
                break  # nothing more is due now
        total += sent
        with session_scope() as session:
            touch_heartbeat(session, name=name, sent=sent)
        passes += 1
        if max_passes is not None and passes >= max_passes:
            break
        stop.wait(interval)
    log(f"worker {name}: stopped after sending {total}")
    return total
