"""The deploy recipe, for real: two app replicas (`streamlit run app.py`) on one PostgreSQL, the
outbox worker, and Debian's nginx in front with deploy/'s site (ports and paths templated).

Through nginx in Chromium: sign in, register a patient (the welcome email is delivered by the
worker: the replicas have no SMTP server), activate as the parent, see Active on the Dashboard;
then kill the replica that served us and sign in again through nginx. Runs in the PostgreSQL pass.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zoneinfo
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from deploy.render_nginx import render_site
from tests.e2e import support
from tests.e2e.conftest import IN_CI, PG_URL, fresh_database_url, seed_database
from tests.e2e.support import (
    Staff,
    click_button,
    expect_signed_in,
    fill,
    grid_column,
    main_area,
    open_app,
    register_from_row,
    sign_in,
    type_date,
)

pytestmark = pytest.mark.e2e

TIMEZONE = "America/Chicago"
STAFF = Staff("fran.desk", "Fran Desk", "staff-pass-Walrus-47")
PARENT_EMAIL = "lena.park@example.com"
PARENT_PASSWORD = "parent-pass-Puffin-18"
BIRTH = dt.date(2019, 3, 4)
PIN_PATTERN = r"\b[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}\b"
MAIN_CONF = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format upstream '$request_uri|$status|$upstream_addr';
    access_log {prefix}/access.log upstream;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {site};
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if found is None:
        if IN_CI:
            pytest.fail("nginx not found (apt-get install -y nginx), but CI=true requires it")
        pytest.skip("nginx not found (apt-get install -y nginx)")
    return found


@contextlib.contextmanager
def running(argv: list[str], *, log_path: Path, env: dict[str, str] | None = None):
    """A child process in its own group for the `with` block, output to `log_path`."""
    support.WRITTEN.append(log_path)
    with log_path.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(argv, cwd=support.ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def wait_for_url(url: str, *, process: subprocess.Popen, log_path: Path,
                 timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(f"exited early:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer in {timeout} s")
        time.sleep(0.1)  # polling for readiness


def _today_at(hour: int) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(TIMEZONE)
    return dt.datetime.combine(dt.datetime.now(zone).date(), dt.time(hour), zone).astimezone(
        dt.UTC)


def _seed(portal_url: str):
    def fill_rows(session):
        practice = support.seed_practice(session, "Prairie Kids", STAFF, timezone=TIMEZONE,
                                         portal_url=portal_url)
        support.seed_visit(session, practice, first_name="Ivy", last_name="Park",
                           date_of_birth=BIRTH, start_at=_today_at(11), guardian={
                               "first_name": "Lena", "last_name": "Park",
                               "email": PARENT_EMAIL})

    return fill_rows


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, smtp):
    """nginx → two replicas → one PostgreSQL, and a worker mailing to `smtp`."""
    if not PG_URL:
        pytest.skip("the replicas scenario runs in the PostgreSQL pass "
                    "(PORTAL_TEST_DATABASE_URL)")
    nginx = nginx_binary()
    started = time.monotonic()
    folder = tmp_path_factory.mktemp("deploy")
    nginx_port = support.free_port()
    nginx_url = f"http://127.0.0.1:{nginx_port}"
    database_url = fresh_database_url(folder)
    seed_database(database_url, _seed(nginx_url), folder / "seed" / "data")

    # The keys live outside every data folder, and every process reads the same files.
    keys = folder / "keys"
    keys.mkdir()
    for name in ("outbox", "cookie", "pin_pepper"):
        (keys / f"{name}.key").write_text(secrets.token_urlsafe(48))
    shared = {"PORTAL_OUTBOX_KEY_FILE": str(keys / "outbox.key"),
              "PORTAL_COOKIE_KEY_FILE": str(keys / "cookie.key"),
              "PORTAL_PIN_PEPPER_FILE": str(keys / "pin_pepper.key")}
    replicas = [  # started together, as systemd would, then awaited
        support.start_server(name=f"deploy-replica-{letter}", data_dir=folder / letter / "data",
                             database_url=database_url, extra_env=shared, health=False)
        for letter in ("a", "b")
    ]
    worker_env = support.server_env(
        data_dir=folder / "worker" / "data", database_url=database_url,
        extra={**shared, "PORTAL_SMTP_HOST": "127.0.0.1", "PORTAL_SMTP_PORT": str(smtp.port),
               "PORTAL_SMTP_SECURITY": "none"})
    prefix = folder / "nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / sub).mkdir(parents=True)
    site = prefix / "practice-portal.conf"
    site.write_text(render_site(replicas=[server.port for server in replicas],
                                listen_address="127.0.0.1", listen_port=nginx_port))
    (prefix / "nginx.conf").write_text(MAIN_CONF.format(prefix=prefix, site=site))
    if os.geteuid() == 0:  # nginx's workers run as nobody: let them use the temp folders
        for path in [prefix, *prefix.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o666)
    logs = support.SERVER_LOGS
    try:
        for server in replicas:
            support.wait_for_health(server)
        with running([sys.executable, "manage.py", "worker", "--interval", "0.5"],
                     log_path=logs / "postgresql-deploy-worker.log", env=worker_env) as worker, \
                running([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
                         "-g", "daemon off;"], log_path=logs / "postgresql-deploy-nginx.log"
                        ) as proxy:
            wait_for_url(f"{nginx_url}/_stcore/health", process=proxy,
                         log_path=logs / "postgresql-deploy-nginx.log")
            yield SimpleNamespace(
                url=nginx_url, replicas=replicas, worker=worker,
                worker_log=logs / "postgresql-deploy-worker.log",
                access_log=prefix / "access.log", started=started)
    finally:
        for server in replicas:
            server.stop()
        print(f"\ndeploy scenario: {time.monotonic() - started:.1f} s from start to teardown")


@pytest.fixture(scope="module")
def portal(cluster):
    """The browser fixtures' server: nginx in front of the replicas."""
    return SimpleNamespace(url=cluster.url)


