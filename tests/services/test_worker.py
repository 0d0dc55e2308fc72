"""The worker: two copies deliver 200 queued messages exactly once each (real processes, a real
SMTP server, SQLite and PostgreSQL); its heartbeat and how the Outbox page words it."""

from __future__ import annotations

import collections
import datetime as dt
import os
import subprocess
import sys
import threading

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from models import OutboxMessage, OutboxStatus, WorkerHeartbeat
from services import db
from services.outbox import CLAIM_LEASE, send_due_messages
from services.senders import Senders
from services.worker import describe_worker, run_worker, touch_heartbeat, worker_last_seen
from tests.factories import make_practice
from tests.fakes import RecordingMailer
from tests.smtp_server import HOST, smtp_server

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def queue(url: str, count: int) -> None:
    with db.session_scope(engine=db.get_engine(url)) as session:
        practice = make_practice(session)
        session.add_all(
            OutboxMessage(practice_id=practice.id, channel="email",
                          recipient=f"parent{number}@example.com", subject=f"Message {number}",
                          body_text=f"Hello number {number}", status=OutboxStatus.pending)
            for number in range(count))


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request, database_url, tmp_path):
    """A migrated database that separate processes can share."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        engine = db.build_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    db.migrate(url)
    yield url
    db.dispose_engines()


def test_two_workers_deliver_200_messages_exactly_once_each(shared_url, tmp_path):
    queue(shared_url, 200)
    with smtp_server() as (inbox, port):
        env = {name: value for name, value in os.environ.items()
               if not name.startswith("PORTAL_")}
        env.update(PORTAL_DATABASE_URL=shared_url, PORTAL_DATA_DIR=str(tmp_path / "data"),
                   PORTAL_SMTP_HOST=HOST, PORTAL_SMTP_PORT=str(port),
                   PORTAL_SMTP_SECURITY="none")
        workers = [subprocess.Popen(
            [sys.executable, "manage.py", "worker", "--once", "--batch-size", "10"], cwd=ROOT,
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
        outputs = [worker.communicate(timeout=240)[0] for worker in workers]
        assert [worker.returncode for worker in workers] == [0, 0], outputs
        received = collections.Counter(message["To"] for message in inbox.messages)

    assert len(received) == 200 and set(received.values()) == {1}, "a message went twice"
    with db.session_scope(engine=db.get_engine(shared_url), read_only=True) as session:
        statuses = collections.Counter(session.exec(select(OutboxMessage.status)).all())
        beats = list(session.exec(select(WorkerHeartbeat.sent_total)).all())
    assert statuses == {OutboxStatus.sent: 200}
    assert len(beats) == 2 and sum(beats) == 200
    for output in outputs:
        assert "stopped after sending" in output


def test_the_worker_sends_what_is_due_and_beats(database_url, session):
    queue(database_url, 3)
    mailer = RecordingMailer()
    lines: list[str] = []
    sent = run_worker(senders=Senders(mailer=mailer, texter=None, from_address="a@b.example"),
                      interval=0.01, batch_size=2, stop=threading.Event(), log=lines.append,
                      name="test:1", max_passes=2)
    assert sent == 3 and len(mailer.sent) == 3
    assert [line for line in lines if "sent" in line and "stopped" not in line] == [
        "worker test:1: sent 2, will retry 0, failed 0, taken by another worker 0 in "
        + lines[1].rsplit(" in ", 1)[1],
        "worker test:1: sent 1, will retry 0, failed 0, taken by another worker 0 in "
        + lines[2].rsplit(" in ", 1)[1],
    ]
    beat = session.exec(select(WorkerHeartbeat)).one()
    assert (beat.name, beat.sent_total) == ("test:1", 3)
    assert session.exec(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.status == OutboxStatus.sent)).one() == 3


def test_heartbeat_is_one_row_per_worker_and_the_newest_counts(session):
    touch_heartbeat(session, name="a:1", sent=2, now=NOW - dt.timedelta(minutes=30))
    touch_heartbeat(session, name="b:2", now=NOW - dt.timedelta(minutes=3))
    touch_heartbeat(session, name="a:1", sent=1, now=NOW - dt.timedelta(minutes=20))
    session.commit()
    assert session.exec(select(WorkerHeartbeat.sent_total)
                        .where(WorkerHeartbeat.name == "a:1")).one() == 3
    assert worker_last_seen(session) == NOW - dt.timedelta(minutes=3)


@pytest.mark.parametrize(("ago", "words"), [
    (dt.timedelta(seconds=20), "Worker last seen less than a minute ago."),
    (dt.timedelta(minutes=1, seconds=5), "Worker last seen 1 minute ago."),
    (dt.timedelta(minutes=4), "Worker last seen 4 minutes ago."),
    (dt.timedelta(minutes=42), "Worker last seen 42 minutes ago: it looks stopped"),
    (dt.timedelta(hours=3), "Worker last seen 3 hours ago: it looks stopped"),
    (dt.timedelta(days=3), "Worker last seen 3 days ago: it looks stopped"),
])
def test_worker_last_seen_in_words(ago, words):
    assert describe_worker(NOW - ago, now=NOW).startswith(words)


def test_no_worker_yet_in_words():
    assert describe_worker(None, now=NOW).startswith("No worker has run yet")


# --- the lease counts from the claim; a stop request finishes the message in hand -------------


class Clock:
    """A test clock that senders move forward, as a slow SMTP server would."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


