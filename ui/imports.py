"""Every run through app.py, and the app's modules imported once per process by one thread.

Streamlit runs every session's script in a thread of its own. When several browsers reach a
freshly started server at once (a replica restarted behind nginx, every open tab reconnecting
to it), their first runs import SQLAlchemy, SQLModel and our modules side by side. Python's
per-module import locks do not make that safe for packages with circular imports: the threads
deadlock on each other's module locks, Python breaks the deadlock by handing one of them a
partially initialised module, and that session's run fails ("cannot import name … from
partially initialized module 'sqlalchemy.engine'"), which shows the user Streamlit's error
page. app.py calls `import_app_modules()` before its first import of our code, so the first
run imports everything under one lock and later runs find it all in sys.modules.

Streamlit also treats an app with a `pages/` folder as an old-style multipage app until some
run calls st.navigation: on a fresh process, a tab's first run (an open tab reconnecting after
a restart, or a link such as /dashboard) starts in `pages/<name>.py` itself, past app.py's
sign-in from the cookie, its start-up and these imports. app.py runs the page it navigated to
with `run_from_app()`, and every page calls `through_app()` first: a run that did not come
through app.py switches that mode off and starts again, through app.py, on the same page.

This module imports nothing but the standard library at its top, so importing it is safe from
any number of threads.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from contextvars import ContextVar
from pathlib import Path

APP_SCRIPT = "app.py"

_lock = threading.Lock()
_done = False
_from_app: ContextVar[bool] = ContextVar("portal_page_from_app", default=False)


def import_page_modules() -> None:
    """Import every module of services/ and ui/ (what app.py and the pages import)."""
    for name in ("services", "ui"):
        package = importlib.import_module(name)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{name}.{module.name}")


def import_app_modules() -> None:
    """Import the app's modules the first time any thread asks; others wait, then return."""
    global _done
    if _done:
        return
    with _lock:
        if not _done:
            import_page_modules()
            _done = True


def run_from_app(page) -> None:
    """Run the page app.py's st.navigation chose (its pages' `through_app()` let it run)."""
    token = _from_app.set(True)
    try:
        page.run()
    finally:
        _from_app.reset(token)


def through_app() -> None:
    """At the top of every page. A run that started in the page's own file instead of app.py
    (see above) starts again through app.py, on the same page; the app's modules are imported
    first, under the lock. A page run on its own as the main script (a test of one page) is
    left alone."""
    import_app_modules()
    if _from_app.get():
        return
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is None or Path(context.main_script_path).name != APP_SCRIPT:
        return
    PagesManager.uses_pages_directory = False  # what st.navigation does
    st.rerun()
