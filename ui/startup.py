"""Once per server process: import what the pages import, then take those objects out of the
garbage collector's reach.

Streamlit runs a full collection after every script run (`runner.postScriptGC`); a full
collection walks every tracked object, and the imports of Streamlit, pandas, SQLAlchemy and
our modules leave about 230,000 of them that live as long as the process. `gc.freeze()` moves
them to the permanent generation: later collections (Streamlit's and Python's own) walk only
what sessions and caches made since, and memory held by sessions is still reclaimed.
"""

from __future__ import annotations

import gc

import streamlit as st

from services.db import migrate_once
from services.settings import check_upload_limit, cookie_key, get_settings, outbox_key, pin_pepper
from ui.imports import import_app_modules


def freeze_imports() -> int:
    """Import the page modules, collect once, freeze what is left; returns how many objects
    the collector no longer walks."""
    import_app_modules()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@st.cache_resource(show_spinner=False)
def start_up(database_url: str) -> None:
    """Once per process and database: migrate to head, check the upload limit and the keys,
    freeze the imports. (Decorated here, once: app.py's own functions are decorated again on
    every run.)"""
    migrate_once(database_url)
    settings = get_settings()
    check_upload_limit(st.get_option("server.maxUploadSize"), settings)
    cookie_key(settings)
    outbox_key(settings)
    pin_pepper(settings)
    if settings.gc_freeze:
        freeze_imports()
