"""Running app.py in AppTest as a signed-in user."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def rerun_app_script_every_run(setattr_=setattr) -> None:
    """Make AppTest rerun app.py on every run, as the server does.

    With a `pages/` folder beside app.py, AppTest re-detects Streamlit's legacy pages-folder
    mode before each run and then runs the page script alone after the first run (no login
    gate, no Practice selector). The server leaves that mode once app.py calls st.navigation;
    so does AppTest with this. `setattr_` may be pytest's monkeypatch.setattr.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    setattr_(PagesManager, "__init__", init)


def app_test() -> AppTest:
    """app.py in AppTest, not yet run."""
    return AppTest.from_file(APP, default_timeout=30)


def signed_in(username: str, *, practice_id: int | None = None, page: str | None = None) -> AppTest:
    """app.py, run once as `username` (as a valid cookie would sign them in)."""
    at = app_test()
    at.session_state["authentication_status"] = True
    at.session_state["username"] = username
    at.session_state["name"] = username
    if practice_id is not None:
        at.session_state["practice_id"] = practice_id
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def texts(at: AppTest) -> str:
    """Every markdown, title, caption, info and error text of the last run, joined."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "error",
                 "warning", "success"):
        parts.extend(str(element.value) for element in getattr(at, kind))
    return "\n".join(parts)
