"""The app's pages for st.navigation, built once per process.

Each page's address is its file's name (/audit_log is pages/audit_log.py): on a fresh server
process Streamlit's pages-folder mode resolves a reconnecting tab's page by file name before
app.py runs (ui/imports.py), and the two must agree or the tab lands on the Dashboard.

st.Page resolves and checks its script's path on the disk each time it is built; app.py
runs for every click, so it takes shallow copies of pages built once (st.navigation marks
the page it returns, so every run gets its own copies).
"""

from __future__ import annotations

import copy

import streamlit as st

from services import permissions

ACTIVATE_PATH = "activate"


@st.cache_resource(show_spinner=False)
def _built_pages() -> tuple[st.Page, dict[str, st.Page]]:
    activate = st.Page("pages/activate.py", title="Activate Portal Account",
                       url_path=ACTIVATE_PATH, icon=":material/key:", visibility="hidden")
    pages = {
        permissions.DASHBOARD: st.Page("pages/dashboard.py", title="Dashboard",
                                       icon=":material/calendar_month:", url_path="dashboard",
                                       default=True),
        permissions.REGISTER: st.Page("pages/register.py", title="Register Patient",
                                      icon=":material/person_add:", url_path="register"),
        permissions.ENROLLMENT: st.Page("pages/enrollment.py", title="Enrollment",
                                        icon=":material/monitoring:", url_path="enrollment"),
        permissions.IMPORT: st.Page("pages/import_schedule.py", title="Import Schedule",
                                    icon=":material/upload_file:", url_path="import_schedule"),
        permissions.OUTBOX: st.Page("pages/outbox.py", title="Outbox",
                                    icon=":material/outbox:", url_path="outbox"),
        permissions.STAFF_USERS: st.Page("pages/staff_users.py", title="Staff Users",
                                         icon=":material/group:", url_path="staff_users"),
        permissions.PRACTICE_SETTINGS: st.Page("pages/practice_settings.py",
                                               title="Practice Settings",
                                               icon=":material/domain:",
                                               url_path="practice_settings"),
        permissions.AUDIT_LOG: st.Page("pages/audit_log.py", title="Audit Log",
                                       icon=":material/history:", url_path="audit_log"),
        permissions.TEXT_OPT_OUTS: st.Page("pages/text_opt_outs.py", title="Text Opt-Outs",
                                           icon=":material/sms_failed:",
                                           url_path="text_opt_outs"),
    }
    return activate, pages


def activate_page() -> st.Page:
    """The parents' Activate page (hidden from the menu), this run's own copy."""
    return copy.copy(_built_pages()[0])


def staff_pages(role: str) -> list[st.Page]:
    """The pages `role` may open, in menu order, this run's own copies."""
    pages = _built_pages()[1]
    return [copy.copy(pages[key]) for key in permissions.ROLE_PAGES[role]]
