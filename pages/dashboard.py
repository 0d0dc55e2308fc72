"""Dashboard: the day's schedule with each patient's portal status and Register on every row
whose patient is not Active."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pandas as pd
import pyarrow as pa
import streamlit as st

from services import permissions
from services.db import session_scope
from services.errors import PortalError
from services.schedule import (
    PAGE_SIZE,
    ScheduleCriteria,
    SchedulePage,
    ScheduleSummary,
    list_schedule,
    summarize_schedule,
)
from services.status import STATUS_COLORS, STATUS_MEANINGS, PortalStatus
from services.validation import format_phone
from ui.access_due import access_due_filter
from ui.arrivals import arrivals_panel
from ui.birthdays import show_birthdays
from ui.bulk_register import register_all
from ui.context import require_page, show_error
from ui.filters import practice_today, schedule_filters

CACHE_TTL_SECONDS = 30
# The Register Patient page (url_path "register" in app.py) reads the appointment from here.
# The practice rides along: the link opens a new tab, whose Practice selector starts afresh.
REGISTER_URL = "register?appointment={appointment_id}&practice={practice_id}"
BADGES = [status.value for status in PortalStatus]
DELIVERY_FAILED = "Delivery failed"  # shown beside the badge; not a portal status
DELIVERY_FAILED_COLOR = "#b71c1c"


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def load_summary(practice_id: int, criteria: ScheduleCriteria) -> ScheduleSummary:
    with session_scope(read_only=True) as session:
        return summarize_schedule(session, practice_id=practice_id, criteria=criteria)


def show_summary(summary: ScheduleSummary) -> None:
    share = summary.share_active
    cells = st.columns(6)
    cells[0].metric("Appointments", f"{summary.appointments:,}")
    cells[1].metric("Unique patients", f"{summary.patients:,}")
    cells[2].metric("Not registered", f"{summary.patients_with(PortalStatus.not_registered):,}",
                    help="Patients with no portal invitation yet.")
    cells[3].metric("Invited", f"{summary.patients_with(PortalStatus.invited):,}",
                    help=f"PIN issued and not used yet; "
                         f"{summary.patients_with(PortalStatus.pin_expired):,} more have a PIN "
                         "that expired unused.")
    cells[4].metric("Active", f"{summary.patients_with(PortalStatus.active):,}",
                    help="Patients whose parent activated a portal account.")
    cells[5].metric("Share active", "–" if share is None else f"{share:.0%}",
                    help="Active patients out of the unique patients in this list.")


def schedule_frame(page: SchedulePage, *, practice_id: int) -> pd.DataFrame:
    """The page's rows as the table shows them."""
    rows = page.rows
    return pd.DataFrame({
        "Time": pd.to_datetime([row.starts_at for row in rows]),
        "Patient": [row.patient_name for row in rows],
        "Register": ["" if row.portal_status == PortalStatus.active
                     else REGISTER_URL.format(appointment_id=row.appointment_id,
                                              practice_id=practice_id)
                     for row in rows],
        "Portal status": [[row.portal_status.value] + ([DELIVERY_FAILED] if row.delivery_failure
                                                        else []) for row in rows],
        "Delivery": [row.delivery_failure or "" for row in rows],
        "Age": [row.age for row in rows],
        "Date of birth": [row.date_of_birth for row in rows],
        "MRN": [row.mrn for row in rows],
        "Guardian": [f"{row.guardian_name} ({row.guardian_relationship})"
                     if row.guardian_name else "" for row in rows],
        "Guardian contact": [" · ".join(part for part in (
            row.guardian_email, format_phone(row.guardian_cell_phone)) if part)
            for row in rows],
        "Provider": [row.provider for row in rows],
        "Location": [row.location for row in rows],
        "Visit type": [row.visit_type for row in rows],
        "Visit status": [row.appointment_status.replace("_", " ").capitalize() for row in rows],
        "Access due by": [row.access.due_by if row.access else None for row in rows],
        "Access": [row.access.label if row.access else "" for row in rows],
    })


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def load_page(practice_id: int, criteria: ScheduleCriteria, page: int) -> pa.Table:
    # The table is cached ready to show: formatting 100 phone numbers costs more than the query,
    # and as Arrow, what st.dataframe sends, a cached rerun neither converts nor copies it
    # (about 1 ms a run for 100 rows, bench/concurrency.py).
    with session_scope(read_only=True) as session:
        schedule_page = list_schedule(session, practice_id=practice_id, criteria=criteria,
                                      page=page, page_size=PAGE_SIZE)
    return pa.Table.from_pandas(schedule_frame(schedule_page, practice_id=practice_id),
                                preserve_index=False)


