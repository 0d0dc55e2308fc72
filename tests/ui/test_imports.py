"""A fresh server's first runs, side by side: the app's imports must not race (ui/imports.py).

Each check starts a new interpreter (nothing imported yet) where four threads, released
together, do what four sessions' first runs of app.py do: call `import_app_modules()`, then
import what app.py and the pages import. Without the lock, plain concurrent imports of these
modules failed in five of eight fresh interpreters on this machine ("cannot import name …
from partially initialized module 'sqlalchemy.engine'", or a deadlock on 'sqlalchemy.dialects').
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import importlib
    import threading

    from ui.imports import import_app_modules

    FIRST_IMPORTS = [  # what app.py and the first pages import first
        ["ui.navigation", "services.auth", "ui.auth"],
        ["services.activation", "services.activation_form"],
        ["services.permissions", "services.schedule", "ui.dashboard_data"],
        ["services.db", "ui.context", "services.registration"],
    ]
    barrier = threading.Barrier(len(FIRST_IMPORTS))
    errors = []

    def first_run(names):
        barrier.wait()
        try:
            import_app_modules()
            for name in names:
                importlib.import_module(name)
        except BaseException as error:  # noqa: BLE001 - report whatever a run would have shown
            errors.append(repr(error))

    threads = [threading.Thread(target=first_run, args=(names,)) for names in FIRST_IMPORTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("\\n".join(errors) or "ok")
""")


@pytest.mark.parametrize("attempt", range(3))
def test_first_runs_side_by_side_import_cleanly(attempt):
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok", done.stdout[-3000:]
