"""Every run through app.py, and the app's modules imported once per process by one thread.

Streamlit runs every session's script in a thread of its own. When several browsers reach a
freshly started server at once (a replica restarted behind nginx, every open tab reconnecting
to it), their first runs import SQLAlchemy, SQLModel and our modules side by side. Python's
per-module import locks do not make that safe for packages with circular imports: the threads
deadlock on each other's module locks, Python breaks the deadlock by handing one of them a
partially initialised module, and that session's run fails ("cannot import name … from
partially initialized module 'sqlalchemy.engine'"), which shows the user Streamlit's error
page. app.py calls `through_app()` (below) before its first import of our code, so the first
run imports everything under one lock and later runs find it all in sys.modules.

Streamlit also runs an app with a `pages/` folder in its old multipage mode until some run
calls st.navigation: on a fresh process, a tab's first run (an open tab reconnecting after a
restart, or a link such as /audit_log) starts inside that mode, either in `pages/<name>.py`
itself, past app.py's sign-in from the cookie, or in app.py as the mode's main page. app.py and
every page call `through_app()` first: a run that started in that mode switches it off and
starts again, through app.py, on the page the browser asked for. (The mode resolves pages by
file name, and the browser may rerun whatever page that first run named: so every page's
address is its file's name, ui/navigation.py.)

This module imports nothing but the standard library at its top, so importing it is safe from
any number of threads.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import threading

_lock = threading.Lock()
_done = False


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


def _in_pages_folder_mode() -> bool:
    """Whether this run was started by Streamlit's pages-folder mode (its `_mpa_v1` is on the
    stack). Another session may switch the mode off during this run, so the flag won't do."""
    from streamlit.runtime.scriptrunner import script_runner

    mode = script_runner._mpa_v1.__code__
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is mode:
            return True
        frame = frame.f_back
    return False


def through_app() -> None:
    """First thing in app.py and in every page: import the app's modules (under the lock), and
    start a run that began in Streamlit's pages-folder mode again, through app.py, on the page
    the browser asked for. A no-op for every other run, and for a test of one page file."""
    import_app_modules()
    if not _in_pages_folder_mode():
        return
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    from streamlit.util import calc_hash

    PagesManager.uses_pages_directory = False  # what st.navigation does
    pages = get_script_run_ctx().pages_manager
    # The page the browser asked for, by its address when it gave no page hash (st.Page hashes
    # its url_path); st.rerun() reruns the current page.
    asked = pages.intended_page_script_hash or (
        calc_hash(pages.intended_page_name) if pages.intended_page_name else None)
    if asked:
        pages.set_current_page_script_hash(asked)
    st.rerun()
