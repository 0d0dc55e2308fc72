"""Driving the app in Chromium: start a server, wait for Streamlit's reruns, sign in, screenshots.

Reruns are awaited the way Streamlit's own e2e suite does it, by the attributes its frontend puts
on the root element (`data-test-connection-state="CONNECTED"`,
`data-test-script-state="notRunning"`), made exact: Streamlit's suite pauses a fixed time first,
because right after a click the state may still read `notRunning`, and a short run may never show
`running` at all (React batches the two updates). Instead an init script watches the websocket
for the browser's rerun requests and the server's script-finished messages, so a wait asks for
a run that finished after the last request, including the reruns that custom components start
on their own. No fixed sleeps anywhere.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlmodel import Session

from models import (
    Practice,
    Role,
)
from services.auth import create_user
from tests.factories import (
    make_practice,
    make_visit,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
SERVER_LOGS = ARTIFACTS / "server-logs"
RUN_TIMEOUT_MS = 30_000
GRID_HEADER_HEIGHT, GRID_ROW_HEIGHT = 36, 35  # st.dataframe's header and row, in CSS pixels
GRID_MARKER_WIDTH = 32  # the row-selection boxes' column
WRITTEN: list[Path] = []  # screenshots and server logs of this test run, for the summary

# Installed on every document before the app's own scripts (top frame only). It watches the
# app's websocket: each BackMsg `rerun_script` (field 11) the browser sends and each ForwardMsg
# `script_finished` (field 6) and `session_status_changed` (field 9) the server sends, read
# from the top-level protobuf fields. It also notes when each custom component frame (the
# authenticator's cookie manager) sends a value, since that starts a rerun of its own: a click
# that lands before that rerun can be lost, as the rerun interrupts the click's run.
RUN_COUNTER_SCRIPT = """
(() => {
  if (window !== window.top) return;
  const app = window.__portal = {
    seq: 0, finished: 0, lastFinal: 0, lastRequest: 0, running: false, marks: new Map(),
  };
  const varint = (bytes, pos) => {
    let value = 0, shift = 0, byte;
    do { byte = bytes[pos++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; }
    while (byte & 0x80);
    return [value, pos];
  };
  const fields = (bytes) => {
    const found = [];
    let pos = 0;
    while (pos < bytes.length) {
      let key, value;
      [key, pos] = varint(bytes, pos);
      const wire = key & 7;
      if (wire === 0) { [value, pos] = varint(bytes, pos); }
      else if (wire === 2) {
        let length; [length, pos] = varint(bytes, pos);
        value = bytes.subarray(pos, pos + length); pos += length;
      } else if (wire === 1) { pos += 8; } else if (wire === 5) { pos += 4; } else { break; }
      found.push([Math.floor(key / 8), value]);
    }
    return found;
  };
  const asBytes = (data) => data instanceof ArrayBuffer ? new Uint8Array(data)
    : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : null;
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        const bytes = asBytes(event.data);
        if (!bytes) return;
        for (const [field, value] of fields(bytes)) {
          if (field === 6) {  // script_finished; 2 = FINISHED_EARLY_FOR_RERUN (not final)
            app.seq += 1;
            if (value !== 2) { app.finished += 1; app.lastFinal = app.seq; }
          } else if (field === 9) {  // session_status_changed.script_is_running (field 2)
            app.running = fields(value).some(([f, v]) => f === 2 && v === 1);
          }
        }
      });
    }
    send(data) {
      const bytes = asBytes(data);
      if (bytes && fields(bytes).some(([field]) => field === 11)) {
        app.seq += 1; app.lastRequest = app.seq;
      }
      return super.send(data);
    }
  };
  window.addEventListener('message', (event) => {
    const data = event.data;
    if (data && data.isStreamlitMessage && data.type === 'streamlit:setComponentValue') {
      app.seq += 1; app.marks.set(event.source, app.seq);
    }
  }, true);
})();
"""

# Settled: a run finished since `before`; the last rerun request and every cookie manager
# frame's value came before the last run that finished; no run going on; connected; and no
# element still loading (a component shows a skeleton until its frame is ready).
_SETTLED = """
(before) => {
  const app = window.__portal;
  const root = document.querySelector('[data-testid="stApp"]');
  if (!app || !root || app.finished <= before || app.running
      || app.lastRequest >= app.lastFinal
      || root.getAttribute('data-test-connection-state') !== 'CONNECTED'
      || root.getAttribute('data-test-script-state') !== 'notRunning'
      || document.querySelector('[data-testid="stSkeleton"]')) return false;
  for (const frame of document.querySelectorAll('iframe[src*="cookie_manager"]')) {
    const mark = app.marks.get(frame.contentWindow);
    if (mark === undefined || mark >= app.lastFinal) return false;
  }
  return true;
}
"""

_DIAGNOSIS = """
() => {
  const app = window.__portal || {};
  const root = document.querySelector('[data-testid="stApp"]');
  return {
    url: location.href, finished: app.finished, seq: app.seq, lastFinal: app.lastFinal,
    lastRequest: app.lastRequest, running: app.running,
    scriptState: root && root.getAttribute('data-test-script-state'),
    connection: root && root.getAttribute('data-test-connection-state'),
    skeletons: document.querySelectorAll('[data-testid="stSkeleton"]').length,
    cookieFrames: [...document.querySelectorAll('iframe[src*="cookie_manager"]')].map(
      (frame) => (app.marks && app.marks.get(frame.contentWindow)) ?? null),
  };
}
"""


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def runs_done(page: Page) -> int:
    """How many script runs this document has seen finish."""
    return page.evaluate("window.__portal ? window.__portal.finished : 0")


def wait_for_app_run(page: Page, *, after: int = 0) -> None:
    """Wait until a run later than `after` finished, the app idle and its components settled."""
    try:
        page.wait_for_function(_SETTLED, arg=after, timeout=RUN_TIMEOUT_MS)
    except PlaywrightTimeoutError:
        raise AssertionError(
            f"app did not settle after run {after}: {page.evaluate(_DIAGNOSIS)}"
        ) from None


@contextlib.contextmanager
def rerun(page: Page) -> Iterator[None]:
    """Wrap an action that makes the app rerun; returns once that rerun finished."""
    before = runs_done(page)
    yield
    wait_for_app_run(page, after=before)


def open_app(page: Page, path: str = "/") -> None:
    """Load `path` in a new document and wait for its first full run."""
    page.goto(path)
    wait_for_app_run(page)


def open_in_new_tab(page: Page, path: str) -> Page:
    """Open `path` in a new tab of the same browser profile (signed in by the cookie), close
    `page`, and wait for the new tab's first full run.

    A staff member follows a link into a tab of its own. Typing the URL into the tab of a
    page that is still busy (the Dashboard's refreshing fragments) could, on a slow backend,
    show that page again instead of the one asked for."""
    tab = page.context.new_page()
    open_app(tab, path)
    page.close()
    return tab


def reload_app(page: Page) -> None:
    """Reload the page (a browser refresh) and wait for its first full run."""
    page.reload()
    wait_for_app_run(page)


def main_area(page: Page) -> Locator:
    """The page's main area (no sidebar, no top navigation)."""
    return page.get_by_test_id("stMain")


def sidebar(page: Page) -> Locator:
    return page.get_by_test_id("stSidebar")


def fill(page: Page, label: str, value: str, *, scope: Locator | None = None) -> None:
    """Type into the text input called `label` (no rerun until the form is submitted)."""
    (scope or page).get_by_label(label, exact=True).fill(value)


def click_button(page: Page, name: str, *, scope: Locator | None = None) -> None:
    """Click the button called `name` and wait for the rerun it starts."""
    with rerun(page):
        (scope or page).get_by_role("button", name=name, exact=True).click()


def sign_in(page: Page, username: str, password: str) -> None:
    """Fill the sign-in form and submit it."""
    form = page.get_by_test_id("stForm")
    fill(page, "Username", username, scope=form)
    fill(page, "Password", password, scope=form)
    click_button(page, "Sign in", scope=form)


def signed_in(page: Page, staff: Staff, path: str = "/") -> Locator:
    """Open `path`, sign `staff` in on the form it shows, and wait for the page's run: the main
    area of the page, signed in."""
    open_app(page, path)
    sign_in(page, staff.username, staff.password)
    expect_signed_in(page, staff.name)
    wait_for_app_run(page)
    return main_area(page)


def sign_out(page: Page) -> None:
    """Press Logout in the sidebar and wait for the sign-in form."""
    click_button(page, "Logout", scope=sidebar(page))
    expect(page.get_by_label("Password", exact=True)).to_be_visible()


def expect_signed_in(page: Page, name: str) -> None:
    """The sidebar says who is signed in (the app rendered past the login gate)."""
    expect(sidebar(page).get_by_text(f"Signed in as {name}")).to_be_visible()


def expect_signed_out(page: Page) -> None:
    """Only the sign-in form: no sidebar caption, no Logout."""
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Logout")).to_have_count(0)
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def choose_option(page: Page, label: str, option: str, *, scope: Locator | None = None) -> None:
    """Pick `option` in the selectbox called `label` and wait for the rerun."""
    box = (scope or page).get_by_label(label, exact=True)
    box.click()
    with rerun(page):
        page.get_by_role("option", name=option, exact=True).click()


def type_date(page: Page, label: str, value: dt.date, *, scope: Locator | None = None) -> None:
    """Type a date into the st.date_input called `label`, segment by segment as a user does.

    The widget keeps the value until it loses focus; the caller moves on (a click elsewhere,
    the next field) and waits for the rerun that follows where there is one."""
    field = (scope or page).get_by_role("group", name=label, exact=True)
    field.get_by_role("spinbutton").first.click()
    page.keyboard.type(f"{value:%m%d%Y}")


def grid_column(scope: Locator, header: str, *, grid: int = 0) -> Locator:
    """The cells under `header` in a st.dataframe, read from the grid's accessibility table
    (the grid itself is drawn on a canvas). Only the rows in view are there."""
    table = scope.get_by_test_id("stDataFrame").nth(grid).locator("table[role=grid]")
    expect(table.locator("th", has_text=header).first).to_be_attached()
    headers = table.locator("th").all_inner_texts()
    assert header in headers, f"no column {header!r} in {headers}"
    return table.locator(f'tbody td[aria-colindex="{headers.index(header) + 1}"]')


def select_row(page: Page, *, row: int = 0, grid: int = 0) -> Locator:
    """Select a Dashboard row by its box (a click); the row's detail below the list.

    The grid is drawn on a canvas: the box is the first column at the row's height."""
    canvas = main_area(page).get_by_test_id("stDataFrame").nth(grid).locator("canvas").first
    box = canvas.bounding_box()
    y = box["y"] + GRID_HEADER_HEIGHT + GRID_ROW_HEIGHT * (row + 0.5)
    with rerun(page):
        page.mouse.click(box["x"] + GRID_MARKER_WIDTH / 2, y)
    return main_area(page).locator(".st-key-dashboard_row_detail")


def register_from_row(page: Page, *, row: int = 0, grid: int = 0) -> Page:
    """Select a Dashboard row by its box and follow Register in the row's detail: Register
    Patient opens in the same tab, which is returned once its first run finished."""
    detail = select_row(page, row=row, grid=grid)
    link = detail.get_by_role("link", name=re.compile(r"^Register "))
    expect(link).to_be_visible()
    pages = len(page.context.pages)
    with rerun(page):
        link.click()
    expect(main_area(page).get_by_role("heading", name="Register Patient")).to_be_visible()
    assert len(page.context.pages) == pages, "Register opened another tab"
    return page


# --- accessibility: axe-core -----------------------------------------------------------------

# What axe-core finds in Streamlit's own widgets, which the app cannot change: the rule id, the
# widget (a fragment of the flagged element's HTML) and why. Only these places are let pass, so
# the app's own HTML, labels, headings and colours are checked in full.
STREAMLIT_ONLY: list[tuple[str, str, str]] = [
    ("presentation-role-conflict", 'data-testid="stFileUploaderDropzone"',
     "st.file_uploader's drop zone is a <section role=presentation> that also carries an "
     "aria-label (the widget's label; its Browse files button is labelled and focusable). "
     "Minor; only Streamlit's frontend can drop one of the two."),
]


def axe_violations(page: Page, where: str, *, impacts: tuple[str, ...] = ("serious", "critical")
                   ) -> list[str]:
    """axe-core's violations of these impacts on the page, one line each, less the places only
    Streamlit can fix (STREAMLIT_ONLY)."""
    lines = []
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] not in impacts:
            continue
        left = [node["target"] for node in violation["nodes"] if not any(
            rule == violation["id"] and widget in node["html"]
            for rule, widget, _ in STREAMLIT_ONLY)]
        if left:
            lines.append(f"{where}: {violation['id']} ({violation['impact']}) at {left[:3]}")
    return lines