def replica_behind(cluster) -> int:
    """The port of the replica that answered nginx's last logged request (after any retry)."""
    lines = [line.split("|") for line in cluster.access_log.read_text().splitlines()]
    served = [line[2] for line in lines if len(line) == 3 and line[2] != "-"]
    assert served, "no proxied request in nginx's access log"
    return int(served[-1].split(",")[-1].strip().rsplit(":", 1)[-1])


def after_failover(cluster, page) -> str:
    """What the page and the servers showed when the sign-in form did not come back."""
    def tail(path: Path, lines: int = 25) -> str:
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    state = page.evaluate(support._DIAGNOSIS)
    parts = [f"no sign-in form after the replica died; page state {state}",
             "page text:\n" + page.inner_text("body")[:2000],
             "nginx access log:\n" + tail(cluster.access_log, 40),
             "nginx error log:\n" + tail(cluster.access_log.with_name("error.log"))]
    parts += [f"replica {server.port}:\n" + tail(server.log_path) for server in cluster.replicas]
    return "\n\n".join(parts)


def test_sign_in_register_worker_mails_parent_activates_then_a_replica_dies(
        cluster, new_context, smtp):
    violations: list[str] = []
    staff = new_context()
    staff.on("console", lambda message: violations.append(message.text)
             if "Content Security Policy" in message.text else None)
    page = staff.new_page()
    answer = page.goto("/")
    headers = answer.headers
    assert "frame-ancestors 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "SAMEORIGIN"
    assert headers["referrer-policy"] == "no-referrer"
    support.wait_for_app_run(page)
    sign_in(page, STAFF.username, STAFF.password)
    expect_signed_in(page, STAFF.name)

    register = register_from_row(page, row=0)
    main = main_area(register)
    expect(main.get_by_text("Register Patient with")).to_be_visible()
    click_button(register, "Complete Registration", scope=main)
    expect(main.get_by_text("Registration complete for Ivy Park.")).to_be_visible()
    pin = re.search(PIN_PATTERN, main.inner_text()).group(0)

    # No replica has an SMTP server: the worker is the one that delivers.
    email = smtp.wait_for(lambda message: message["To"] == PARENT_EMAIL, timeout=60)
    # The worker writes its pass's line after the mail server took the message: wait for it.
    deadline = time.monotonic() + 15
    while not re.search(r"worker \S+: sent 1,", cluster.worker_log.read_text()) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert re.search(r"worker \S+: sent 1,", cluster.worker_log.read_text())
    body = email.get_body(("plain",)).get_content()
    assert pin in body
    link = re.search(r"https?://\S+/activate\?\S+", body).group(0)
    assert link.startswith(cluster.url)

    parent_context = new_context()
    parent_context.on("console", lambda message: violations.append(message.text)
                      if "Content Security Policy" in message.text else None)
    parent = parent_context.new_page()
    parts = urlsplit(link)
    open_app(parent, f"{parts.path}?{parts.query}")
    form = main_area(parent).get_by_test_id("stForm")
    fill(parent, "PIN", pin, scope=form)
    type_date(parent, "Child's date of birth", BIRTH, scope=form)
    fill(parent, "Email address", PARENT_EMAIL, scope=form)
    fill(parent, "Password", PARENT_PASSWORD, scope=form)
    fill(parent, "Repeat password", PARENT_PASSWORD, scope=form)
    click_button(parent, "Activate account", scope=form)
    expect(main_area(parent).get_by_test_id("stAlertContentSuccess")).to_be_visible()

    open_app(page, "/")  # Register opened in this tab: back to the Dashboard (the cookie)
    expect(grid_column(main_area(page), "Portal status").first).to_have_text("Active")
    support.screenshot(page, "deploy-dashboard-active-through-nginx")

    # Kill the replica that served us (ip_hash: all of loopback goes to one); a new sign-in
    # through nginx lands on the other.
    victim_port = replica_behind(cluster)
    victim = next(server for server in cluster.replicas if server.port == victim_port)
    runs = support.runs_done(page)
    victim.stop()
    again = new_context().new_page()
    open_app(again, "/")
    try:
        expect(again.get_by_test_id("stForm").get_by_label("Username", exact=True)
               ).to_be_visible()
    except AssertionError:
        raise AssertionError(after_failover(cluster, again)) from None
    sign_in(again, STAFF.username, STAFF.password)
    expect_signed_in(again, STAFF.name)
    assert replica_behind(cluster) != victim_port
    # The tab that was open on the dead replica reconnected to the other one, still signed in.
    support.wait_for_app_run(page, after=runs)
    expect_signed_in(page, STAFF.name)
    expect(grid_column(main_area(page), "Portal status").first).to_have_text("Active")
    assert violations == [], f"the Content-Security-Policy blocked what the app needs: {violations}"


def test_the_activation_page_is_rate_limited_by_nginx(cluster):
    statuses = []
    for _ in range(40):
        try:
            with urllib.request.urlopen(f"{cluster.url}/activate", timeout=5) as answer:
                statuses.append(answer.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)
    assert 200 in statuses and 429 in statuses


def test_the_worker_stops_cleanly_on_sigterm(cluster):
    os.killpg(cluster.worker.pid, signal.SIGTERM)
    assert cluster.worker.wait(timeout=30) == 0
    assert "stopped after sending" in cluster.worker_log.read_text()
