"""The app's modules, imported once per process by one thread at a time.

Streamlit runs every session's script in a thread of its own. When several browsers reach a
freshly started server at once (a replica restarted behind nginx, every open tab reconnecting
to it), their first runs import SQLAlchemy, SQLModel and our modules side by side. Python's
per-module import locks do not make that safe for packages with circular imports: the threads
deadlock on each other's module locks, Python breaks the deadlock by handing one of them a
partially initialised module, and that session's run fails ("cannot import name … from
partially initialized module 'sqlalchemy.engine'"), which shows the user Streamlit's error
page. app.py calls `import_app_modules()` before its first import of our code, so the first
run imports everything under one lock and later runs find it all in sys.modules.

This module imports nothing but the standard library at its top, so importing it is safe from
any number of threads.
"""

from __future__ import annotations

import importlib
import pkgutil
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