def tab_until(page: Page, predicate: str, *, key: str = "Tab", limit: int = 60) -> None:
    """Press `key` (Tab, or Shift+Tab to go back) until `predicate` (JavaScript over `el`, the
    focused element) holds."""
    for _ in range(limit):
        if page.evaluate(f"(() => {{ const el = document.activeElement; return {predicate}; }})()"):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{key} never reached {predicate}")


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot into test-artifacts/screenshots (per database backend)."""
    folder = SCREENSHOTS / backend_name()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    # The app scrolls inside its main area, so a full-page shot would stop at the window's
    # height: grow the window to the content for the shot, then put it back.
    size = page.viewport_size
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 0")
    if size and height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": min(height, 6000)})
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        if size:
            page.set_viewport_size(size)
    WRITTEN.append(path)
    return path


def backend_name() -> str:
    return "postgresql" if os.environ.get("PORTAL_TEST_DATABASE_URL") else "sqlite"


@dataclass
class PortalServer:
    """A `streamlit run app.py` process on loopback, with its captured terminal output."""

    url: str
    port: int
    data_dir: Path
    database_url: str
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None
    _log_file: object = field(default=None, repr=False)

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_output(self, pattern: str, *, timeout: float = 30.0) -> re.Match:
        """Wait until the terminal shows a line matching `pattern`; return the match."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.output())
            if found:
                return found
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"server exited:\n{self.output()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not in server output:\n{self.output()[-4000:]}")
            time.sleep(0.05)  # polling a file for a condition, not a timed assert

    def stop(self) -> None:
        """Stop the server (its whole process group) and close the log."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def server_env(*, data_dir: Path, database_url: str, extra: dict[str, str]) -> dict[str, str]:
    """The environment for the server: ours minus any PORTAL_/STREAMLIT_ knobs, plus the given."""
    env = {
        name: value for name, value in os.environ.items()
        if not name.startswith(("PORTAL_", "STREAMLIT_"))
    }
    env.update(
        PORTAL_DATA_DIR=str(data_dir),
        PORTAL_DATABASE_URL=database_url,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def start_server(*, name: str, data_dir: Path, database_url: str, extra_env: dict[str, str],
                 health: bool = True, port: int | None = None) -> PortalServer:
    """Start `streamlit run app.py` on a loopback port (a free one unless given: a restart
    reuses its server's port); wait for /_stcore/health."""
    port = port or free_port()
    SERVER_LOGS.mkdir(parents=True, exist_ok=True)
    log_path = SERVER_LOGS / f"{backend_name()}-{name}.log"
    log_file = log_path.open("w", encoding="utf-8")
    WRITTEN.append(log_path)
    env = server_env(data_dir=data_dir, database_url=database_url, extra=extra_env)
    server = PortalServer(url=f"http://127.0.0.1:{port}", port=port, data_dir=data_dir,
                          database_url=database_url, log_path=log_path, env=env,
                          _log_file=log_file)
    server.process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    if health:
        try:
            wait_for_health(server)
        except BaseException:
            server.stop()
            raise
    return server


def wait_for_health(server: PortalServer, *, timeout: float = 60.0) -> None:
    """Poll /_stcore/health until it answers `ok`."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited early:\n{server.output()[-4000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(
                f"{server.url}/_stcore/health", timeout=2) as answer:
            if answer.read().decode() == "ok":
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"no health answer in {timeout} s:\n{server.output()[-4000:]}")
        time.sleep(0.1)  # polling for readiness


def assert_absent_from_log(server: PortalServer, secrets: dict[str, str]) -> None:
    """None of the given values (PINs, passwords, patient details) is in the server output."""
    output = server.output()
    leaked = {what: value for what, value in secrets.items() if value and value in output}
    assert not leaked, f"server log {server.log_path} contains {sorted(leaked)}"



# --- seeds: what a scenario's `portal_seed` writes before the server starts --------------------


@dataclass(frozen=True)
class Staff:
    """A staff member a scenario seeds and signs in as (email: the username's first part)."""

    username: str
    name: str
    password: str
    role: Role = Role.staff

    @property
    def email(self) -> str:
        return f"{self.username.split('.')[0]}@example.org"


def seed_staff(session: Session, staff: Staff, **practices: list) -> None:
    """`staff` as a user of the practices named (`practice_names=`) or given (`practice_ids=`)."""
    create_user(session, username=staff.username, name=staff.name, email=staff.email,
                role=staff.role, password=staff.password, actor="e2e", **practices)


seed_visit = make_visit  # a patient with a visit (and a guardian): tests/factories.py


def seed_practice(session: Session, name: str, staff: Staff, **fields) -> Practice:
    """A practice (`fields` as make_practice takes them) with `staff` as its user."""
    practice = make_practice(session, name=name, **fields)
    seed_staff(session, staff, practice_names=[name])
    return practice
