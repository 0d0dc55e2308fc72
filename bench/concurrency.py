"""Many desks at once: the real server driven over its websocket by N concurrent sessions.

    .venv/bin/python bench/concurrency.py [--desks 1 10 20 40 60] [--rounds 5]
        [--appointments 20000] [--processes 1 2] [--server-flag --runner.postScriptGC=true]
        [--profile /tmp/spy]

Method. A SQLite database of `--appointments` visits is seeded with seed-demo's generator
(bench/dashboard.py's builder, reused while fresh) plus one staff user per desk. For every N
and every process count (1 and 2 by default: both figures in one JSON) a fresh
`streamlit run app.py` is started on loopback (with 2, two servers behind nginx configured by
deploy/render_nginx.py, the deploy recipe itself: its `ip_hash` sticky sessions key on the
client's address, so each desk connects from its own 127.0.<desk>.1), and N sessions, each a small
protocol client speaking Streamlit's own protobufs over /_stcore/stream (BackMsg
rerun_script with widget states, as the browser sends them; ForwardMsg deltas back), do:

  sign in (the form: Username, Password, the Sign in trigger; `--sign-in-at-once` at a time,
  untimed but reported), then, once all are in, all N together with no pause, `--rounds`
  times: Dates (Start and End Date set to a window no session asked
  before), Location (the next location), Register (open the page), Back (the Dashboard).

One interaction is timed from sending the BackMsg to the ForwardMsg script_finished of the
last run it causes (a run that ends early for st.rerun is followed to its successor). The
figures shown on every Dashboard run (Appointments, Unique patients, Not registered,
Invited, Active) are recorded and, after the timed phase (so the check's own work does not
load the server), compared with services.schedule.summarize_schedule for the same criteria;
any page exception, error alert or mismatch is counted and fails the run.

Server CPU is utime+stime from /proc over the interaction phase (all servers summed, and
each server's share, which shows how nginx spread the desks);
cpu_ms_per_interaction divides it by the interactions. RSS is sampled every 0.2 s (max over
the phase, summed over servers) and the kernel's VmHWM is reported too. The machine's load
average (uptime) is printed with every figure: the machine is shared. Bounded: at most 60
desks, loopback only, `--timeout` seconds per N.

Output: one JSON document on stdout: every run, the targets' figures ("figures": the best
1-process throughput, CPU per interaction at the most desks on one process, p95 at 40 desks
for each process count, the largest RSS) beside "targets"; progress lines go to stderr.
`--profile PREFIX` records the servers with py-spy during the interaction phase only.

Targets: one process >= 30 interactions/s and <= 35 ms server CPU per interaction; 40
sessions p95 <= 1000 ms; RSS <= 400 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402

from ui.filters import ALL_LOCATIONS  # noqa: E402

TIMEZONE = "America/New_York"
PASSWORD = "bench-desk-password-1"
MAX_DESKS = 60
METRICS = ("Appointments", "Unique patients", "Not registered", "Invited", "Active")
TARGETS = {"interactions_per_s_one_process": ">= 30", "cpu_ms_per_interaction": "<= 35",
           "p95_ms_at_40_1_process": "<= 1000", "p95_ms_at_40_2_process": "<= 1000 (either)",
           "rss_mb": "<= 400"}
FINISHED_EARLY = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN


def desk_name(index: int) -> str:
    return f"bench-desk-{index:02d}"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- the database ---------------------------------------------------------------------------

def build_database(directory: Path, appointments: int, desks: int) -> tuple[Path, int]:
    """bench/dashboard.py's demo database plus `desks` staff users of its practice."""
    import dashboard  # bench/dashboard.py

    path = dashboard.build_database(directory, appointments)
    marker = json.loads(path.with_suffix(".json").read_text())
    practice_id = marker["practice_id"]
    from models import StaffPractice, StaffUser
    from services import auth, db
    from services.auth import hash_password

    engine = db.get_engine(f"sqlite:///{path}")
    with db.session_scope(engine=engine) as session:
        have = {name for (name,) in session.execute(
            StaffUser.__table__.select().with_only_columns(StaffUser.username)).all()}
        password_hash = None
        for index in range(1, desks + 1):
            if desk_name(index) in have:
                continue
            password_hash = password_hash or hash_password(PASSWORD)  # one bcrypt for all
            user = StaffUser(username=desk_name(index), name=f"Desk {index}",
                             email=f"desk{index}@example.org", role="staff",
                             password_hash=password_hash)
            session.add(user)
            session.flush()
            session.add(StaffPractice(staff_user_id=user.id, practice_id=practice_id))
    del auth
    db.dispose_engines()
    return path, practice_id


