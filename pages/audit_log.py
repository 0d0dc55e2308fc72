"""Audit Log (admins): who did what, to whose portal access, and when, in this practice.
Filter by date, user, patient and action; pages are cut in SQL; the whole selection downloads
as CSV."""

from __future__ import annotations

from ui.imports import through_app

through_app()  # first: a fresh server's first run may start here, not in app.py

import datetime as dt

import streamlit as st

from services import audit, permissions
from services.dates import practice_today
from services.db import session_scope
from ui.context import require_page
from ui.text import plain

CACHE_TTL_SECONDS = 15
ANY_USER, ANY_ACTION = "Any user", "Any action"
FILTER_KEY = "_audit_filter"  # the filter last applied (UI state)
PAGE_KEY = "audit_page"
DEFAULT_DAYS = 30


@st.cache_data(ttl=60, show_spinner=False)
def load_choices(practice_id: int) -> audit.AuditChoices:
    with session_scope(read_only=True) as session:
        return audit.list_audit_choices(session, practice_id=practice_id)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner="Reading the audit log…")
def load_page(practice_id: int, timezone: str, filters: audit.AuditFilter,
              page: int) -> audit.AuditPage:
    with session_scope(read_only=True) as session:
        return audit.list_audit_events(session, practice_id=practice_id, timezone=timezone,
                                       filters=filters, page=page)


def export(practice_id: int, timezone: str, filters: audit.AuditFilter):
    """The CSV of the whole selection, built only when the button is clicked."""
    def build() -> bytes:
        with session_scope(read_only=True) as session:
            return audit.export_audit_csv(session, practice_id=practice_id, timezone=timezone,
                                          filters=filters)
    return build


context = require_page(permissions.AUDIT_LOG)
practice = context.practice
today = practice_today(practice.timezone)
st.title("Audit Log")
st.caption(f"Every action on portal access and settings in **{plain(practice.name)}**, and its "
           f"staff's sign-ins; newest first, times in {practice.timezone}.")

choices = load_choices(practice.id)
with st.form("audit_filter"):
    cells = st.columns([1, 1, 1.2, 1.5, 1.3])
    start = cells[0].date_input("From", value=today - dt.timedelta(days=DEFAULT_DAYS),
                                format="MM/DD/YYYY")
    end = cells[1].date_input("To", value=today, format="MM/DD/YYYY")
    user = cells[2].selectbox("User", [ANY_USER, *choices.users])
    patient = cells[3].text_input("Patient", placeholder="MRN or name")
    action = cells[4].selectbox("Action", [ANY_ACTION, *choices.actions],
                                format_func=lambda code: code if code == ANY_ACTION
                                else audit.action_label(code))
    if st.form_submit_button("Apply", type="primary"):
        if start and end and start > end:
            st.error("From is after To: choose a From date on or before the To date.")
        else:
            st.session_state[FILTER_KEY] = audit.AuditFilter(
                start=start, end=end, user="" if user == ANY_USER else user,
                patient=patient.strip(), action="" if action == ANY_ACTION else action)
            st.session_state[PAGE_KEY] = 1

filters = st.session_state.get(FILTER_KEY) or audit.AuditFilter(
    start=today - dt.timedelta(days=DEFAULT_DAYS), end=today)
page_number = st.session_state.get(PAGE_KEY, 1)
result = load_page(practice.id, practice.timezone, filters, page_number)
if result.page != page_number:
    st.session_state[PAGE_KEY] = result.page

if result.total == 0:
    st.info("No audit events match these filters.")
else:
    st.dataframe(result.events, hide_index=True, width="stretch")
left, middle, right = st.columns([1, 2, 2])
left.number_input("Page", min_value=1, max_value=result.pages, step=1, key=PAGE_KEY)
middle.caption(f"{result.total:,} events · page {result.page} of {result.pages}")
right.download_button(
    "Download CSV", data=export(practice.id, practice.timezone, filters), mime="text/csv",
    file_name=f"audit-log-{filters.start or 'start'}-to-{filters.end or today}.csv",
    on_click="ignore", disabled=result.total == 0)