def show_schedule(frame: pa.Table, *, one_day: bool) -> None:
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        height=min(36 + 35 * len(frame), 740),
        column_config={
            "Time": st.column_config.DatetimeColumn(
                "Time", format="h:mm a" if one_day else "ddd MM/DD h:mm a",
                width="small" if one_day else None, pinned=True),
            "Patient": st.column_config.TextColumn("Patient", pinned=True),
            "Register": st.column_config.LinkColumn(
                "Register", display_text="Register", width="small",
                help="Open Register Patient for this appointment."),
            "Portal status": st.column_config.MultiselectColumn(
                "Portal status", options=[*BADGES, DELIVERY_FAILED],
                color=[*(STATUS_COLORS[b] for b in BADGES), DELIVERY_FAILED_COLOR],
                help="See the legend below the list."),
            "Delivery": st.column_config.TextColumn(
                "Delivery", help="Why the invitation did not reach the parent: correct the "
                                 "address on Register Patient and resend."),
            "Date of birth": st.column_config.DateColumn("Date of birth", format="MM/DD/YYYY"),
            "Access due by": st.column_config.DateColumn(
                "Access due by", format="ddd MM/DD",
                help="Completed or arrived visits: the last day for portal access under the "
                     "4-business-day measure (the Enrollment page's calendar and holidays)."),
        },
    )


def show_legend() -> None:
    badges = " ".join(
        f'<span title="{STATUS_MEANINGS[status]}" style="background:{STATUS_COLORS[status]};'
        'color:#fff;border-radius:0.6rem;padding:0.1rem 0.55rem;margin-right:0.3rem;'
        f'font-size:0.8rem;white-space:nowrap">{status}</span>'
        for status in BADGES
    ) + (f'<span title="The invitation did not reach the parent" style="background:'
         f'{DELIVERY_FAILED_COLOR};color:#fff;border-radius:0.6rem;padding:0.1rem 0.55rem;'
         f'font-size:0.8rem;white-space:nowrap">{DELIVERY_FAILED}</span>')
    with st.expander("What the portal status badges mean", expanded=False):
        st.html(f"<div style='margin-bottom:0.5rem'>{badges}</div>")
        st.markdown("\n".join(f"- **{status}**: {STATUS_MEANINGS[status]}" for status in BADGES)
                    + f"\n- **{DELIVERY_FAILED}** (beside a status): the email or text was "
                      "refused; the Delivery column says why. Correct the address on Register "
                      "Patient and resend.")


context = require_page(permissions.DASHBOARD)
st.title("Dashboard")
filters = schedule_filters(context)
if not filters.valid:
    st.warning(filters.error, icon=":material/event_busy:")
    st.stop()
criteria = replace(filters.criteria, access_due=access_due_filter())

try:
    summary = load_summary(context.practice.id, criteria)
except PortalError as error:
    show_error(error)
    st.stop()
show_summary(summary)

if summary.appointments == 0:
    st.info(
        "No appointments match these filters. Widen them: choose a longer date range, "
        "All locations, Select all providers, clear the search, or show cancelled "
        "appointments.",
        icon=":material/search_off:",
    )
    show_legend()
    st.stop()

if criteria.start <= practice_today(context.practice.timezone) <= criteria.end:
    arrivals_panel(context, location_id=criteria.location_id, register_url=REGISTER_URL,
                   on_change=lambda: (load_summary.clear(), load_page.clear()))
if permissions.can_open(context.user.role, permissions.REGISTER):
    register_all(context, criteria, on_done=lambda: (load_summary.clear(), load_page.clear()))

pages = summary.pages(PAGE_SIZE)
caption, table, pager = st.container(), st.container(), st.container()
page = 1
if pages > 1:
    # A new key for new filters, so the list starts again at page 1.
    filters_key = hashlib.sha1(repr((context.practice.id, criteria)).encode()).hexdigest()[:12]
    page = pager.pagination(pages, key=f"dashboard_page_{filters_key}")
try:
    frame = load_page(context.practice.id, criteria, page)
except PortalError as error:
    show_error(error)
    st.stop()
first = (page - 1) * PAGE_SIZE + 1
caption.caption(f"Appointments {first:,}–{first + len(frame) - 1:,} of "
                f"{summary.appointments:,}" + ("" if filters.include_cancelled
                                               else " (cancelled hidden)"))
if not permissions.can_open(context.user.role, permissions.REGISTER):
    frame = frame.drop_columns(["Register"])  # supervisors read the list; they do not register
with table:
    show_schedule(frame, one_day=filters.days == 1)
show_legend()
show_birthdays(context)