# --- the servers ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Servers:
    processes: list[subprocess.Popen]
    logs: list[Path]
    port: int  # where the desks connect (nginx with two processes)
    nginx: subprocess.Popen | None = None
    workdir: Path | None = None

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def errors(self) -> dict[str, int]:
        """The server's logged errors, by their last line (e.g. "database is locked")."""
        found: dict[str, int] = {}
        for path in self.logs:
            lines = path.read_text(errors="replace").splitlines()
            for number, line in enumerate(lines):
                if line.startswith("Traceback"):
                    tail = next((later for later in lines[number + 1:]
                                 if later and not later.startswith(" ")), "?")
                    found[tail[:160]] = found.get(tail[:160], 0) + 1
        return found

    def stop(self) -> None:
        for process in ([self.nginx] if self.nginx else []) + self.processes:
            process.terminate()
        for process in ([self.nginx] if self.nginx else []) + self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _wait_healthy(port: int, deadline: float) -> None:
    import urllib.request

    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(
                f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
            return
        time.sleep(0.2)
    raise SystemExit(f"the server on port {port} did not become healthy")


NGINX_MAIN = """
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fcgi; uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
  include {work}/site.conf;
}}
"""


def nginx_site(replicas: list[int], port: int) -> str:
    """The deploy recipe's site (deploy/render_nginx.py), listening on loopback."""
    sys.path.insert(0, str(ROOT / "deploy"))
    from render_nginx import render_site

    return render_site(replicas=replicas, listen_port=port, listen_address="127.0.0.1",
                       max_upload_mb=50)


def client_address(index: int, processes: int) -> str | None:
    """Where desk `index` connects from. The recipe's `ip_hash` keys on an address's first
    three octets, so with two servers each desk gets its own 127.0.<index>.1 (all loopback
    on Linux), as desks on a network have their own addresses."""
    return f"127.0.{index}.1" if processes > 1 else None


def start_servers(database: Path, count: int, flags: list[str], env_extra: dict) -> Servers:
    env = dict(os.environ, PORTAL_DATABASE_URL=f"sqlite:///{database}",
               PORTAL_DATA_DIR=str(database.parent / "data"), **env_extra)
    ports = [free_port() for _ in range(count)]
    logs = [open(database.parent / f"server-{port}.log", "w") for port in ports]  # noqa: SIM115
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", *flags],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    for log in logs:
        log.close()  # the child holds its own copy
    log_paths = [Path(log.name) for log in logs]
    deadline = time.monotonic() + 60
    for port in ports:
        _wait_healthy(port, deadline)
    if count == 1:
        return Servers(processes, log_paths, ports[0])
    work = Path(tempfile.mkdtemp(prefix="portal-nginx-"))
    port = free_port()
    (work / "site.conf").write_text(nginx_site(ports, port))
    (work / "nginx.conf").write_text(NGINX_MAIN.format(work=work))
    nginx = subprocess.Popen(["nginx", "-p", str(work), "-c", str(work / "nginx.conf"),
                              "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    _wait_healthy(port, deadline)
    return Servers(processes, log_paths, port, nginx, work)


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def memory_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


# --- the protocol client --------------------------------------------------------------------

@dataclass
class Run:
    """What one interaction showed: its elements by type, and what it cost."""

    ms: float
    elements: list[tuple[str, object]]

    def texts(self, kind: str) -> list[str]:
        return [getattr(element, "body", "") for name, element in self.elements if name == kind]

    def widget(self, kind: str, label: str):
        for name, element in self.elements:
            if name == kind and getattr(element, "label", None) == label:
                return element
        raise LookupError(f"no {kind} labelled {label!r} on the page")

    def metrics(self) -> dict[str, str]:
        return {element.label: element.body for name, element in self.elements
                if name == "metric"}

    def summary(self) -> str:
        """The headings and alerts, for a report of what showed instead."""
        return "; ".join(f"{name}: {getattr(element, 'body', '')}"[:200]
                         for name, element in self.elements if name in ("heading", "alert",
                                                                        "exception"))

    def problems(self) -> list[str]:
        found = [f"exception: {element.message}" for name, element in self.elements
                 if name == "exception"]
        found += [f"error: {element.body}" for name, element in self.elements
                  if name == "alert" and element.format == element.ERROR]
        return found


class Desk:
    """One browser tab, as far as the server can tell."""

    def __init__(self, url: str, local_address: str | None = None):
        self.url = url
        self.local_address = local_address
        self.socket = None
        self.query_string = ""
        self.pages: dict[str, str] = {}  # url path (or lower-case name) -> script hash
        self.page_hash = ""

    async def __aenter__(self) -> Desk:
        extra = {"local_addr": (self.local_address, 0)} if self.local_address else {}
        self.socket = await websockets.connect(self.url, subprotocols=["streamlit"],
                                               max_size=None, open_timeout=60, **extra)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.socket.close()

    async def rerun(self, widgets: list[WidgetState] = (), *, page: str | None = None) -> Run:
        message = BackMsg()
        state = message.rerun_script
        if page is not None:
            self.page_hash = self.pages[page]
            self.query_string = ""  # Streamlit clears query parameters on page changes
        state.query_string = self.query_string
        state.page_script_hash = self.page_hash
        state.widget_states.widgets.extend(widgets)
        started = time.perf_counter()
        await self.socket.send(message.SerializeToString())
        elements: dict[tuple, tuple[str, object]] = {}
        while True:
            forward = ForwardMsg()
            forward.ParseFromString(await self.socket.recv())
            kind = forward.WhichOneof("type")
            if kind == "new_session":
                elements.clear()
                self.page_hash = forward.new_session.page_script_hash or self.page_hash
            elif kind == "navigation":
                self.pages = {page.url_pathname or page.page_name.lower():
                              page.page_script_hash for page in forward.navigation.app_pages}
                self.page_hash = forward.navigation.page_script_hash or self.page_hash
            elif kind == "page_info_changed":
                self.query_string = forward.page_info_changed.query_string
            elif kind == "ref_hash":
                raise RuntimeError("the server sent a cached reference; none were offered")
            elif kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                element = forward.delta.new_element
                name = element.WhichOneof("type")
                elements[tuple(forward.metadata.delta_path)] = (name, getattr(element, name))
            elif kind == "script_finished" and forward.script_finished != FINISHED_EARLY:
                return Run((time.perf_counter() - started) * 1000,
                           [elements[path] for path in sorted(elements)])


def text_state(widget_id: str, value: str) -> WidgetState:
    return WidgetState(id=widget_id, string_value=value)


def date_state(widget_id: str, day: dt.date) -> WidgetState:
    state = WidgetState(id=widget_id)
    state.string_array_value.data.append(day.isoformat())
    return state


@dataclass
class DeskResult:
    sign_in_ms: float = 0.0
    timings: dict[str, list[float]] = field(default_factory=dict)
    shown: list[tuple[dt.date, dt.date, str, dict[str, str]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


async def sign_in(desk: Desk, username: str) -> Run:
    page = await desk.rerun()
    form = [text_state(page.widget("text_input", "Username").id, username),
            text_state(page.widget("text_input", "Password").id, PASSWORD),
            WidgetState(id=page.widget("button", "Sign in").id, trigger_value=True)]
    return await desk.rerun(form)


async def drive_desk(url: str, index: int, windows, locations: list[str], rounds: int,
                     signing_in: asyncio.Semaphore, signed_in: asyncio.Barrier,
                     go: asyncio.Event, local_address: str | None = None) -> DeskResult:
    result = DeskResult()
    async with Desk(url, local_address) as desk:
        async with signing_in:
            started = time.perf_counter()
            try:
                run = await sign_in(desk, desk_name(index))
            except LookupError as error:  # no sign-in form: reported, and the others go on
                run = Run(0.0, [])
                result.problems.append(f"{desk_name(index)}: {error}")
            result.sign_in_ms = (time.perf_counter() - started) * 1000
        result.problems += run.problems()
        await signed_in.wait()
        await go.wait()
        if "Dashboard" not in run.texts("heading"):
            result.problems.append(f"{desk_name(index)}: no Dashboard after signing in: "
                                   f"{run.summary()}")
            return result
        try:
            await _rounds(desk, run, result, windows, locations[index % len(locations):]
                          + locations[:index % len(locations)], rounds)
        except LookupError as error:
            result.problems.append(f"{desk_name(index)}: {error}")
    return result


async def _rounds(desk: Desk, run: Run, result: DeskResult, windows, locations: list[str],
                  rounds: int) -> None:
    shown_location = ALL_LOCATIONS  # what the Location drop-down holds now
    for round_ in range(rounds):
        start, end = windows[round_]
        location = locations[round_ % len(locations)]
        steps = [
            ("dates", lambda r, s=start, e=end: [
                date_state(r.widget("date_input", "Start Date").id, s),
                date_state(r.widget("date_input", "End Date").id, e)], None),
            ("location", lambda r, name=location: [
                text_state(r.widget("selectbox", "Location").id, name)], None),
            ("register", lambda r: [], "register"),
            ("back", lambda r: [], "dashboard"),
        ]
        for name, widgets, page in steps:
            run = await desk.rerun(widgets(run), page=page)
            result.timings.setdefault(name, []).append(run.ms)
            result.problems += run.problems()
            wanted = "Register Patient" if name == "register" else "Dashboard"
            if wanted not in run.texts("heading"):
                raise LookupError(f"{name}: {wanted} did not show: {run.summary()}")
            if page != "register":
                if name == "location":
                    shown_location = location
                result.shown.append((start, end, shown_location, run.metrics()))


def expected_metrics(database: Path, practice_id: int, start: dt.date, end: dt.date,
                     location: str) -> dict[str, str]:
    from services import db
    from services.schedule import ScheduleCriteria, summarize_schedule
    from services.status import PortalStatus

    engine = db.get_engine(f"sqlite:///{database}")
    with db.session_scope(read_only=True, engine=engine) as session:
        location_id = None
        if location != ALL_LOCATIONS:
            from sqlalchemy import select

            from models import Location
            location_id = session.execute(select(Location.id).where(
                Location.practice_id == practice_id, Location.name == location)).scalar_one()
        summary = summarize_schedule(session, practice_id=practice_id, criteria=ScheduleCriteria(
            start=start, end=end, location_id=location_id))
    return {
        "Appointments": f"{summary.appointments:,}",
        "Unique patients": f"{summary.patients:,}",
        "Not registered": f"{summary.patients_with(PortalStatus.not_registered):,}",
        "Invited": f"{summary.patients_with(PortalStatus.invited):,}",
        "Active": f"{summary.patients_with(PortalStatus.active):,}",
    }


def new_windows(today: dt.date, seed: int) -> list[tuple[dt.date, dt.date]]:
    """Distinct windows of 1 to 30 days inside the seeded 91 days, shuffled."""
    pairs = [(today - dt.timedelta(days=back), length)
             for back in range(0, 60) for length in (1, 7, 14, 30)]
    random.Random(seed).shuffle(pairs)
    windows = [(start, start + dt.timedelta(days=length - 1)) for start, length in pairs]
    return windows


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def start_profilers(pids: list[int], profile: Path | None) -> list[subprocess.Popen]:
    """py-spy on every server for the interaction phase only (not start-up or sign-in)."""
    if profile is None:
        return []
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    return [subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", "100",
                              "--nonblocking", "--format", "raw", "--output",
                              f"{profile}-{index}.txt"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for index, pid in enumerate(pids)]


def stop_profilers(spies: list[subprocess.Popen]) -> None:
    for spy in spies:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on an interrupt
    for spy in spies:
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()


async def measure(servers: Servers, desks: int, rounds: int, locations: list[str],
                  timeout: float, sign_in_at_once: int, profile: Path | None = None
                  ) -> tuple[list[DeskResult], float, list[float], int, int]:
    url = f"ws://127.0.0.1:{servers.port}/_stcore/stream"
    today = dt.datetime.now(zoneinfo.ZoneInfo(TIMEZONE)).date()
    windows = new_windows(today, seed=desks)
    if desks * rounds > len(windows):
        raise SystemExit(f"at most {len(windows)} distinct windows: lower --rounds")
    per_desk = [windows[i * rounds:(i + 1) * rounds] for i in range(desks)]
    signing_in = asyncio.Semaphore(sign_in_at_once)
    signed_in = asyncio.Barrier(desks + 1)
    go = asyncio.Event()
    tasks = [asyncio.create_task(drive_desk(
        url, i + 1, per_desk[i], locations, rounds, signing_in, signed_in, go,
        client_address(i + 1, len(servers.processes)))) for i in range(desks)]
    await asyncio.wait_for(signed_in.wait(), timeout)
    rss_max = 0
    spies = start_profilers(servers.pids(), profile)
    cpu_before = [cpu_seconds([pid]) for pid in servers.pids()]
    started = time.perf_counter()
    go.set()
    pending = set(tasks)
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"{desks} desks did not finish within {timeout} s")
        _, pending = await asyncio.wait(pending, timeout=0.2)
        rss_max = max(rss_max, sum(memory_kb(pid, "VmRSS") for pid in servers.pids()))
    wall = time.perf_counter() - started
    cpu = [cpu_seconds([pid]) - before for pid, before in zip(servers.pids(), cpu_before,
                                                               strict=True)]
    stop_profilers(spies)
    hwm = sum(memory_kb(pid, "VmHWM") for pid in servers.pids())
    return [task.result() for task in tasks], wall, cpu, rss_max, hwm


def run_once(args, database: Path, practice_id: int, locations: list[str], processes: int,
             desks: int, env_extra: dict) -> dict:
    """Start `processes` servers, drive `desks` sessions, check the figures: one record."""
    load_before = load_average()
    servers = start_servers(database, processes, args.server_flag, env_extra)
    profile = args.profile and args.profile.with_name(f"{args.profile.name}-{processes}p-{desks}")
    try:
        results, wall, cpu, rss_kb, hwm_kb = asyncio.run(
            measure(servers, desks, args.rounds, locations, args.timeout,
                    args.sign_in_at_once, profile))
    finally:
        servers.stop()
    problems = list(itertools.chain.from_iterable(r.problems for r in results))
    checked = 0
    seen: dict[tuple, dict[str, str]] = {}
    for result in results:
        for start, end, location, shown in result.shown:
            key = (start, end, location)
            if key not in seen:
                seen[key] = expected_metrics(database, practice_id, *key)
            checked += 1
            if {name: shown.get(name) for name in METRICS} != seen[key]:
                problems.append(f"{key}: shown {shown}, service {seen[key]}")
    every = list(itertools.chain.from_iterable(
        timings for r in results for timings in r.timings.values()))
    by_kind = {}
    for kind in ("dates", "location", "register", "back"):
        values = list(itertools.chain.from_iterable(r.timings.get(kind, []) for r in results))
        by_kind[kind] = {"p50_ms": round(statistics.median(values), 1) if values else None,
                         "p95_ms": round(percentile(values, 0.95), 1) if values else None}
    sign_ins = [r.sign_in_ms for r in results]
    count = max(1, len(every))
    return {
        "desks": desks, "processes": processes, "interactions": len(every),
        "p50_ms": round(statistics.median(every), 1) if every else None,
        "p95_ms": round(percentile(every, 0.95), 1) if every else None,
        "by_interaction": by_kind,
        "interactions_per_s": round(len(every) / wall, 1),
        "server_cpu_s": round(sum(cpu), 2),
        "server_cpu_s_each": [round(one, 2) for one in cpu],  # how nginx spread the desks
        "cpu_ms_per_interaction": round(1000 * sum(cpu) / count, 1),
        "rss_mb_max": round(rss_kb / 1024, 1), "vm_hwm_mb": round(hwm_kb / 1024, 1),
        "sign_in_p50_ms": round(statistics.median(sign_ins), 1),
        "sign_in_max_ms": round(max(sign_ins), 1),
        "figures_checked": checked,
        "problems": problems[:5], "problem_count": len(problems),
        "desks_signed_in": sum(1 for r in results if r.timings),
        "server_errors": servers.errors(),
        "load_before": load_before, "load_after": load_average(),
    }


def verdict(runs: list[dict]) -> dict:
    """The targets' figures out of the runs (None where a run was not asked for)."""
    one = [run for run in runs if run["processes"] == 1]
    busiest = max(one, key=lambda run: run["desks"], default=None)
    found: dict = {
        "interactions_per_s_one_process": max((run["interactions_per_s"] for run in one),
                                              default=None),
        "cpu_ms_per_interaction": busiest and busiest["cpu_ms_per_interaction"],
        "rss_mb": max((run["rss_mb_max"] for run in runs), default=None),
    }
    for processes in sorted({run["processes"] for run in runs}):
        at_40 = [run["p95_ms"] for run in runs if run["processes"] == processes
                 and run["desks"] == 40]
        found[f"p95_ms_at_40_{processes}_process"] = at_40[0] if at_40 else None
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--desks", type=int, nargs="+", default=[1, 10, 20, 40, 60])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--appointments", type=int, default=20_000)
    parser.add_argument("--processes", type=int, nargs="+", choices=(1, 2), default=[1, 2],
                        help="server processes (2: behind nginx, deploy/'s recipe); each "
                             "count is measured for every --desks")
    parser.add_argument("--server-flag", action="append", default=[],
                        help="an extra `streamlit run` flag, e.g. --runner.postScriptGC=true")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument("--label", default="", help="a name for this configuration")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--sign-in-at-once", type=int, default=4,
                        help="sign-ins in flight together before the timed phase")
    parser.add_argument("--profile", type=Path, metavar="PREFIX",
                        help="record the servers with py-spy (requirements-test.txt) during "
                             "the interaction phase into PREFIX-<processes>p-<desks>-<server>"
                             ".txt (collapsed stacks)")
    parser.add_argument("--dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "practice-portal-bench")
    args = parser.parse_args(argv)
    if max(args.desks) > MAX_DESKS:
        raise SystemExit(f"at most {MAX_DESKS} desks")
    args.dir.mkdir(parents=True, exist_ok=True)
    # The servers' data folder (keys, the PIN pepper the seed hashes with) before any service
    # reads its settings: the seed and the servers must share it.
    os.environ["PORTAL_DATA_DIR"] = str(args.dir / "data")
    database, practice_id = build_database(args.dir, args.appointments, max(args.desks))
    from services import db

    engine = db.get_engine(f"sqlite:///{database}")
    from sqlalchemy import select

    from models import Location
    with db.session_scope(read_only=True, engine=engine) as session:
        names = list(session.execute(select(Location.name).where(
            Location.practice_id == practice_id).order_by(Location.name)).scalars())
    locations = [*names, ALL_LOCATIONS]
    env_extra = dict(item.split("=", 1) for item in args.env)
    runs = []
    for processes in args.processes:
        for desks in args.desks:
            runs.append(run_once(args, database, practice_id, locations, processes, desks,
                                 env_extra))
            print(json.dumps(runs[-1]), file=sys.stderr, flush=True)  # progress
    print(json.dumps({
        "bench": "concurrency", "label": args.label, "appointments": args.appointments,
        "rounds": args.rounds, "server_flags": args.server_flag, "server_env": env_extra,
        "cores": os.cpu_count(), "runs": runs, "figures": verdict(runs), "targets": TARGETS,
    }, indent=1), flush=True)
    failed = [run for run in runs if run["problem_count"]]
    for run in failed:
        print(f"{run['processes']} process(es), {run['desks']} desks: "
              + "; ".join(run["problems"]), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