def test_a_run_slower_than_the_lease_never_lets_a_second_worker_send_again(database_url):
    queue(database_url, 2)
    clock = Clock(NOW)
    second_worker: list = []

    class SlowMailer(RecordingMailer):
        def send(self, message):
            super().send(message)
            # Each send takes 0.6 of a lease: the run as a whole outlasts one.
            clock.now += CLAIM_LEASE * 0.6
            if len(self.sent) == 2:
                # While the first run still sends its second message, 1.2 leases after the
                # run began, another worker looks: that message's lease began at its claim.
                with db.session_scope() as other:
                    second_worker.append(send_due_messages(
                        other, senders=Senders(mailer=other_mailer), clock=clock))

    other_mailer = RecordingMailer()
    mailer = SlowMailer()
    with db.session_scope() as session:
        report = send_due_messages(session, senders=Senders(mailer=mailer), clock=clock)

    assert report.sent == 2
    assert second_worker[0].sent == 0 and other_mailer.sent == []
    assert sorted(message["To"] for message in mailer.sent) == [
        "parent0@example.com", "parent1@example.com"]


def test_a_stop_request_finishes_the_message_in_hand_and_claims_no_other(database_url):
    queue(database_url, 3)
    stop = threading.Event()

    class StoppingMailer(RecordingMailer):
        def send(self, message):
            stop.set()  # SIGTERM arrives while this message is being sent
            super().send(message)

    mailer = StoppingMailer()
    sent = run_worker(senders=Senders(mailer=mailer), interval=60, batch_size=10, stop=stop,
                      log=lambda _line: None, name="test:stop")
    assert sent == 1 and len(mailer.sent) == 1
    with db.session_scope(read_only=True) as session:
        statuses = collections.Counter(session.exec(select(OutboxMessage.status)).all())
    assert statuses == {OutboxStatus.sent: 1, OutboxStatus.pending: 2}


@pytest.mark.parametrize(("argv", "message"), [
    (["worker", "--interval", "0"], "--interval must be more than 0 seconds"),
    (["worker", "--batch-size", "0"], "--batch-size must be at least 1"),
])
def test_the_worker_command_refuses_bad_numbers_in_one_line(database_url, capsys, argv,
                                                            message):
    import manage

    assert manage.main(argv) == 2
    assert capsys.readouterr().err.strip() == f"error: {message}"


def test_the_worker_without_a_mail_server_warns_and_beats(database_url, capsys, session):
    import manage

    assert manage.main(["worker", "--once"]) == 0
    captured = capsys.readouterr()
    assert "no SMTP server or SMS API is configured" in captured.err
    assert "stopped after sending 0" in captured.out
    assert session.exec(select(func.count()).select_from(WorkerHeartbeat)).one() == 1
