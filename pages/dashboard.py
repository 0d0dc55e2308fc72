"""Dashboard: the day's schedule with each patient's portal status and Register on every row
whose patient is not Active."""

from __future__ import annotations

from ui.imports import through_app

through_app()  # first: a fresh server's first run may start here, not in app.py

import hashlib
from dataclasses import replace

import streamlit as st

from services import permissions
from services.dates import practice_today
from services.errors import PortalError
from services.schedule import PAGE_SIZE, ScheduleSummary
from services.status import STATUS_COLORS, STATUS_MEANINGS, PortalStatus
from ui import dashboard_data
from ui.access_due import access_due_filter
from ui.arrivals import arrivals_panel
from ui.birthdays import show_birthdays
from ui.bulk_register import register_all
from ui.context import require_page, show_error
from ui.filters import schedule_filters
from ui.schedule_table import (
    BADGES,
    DELIVERY_FAILED,
    DELIVERY_FAILED_COLOR,
    remember_return_query,
    row_detail,
    show_schedule,
)


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
remember_return_query()

try:
    summary = dashboard_data.load_summary(context.practice.id, criteria)
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
    arrivals_panel(context, location_id=criteria.location_id,
                   on_change=dashboard_data.clear)
if permissions.can_open(context.user.role, permissions.REGISTER):
    register_all(context, criteria, on_done=dashboard_data.clear)

pages = summary.pages(PAGE_SIZE)
caption, table, pager = st.container(), st.container(), st.container()
page = 1
# A new key for new filters, so the list starts again at page 1 with no row selected.
filters_key = hashlib.sha1(repr((context.practice.id, criteria)).encode()).hexdigest()[:12]
if pages > 1:
    page = pager.pagination(pages, key=f"dashboard_page_{filters_key}")
try:
    frame = dashboard_data.load_page(context.practice.id, criteria, page)
except PortalError as error:
    show_error(error)
    st.stop()
first = (page - 1) * PAGE_SIZE + 1
caption.caption(f"Appointments {first:,}–{first + len(frame) - 1:,} of "
                f"{summary.appointments:,}" + ("" if filters.include_cancelled
                                               else " (cancelled hidden)"))
can_register = permissions.can_open(context.user.role, permissions.REGISTER)
if not can_register:
    frame = frame.drop(columns=["Register"])  # supervisors read the list; they do not register
with table:
    selected = show_schedule(frame, one_day=filters.days == 1,
                             key=f"dashboard_rows_{filters_key}_{page}")
    row_detail(frame, selected, practice_id=context.practice.id, can_register=can_register)
show_legend()
show_birthdays(context)
