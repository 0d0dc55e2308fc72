"""Running app.py in AppTest as a signed-in user."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


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
