"""Shared by the admin pages' AppTests: a full app.py run on every rerun, and widget lookup."""

from __future__ import annotations

import pytest


@pytest.fixture
def rerun_app_script(monkeypatch):
    """Rerun app.py on every AppTest run, as the server does.

    With a `pages/` folder beside app.py, AppTest re-detects Streamlit's legacy pages-folder
    mode before each run and then runs the page script alone after the first run (no login
    gate, no Practice selector). The server leaves that mode once app.py calls st.navigation;
    so does AppTest with this.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def widget(at, kind: str, label: str):
    """The one widget of `kind` (e.g. "text_input") whose label is `label`."""
    found = [w for w in getattr(at, kind) if w.label == label]
    assert len(found) == 1, (kind, label, [w.label for w in getattr(at, kind)])
    return found[0]
