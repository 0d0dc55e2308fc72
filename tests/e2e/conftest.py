"""Browser fixtures: Debian's Chromium through Playwright, one app server per test module
(fresh data folder and database, an aiosmtpd server for its mail), a fresh browser context
per test."""

from __future__ import annotations

import email
import email.policy
import os
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text
from sqlmodel import Session

from services import db
from services.settings import get_settings
from tests.e2e import support

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")
# The server's tables live in a schema of their own on PostgreSQL, so that the main suite's
# per-test truncation of `public` never touches a running app's data (and the other way round).
PG_SCHEMA = "e2e_server"

_screenshots_taken: list[Path] = []


# --- reporting ------------------------------------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def pytest_terminal_summary(terminalreporter):
    written = support.WRITTEN
    if not written:
        return
    shots = {path for path in written if path.suffix == ".png"}
    terminalreporter.write_sep("-", "end-to-end artifacts")
    if shots:
        folders = ", ".join(sorted({str(path.parent) for path in shots}))
        terminalreporter.write_line(f"screenshots ({len(shots)}): {folders}")
    terminalreporter.write_line(f"server logs: {support.SERVER_LOGS}")


# --- the browser ----------------------------------------------------------------------------

@pytest.fixture(scope="package")
def chromium_executable() -> str:
    """Debian's Chromium; missing is a skip locally and a failure in CI."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(f"{message}, but CI=true requires the browser suite")
        pytest.skip(message)
    return str(CHROMIUM)


@pytest.fixture(scope="package")
def browser(chromium_executable):
    """One headless Chromium for every e2e module (package scope: closed before other tests)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS,
        )
        yield browser
        browser.close()


def _failure_screenshots(request, context) -> None:
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed:
        return
    failures = support.ARTIFACTS / "failures" / support.backend_name()
    failures.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(context.pages):
        page.screenshot(path=str(failures / f"{request.node.name}-{number}.png"), full_page=True)


@pytest.fixture
def new_context(browser, portal, request):
    """Open fresh browser profiles (no cookies) pointed at this module's server."""
    opened = []

    def open_context(**options):
        options = {"viewport": {"width": 1400, "height": 900}, **options}
        context = browser.new_context(base_url=portal.url, accept_downloads=True, **options)
        context.set_default_timeout(support.RUN_TIMEOUT_MS)
        context.add_init_script(support.RUN_COUNTER_SCRIPT)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        _failure_screenshots(request, context)
        context.close()


@pytest.fixture
def context(new_context):
    """This test's browser profile."""
    return new_context()


@pytest.fixture
def page(context):
    """A tab in this test's browser context."""
    return context.new_page()


# --- mail -----------------------------------------------------------------------------------

class RecordingHandler:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def wait_for(self, match: Callable[[EmailMessage], bool], *, timeout: float = 30.0
                 ) -> EmailMessage:
        """The first received message for which `match` is true (waits for it)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                for message in self.messages:
                    if match(message):
                        return message
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no matching message in {timeout} s; got {[m['To'] for m in self.messages]}"
                )
            time.sleep(0.05)  # polling the mailbox for a condition


@pytest.fixture(scope="module")
def smtp() -> Iterator[RecordingHandler]:
    """A real SMTP server on a free loopback port."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=support.free_port())
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


# --- the app server -------------------------------------------------------------------------

def fresh_database_url(folder: Path) -> str:
    """A database for one server: a new SQLite file, or the test PostgreSQL's reset schema."""
    if not PG_URL:
        return f"sqlite:///{folder / 'portal.db'}"
    engine = db.build_engine(PG_URL)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    engine.dispose()
    # Written out by hand: rendering through make_url would escape "=" as "%3D", and Alembic's
    # configparser rejects a "%" in the URL.
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path={PG_SCHEMA}"


def seed_database(database_url: str, fill: Callable[[Session], None], data_dir: Path) -> None:
    """Migrate the server's database and fill it in one unit of work, before the server starts.

    The seed runs with the server's data folder and database, so the keys it makes (the PIN
    pepper above all: seeded PINs are hashed with it) are the ones the server reads."""
    saved = {name: os.environ.get(name) for name in ("PORTAL_DATA_DIR", "PORTAL_DATABASE_URL")}
    os.environ.update(PORTAL_DATA_DIR=str(data_dir), PORTAL_DATABASE_URL=database_url)
    get_settings.cache_clear()
    db.migrate(database_url)
    try:
        with db.session_scope(engine=db.get_engine(database_url)) as session:
            fill(session)
    finally:
        db.dispose_engines()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def portal_seed() -> Callable[[Session], None] | None:
    """Override in a module to put rows in the database before its server starts."""
    return None


@pytest.fixture(scope="module")
def portal_env() -> dict[str, str]:
    """Override in a module for extra PORTAL_ settings of its server."""
    return {}


@pytest.fixture(scope="module")
def portal(request, tmp_path_factory, smtp, portal_seed, portal_env) -> Iterator[
        support.PortalServer]:
    """`streamlit run app.py` for this module: fresh data folder and database, mail to `smtp`."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    folder = tmp_path_factory.mktemp(name)
    data_dir = folder / "data"
    database_url = fresh_database_url(folder)
    if portal_seed is not None:
        seed_database(database_url, portal_seed, data_dir)
    extra = {
        "PORTAL_SMTP_HOST": "127.0.0.1",
        "PORTAL_SMTP_PORT": str(smtp.port),
        "PORTAL_SMTP_SECURITY": "none",
        **portal_env,
    }
    server = support.start_server(name=name, data_dir=data_dir, database_url=database_url,
                                  extra_env=extra)
    yield server
    server.stop()
