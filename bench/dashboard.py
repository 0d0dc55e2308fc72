"""Dashboard rerun benchmark: prints one JSON object per measurement.

    .venv/bin/python bench/dashboard.py [--sizes 10000 1000000] [--windows 1 30] [--reruns 20]

Builds SQLite databases of N appointments with seed-demo's generator (reused when already
built), then times full AppTest reruns of app.py signed in on the Dashboard for a 1-day and
a 30-day window ending today (all locations and providers), after a warm-up, plus a bare
one-line Streamlit page as the floor. Each measurement runs in its own process so that
peak_rss_mb is its own.

bench "dashboard" is a rerun as a user gets it (the page's short-ttl cache is warm after the
warm-up run); "dashboard_uncached" clears st.cache_data before every rerun, so every rerun
runs the schedule's SQL (summary and page) again. With --history, "dashboard_history*" repeat
both on a database of the largest size whose visits spread over years at the 10,000
database's density: the window holds as much as at 10,000 and only the history grew.

bench "dashboard_new_window" is a filter change to a window never asked before, as a front
desk makes them all day: every timed rerun sets the filters (through the page's link
parameters, which the page applies like a changed filter) to new dates of the same length,
in turn with All locations and all providers ("dates"), with the next location
("location"), and with a subset of two providers ("providers"); nothing is cleared, and no
criteria repeat, so the summary and the page are read from the database every time. After
the timed reruns every figure shown is compared with summarize_schedule's answer.

Each line carries cpu_ms_p50 (the process's CPU time per rerun: on a shared machine the
wall time includes waiting for a core) and the load average; the last line ("summary") puts
every figure beside its 10,000-appointment figure and its target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USERNAME = "bench-staff"
TIMEZONE = "America/New_York"
FLOOR_SCRIPT = 'import streamlit as st\nst.write("floor")\n'


HISTORY_CHUNK = 10_000
STALE_AFTER_DAYS = 20  # seed-demo's visits run from 60 days back to 30 ahead of its day


def database_path(directory: Path, appointments: int, *, history: bool = False) -> Path:
    return directory / f"{'history' if history else 'appointments'}-{appointments}.db"


def _is_fresh(marker: Path) -> bool:
    try:
        seeded_on = dt.date.fromisoformat(json.loads(marker.read_text())["seeded_on"])
    except (OSError, ValueError, KeyError):
        return False
    return (dt.date.today() - seeded_on).days <= STALE_AFTER_DAYS


def build_database(directory: Path, appointments: int, *, history: bool = False,
                   rebuild: bool = False) -> Path:
    """A SQLite database with one demo practice of `appointments` visits and a staff user.

    Dense (the default): seed-demo's generator once, so every visit falls within 91 days and
    a 30-day window holds a third of them. History: the same generator run once per 10,000
    visits, each run 91 days further back, so a window holds what it holds in the 10,000
    database and only the history grows.
    """
    path = database_path(directory, appointments, history=history)
    marker = path.with_suffix(".json")
    if path.exists() and _is_fresh(marker) and not rebuild:
        return path
    for stale in (path, marker, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    from services import auth, db
    from services.demo import seed_demo

    url = f"sqlite:///{path}"
    db.migrate(url)
    started = time.perf_counter()
    engine = db.get_engine(url)
    today = dt.datetime.now(zoneinfo.ZoneInfo(TIMEZONE)).date()
    chunks = (
        [(today - dt.timedelta(days=91 * k), HISTORY_CHUNK)
         for k in range(max(1, appointments // HISTORY_CHUNK))]
        if history else [(today, appointments)]
    )
    for day, count in chunks:
        with db.session_scope(engine=engine) as session:
            summary = seed_demo(session, appointments=count, timezone=TIMEZONE, today=day)
    with db.session_scope(engine=engine) as session:
        auth.create_user(session, username=USERNAME, name="Bench Staff",
                         email="bench@example.org", role="staff",
                         password="bench-password-123", practice_ids=[summary.practice_id],
                         actor="bench")
    db.dispose_engines()  # the last connection to close checkpoints the WAL
    marker.write_text(json.dumps({
        "appointments": appointments,
        "history": history,
        "practice_id": summary.practice_id,
        "seeded_on": today.isoformat(),
        "seconds": round(time.perf_counter() - started, 1),
    }))
    print(f"# built {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return path


TARGETS_MS = {"dashboard": 50, "dashboard_new_window": 250}
_cpu_ms: list[float] = []


def _timed_runs(at, reruns: int, *, before_each=None, check=None) -> list[float]:
    timings = []
    _cpu_ms.clear()
    for index in range(reruns):
        if before_each:
            before_each(index)
        started = time.perf_counter()
        cpu_started = time.process_time()
        at.run()
        timings.append((time.perf_counter() - started) * 1000)
        _cpu_ms.append((time.process_time() - cpu_started) * 1000)
        if at.exception:
            raise SystemExit(f"the page raised: {at.exception}")
        if check and not check(at):
            raise SystemExit("a rerun did not show the page it measures: "
                             f"{[m.value for m in at.metric]}, {len(at.dataframe)} tables, "
                             f"{len(at.sidebar.selectbox)} drop-downs in the sidebar")
    return timings


def _report(bench: str, appointments: int, window_days: int, timings: list[float],
            **extra) -> None:
    ordered = sorted(timings)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(json.dumps({
        "bench": bench,
        "appointments": appointments,
        "window_days": window_days,
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(p95, 1),
        "cpu_ms_p50": round(statistics.median(_cpu_ms), 1) if _cpu_ms else None,
        "target_p50_ms": TARGETS_MS.get(bench),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        **extra,
    }), flush=True)


def measure_floor(directory: Path, reruns: int) -> None:
    from streamlit.testing.v1 import AppTest

    script = directory / "floor_page.py"
    script.write_text(FLOOR_SCRIPT)
    at = AppTest.from_file(str(script), default_timeout=60)
    at.run()
    _report("floor", 0, 0, _timed_runs(at, reruns))


def measure_dashboard(path: Path, appointments: int, window_days: int, reruns: int,
                      *, uncached: bool, history: bool) -> None:
    os.environ["PORTAL_DATABASE_URL"] = f"sqlite:///{path}"
    os.environ["PORTAL_DATA_DIR"] = str(path.parent / "data")
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.pages.helpers import open_session, rerun_app_script_every_run

    rerun_app_script_every_run()
    today = dt.datetime.now(zoneinfo.ZoneInfo(TIMEZONE)).date()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    open_session(at, USERNAME)  # a live server-side session, as a sign-in makes
    at.query_params["start"] = (today - dt.timedelta(days=window_days - 1)).isoformat()
    at.query_params["end"] = today.isoformat()
    at.run()  # the warm-up: migrations checked, engine and caches filled
    if at.exception:
        raise SystemExit(f"the page raised: {at.exception}")
    shown = [metric.value for metric in at.metric]
    if not shown:
        raise SystemExit("the Dashboard showed no summary: is the user signed in?")
    print(f"# {appointments} appointments, {window_days} days: metrics {shown}",
          file=sys.stderr, flush=True)
    clear = (lambda _: st.cache_data.clear()) if uncached else None
    timings = _timed_runs(at, reruns, before_each=clear,
                          check=lambda at: [m.value for m in at.metric] == shown
                          and len(at.dataframe) >= 1)  # the list (Birthdays ahead may follow)
    bench = "dashboard" + ("_history" if history else "") + ("_uncached" if uncached else "")
    _report(bench, appointments, window_days, timings)


@dataclass(frozen=True)
class NewWindow:
    kind: str  # dates, location or providers
    start: dt.date
    end: dt.date
    location_id: int | None
    provider_ids: tuple[int, ...] | None


def _new_windows(path: Path, window_days: int, reruns: int) -> list[NewWindow]:
    """reruns + 1 windows (the first warms up) of window_days, no two alike."""
    from sqlalchemy import select

    from models import Location, Provider
    from services import db

    practice_id = json.loads(path.with_suffix(".json").read_text())["practice_id"]
    with db.session_scope(read_only=True, engine=db.get_engine(f"sqlite:///{path}")) as session:
        locations = list(session.execute(select(Location.id).where(
            Location.practice_id == practice_id).order_by(Location.id)).scalars())
        providers = list(session.execute(select(Provider.id).where(
            Provider.practice_id == practice_id).order_by(Provider.id)).scalars())
    today = dt.datetime.now(zoneinfo.ZoneInfo(TIMEZONE)).date()
    windows = []
    for index in range(reruns + 1):
        end = today + dt.timedelta(days=29 - index)  # seed-demo: 60 days back to 30 ahead
        start = end - dt.timedelta(days=window_days - 1)
        kind = ("dates", "location", "providers")[index % 3]
        windows.append(NewWindow(
            kind, start, end,
            locations[index % len(locations)] if kind == "location" else None,
            tuple(sorted({providers[index % len(providers)],
                          providers[(index + 1) % len(providers)]}))
            if kind == "providers" else None))
    return windows


def _link(at, window: NewWindow) -> None:
    for name in ("start", "end", "location", "providers"):
        at.query_params.pop(name, None)
    at.query_params["start"] = window.start.isoformat()
    at.query_params["end"] = window.end.isoformat()
    if window.location_id is not None:
        at.query_params["location"] = str(window.location_id)
    if window.provider_ids is not None:
        at.query_params["providers"] = ",".join(str(p) for p in window.provider_ids)


def _expected(path: Path, window: NewWindow) -> list[str]:
    from services import db
    from services.schedule import ScheduleCriteria, summarize_schedule

    practice_id = json.loads(path.with_suffix(".json").read_text())["practice_id"]
    with db.session_scope(read_only=True, engine=db.get_engine(f"sqlite:///{path}")) as session:
        summary = summarize_schedule(session, practice_id=practice_id, criteria=ScheduleCriteria(
            start=window.start, end=window.end, location_id=window.location_id,
            provider_ids=window.provider_ids))
    return [f"{summary.appointments:,}", f"{summary.patients:,}"]


def measure_new_window(path: Path, appointments: int, window_days: int, reruns: int) -> None:
    os.environ["PORTAL_DATABASE_URL"] = f"sqlite:///{path}"
    os.environ["PORTAL_DATA_DIR"] = str(path.parent / "data")
    from streamlit.testing.v1 import AppTest

    from tests.pages.helpers import open_session, rerun_app_script_every_run

    rerun_app_script_every_run()
    windows = _new_windows(path, window_days, reruns)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    open_session(at, USERNAME)  # a live server-side session, as a sign-in makes
    _link(at, windows[0])
    at.run()  # the warm-up: migrations checked, engine and choices cached
    if at.exception or not at.metric:
        raise SystemExit(f"the Dashboard did not show its summary: {at.exception}")
    shown: list[list[str]] = []
    timings = _timed_runs(
        at, reruns, before_each=lambda index: _link(at, windows[index + 1]),
        check=lambda at: bool(shown.append([m.value for m in at.metric][:2]) or True)
        and len(at.metric) == 6 and (len(at.dataframe) >= 1) == (shown[-1][0] != "0"))
    mismatches = [(window, got) for window, got in zip(windows[1:], shown, strict=True)
                  if got != _expected(path, window)]
    if mismatches:
        raise SystemExit(f"shown figures differ from the service's: {mismatches[:3]}")
    by_kind = {kind: round(statistics.median(
        t for t, w in zip(timings, windows[1:], strict=True) if w.kind == kind), 1)
        for kind in ("dates", "location", "providers")}
    _report("dashboard_new_window", appointments, window_days, timings,
            p50_ms_by_change=by_kind, figures_checked=len(shown))


def _summary(lines: list[dict]) -> None:
    """Every figure beside its 10,000-appointment figure and its target."""
    rows = []
    for line in lines:
        if line["bench"] not in TARGETS_MS or line["appointments"] == 10_000:
            continue
        small = next((other for other in lines if other["bench"] == line["bench"]
                      and other["window_days"] == line["window_days"]
                      and other["appointments"] == 10_000), None)
        rows.append({
            "bench": line["bench"], "window_days": line["window_days"],
            "appointments": line["appointments"], "p50_ms": line["p50_ms"],
            "cpu_ms_p50": line.get("cpu_ms_p50"),
            "p50_ms_at_10000": small and small["p50_ms"],
            "target_p50_ms": TARGETS_MS[line["bench"]],
            "met": line["p50_ms"] <= TARGETS_MS[line["bench"]],
            "load": line.get("load"),
        })
    print(json.dumps({"bench": "summary", "rows": rows}), flush=True)


_lines: list[dict] = []


def _child(args: list[str]) -> None:
    result = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, text=True,
                            capture_output=True, check=False)
    sys.stderr.write(result.stderr)
    if result.returncode:
        raise SystemExit(f"measurement {args} failed with exit {result.returncode}")
    sys.stdout.write(result.stdout)
    sys.stdout.flush()
    _lines.extend(json.loads(line) for line in result.stdout.splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 30])
    parser.add_argument("--reruns", type=int, default=20)
    parser.add_argument("--dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "practice-portal-bench")
    parser.add_argument("--rebuild", action="store_true", help="seed the databases again")
    parser.add_argument("--no-uncached", action="store_true",
                        help="skip the runs with the cache cleared before each rerun")
    parser.add_argument("--history", action="store_true",
                        help="also measure databases whose visits spread over years (10,000 "
                             "per 91 days), at the largest size")
    parser.add_argument("--measure", nargs=4, metavar=("KIND", "SIZE", "DAYS", "CACHED"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    # The measuring processes' data folder (keys, the PIN pepper the seed hashes with), set
    # before any service reads its settings, so that the seed and the measurements share it.
    os.environ["PORTAL_DATA_DIR"] = str(args.dir / "data")

    if args.measure:
        kind, size, days, cached = args.measure
        if kind == "floor":
            measure_floor(args.dir, args.reruns)
        elif kind == "new":
            measure_new_window(database_path(args.dir, int(size)), int(size), int(days),
                               args.reruns)
        else:
            history = kind == "history"
            measure_dashboard(database_path(args.dir, int(size), history=history), int(size),
                              int(days), args.reruns, uncached=cached == "uncached",
                              history=history)
        return 0

    targets = [("dashboard", size) for size in args.sizes]
    if args.history:
        targets.append(("history", max(args.sizes)))
    for kind, size in targets:
        build_database(args.dir, size, history=kind == "history", rebuild=args.rebuild)
    common = ["--dir", str(args.dir), "--reruns", str(args.reruns)]
    _child(["--measure", "floor", "0", "0", "cached", *common])
    for kind, size in targets:
        for days in args.windows:
            _child(["--measure", kind, str(size), str(days), "cached", *common])
            if kind == "dashboard":
                _child(["--measure", "new", str(size), str(days), "uncached", *common])
            if not args.no_uncached:
                _child(["--measure", kind, str(size), str(days), "uncached", *common])
    _summary(_lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
