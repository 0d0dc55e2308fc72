"""The Dashboard's list: the seven columns the front desk reads (Time, Patient, Register, Portal
status, Age, Guardian contact, Provider) plus a compact Access due, sized to fit a 1366-px
screen; a "More columns" toggle adds the rest. Selecting a row (its box, or Shift+Space on the
row with the keyboard) shows the row's detail below the list with a Register link that opens
Register Patient in the same tab, carrying the appointment and the practice."""

from __future__ import annotations

import pyarrow as pa
import streamlit as st

from services.dates import date_text, time_text
from services.schedule import SchedulePage
from services.status import STATUS_COLORS, PortalStatus
from services.validation import format_phone
from ui.text import plain

REGISTER_PAGE = "pages/register.py"  # url_path "register" in app.py
RETURN_KEY = "_dashboard_return_query"  # the Dashboard's query string, for Back to Dashboard
MORE_KEY = "dashboard_more_columns"
BADGES = [status.value for status in PortalStatus]
DELIVERY_FAILED = "Delivery failed"  # shown beside the badge; not a portal status
DELIVERY_FAILED_COLOR = "#b71c1c"
REGISTER_TEXT = "Register"
APPOINTMENT = "Appointment"  # the row's appointment id: never shown, read by the row detail
# What the list shows by default: it fits a 1366-px screen with the sidebar open.
FRONT_DESK = ["Time", "Patient", "Register", "Portal status", "Age", "Guardian contact",
              "Provider", "Access due"]
MORE = ["Delivery", "Date of birth", "MRN", "Guardian", "Location", "Visit type", "Visit status",
        "Access due by"]


def register_query(appointment_id: int, practice_id: int) -> dict[str, str]:
    """The query string Register Patient reads its appointment and practice from."""
    return {"appointment": str(appointment_id), "practice": str(practice_id)}


TEXT = pa.string()


def schedule_table(page: SchedulePage) -> pa.Table:
    """The page's rows as the table shows them, built straight into Arrow, the form
    st.dataframe sends (a pandas frame was converted again on every run that drew it)."""
    rows = page.rows
    zone = rows[0].starts_at.tzinfo if rows else None  # the practice's, on every row
    time_type = pa.timestamp("ns", tz=str(zone) if zone else None)

    def text(values) -> pa.Array:
        return pa.array(list(values), TEXT)

    return pa.table({
        "Time": pa.array([row.starts_at for row in rows], time_type),
        "Patient": text(row.patient_name for row in rows),
        "Register": text("" if row.portal_status == PortalStatus.active else REGISTER_TEXT
                         for row in rows),
        "Portal status": pa.array([[row.portal_status.value]
                                   + ([DELIVERY_FAILED] if row.delivery_failure else [])
                                   for row in rows], pa.list_(TEXT)),
        "Age": text(row.age for row in rows),
        "Guardian contact": text(" · ".join(part for part in (
            row.guardian_email, format_phone(row.guardian_cell_phone)) if part)
            for row in rows),
        "Provider": text(row.provider for row in rows),
        "Access due": text(row.access.label if row.access else "" for row in rows),
        "Delivery": text(row.delivery_failure or "" for row in rows),
        "Date of birth": pa.array([row.date_of_birth for row in rows], pa.date32()),
        "MRN": text(row.mrn for row in rows),
        "Guardian": text(f"{row.guardian_name} ({row.guardian_relationship})"
                         if row.guardian_name else "" for row in rows),
        "Location": text(row.location for row in rows),
        "Visit type": text(row.visit_type for row in rows),
        "Visit status": text(row.appointment_status.replace("_", " ").capitalize()
                             for row in rows),
        "Access due by": pa.array([row.access.due_by if row.access else None for row in rows],
                                  pa.date32()),
        APPOINTMENT: pa.array([row.appointment_id for row in rows], pa.int64()),
    })


def _column_config(*, one_day: bool) -> dict:
    # Widths in pixels: the default columns and the selection boxes add up to 866 px (876 px
    # over several days); a 1366-px window leaves 904 px beside the sidebar, less the grid's
    # vertical scrollbar (tests/e2e/test_dashboard_register.py).
    # Longer text ends in "…" and shows whole in the row detail.
    return {
        "Time": st.column_config.DatetimeColumn(
            "Time", format="h:mm a" if one_day else "MM/DD h:mm a",
            width=72 if one_day else 112, pinned=True),
        "Patient": st.column_config.TextColumn("Patient", width=140, pinned=True),
        "Register": st.column_config.TextColumn(
            "Register", width=74,
            help="Select the row (its box at the left, or Shift+Space: Space or Enter alone "
                 "does not select it) and use Register below the list: it opens in this tab."),
        "Portal status": st.column_config.MultiselectColumn(
            "Portal status", options=[*BADGES, DELIVERY_FAILED], width=130,
            color=[*(STATUS_COLORS[b] for b in BADGES), DELIVERY_FAILED_COLOR],
            help="See the legend below the list."),
        "Age": st.column_config.TextColumn("Age", width=50),
        "Guardian contact": st.column_config.TextColumn(
            "Guardian contact", width=170 if one_day else 150),
        "Provider": st.column_config.TextColumn("Provider", width=110 if one_day else 100),
        "Access due": st.column_config.TextColumn(
            "Access due", width=88,
            help="Completed or arrived visits: when portal access is due under the "
                 "4-business-day measure. The date is in the row detail and More columns."),
        "Delivery": st.column_config.TextColumn(
            "Delivery", help="Why the invitation did not reach the parent: correct the "
                             "address on Register Patient and resend."),
        "Date of birth": st.column_config.DateColumn("Date of birth", format="MM/DD/YYYY"),
        "Access due by": st.column_config.DateColumn(
            "Access due by", format="ddd MM/DD",
            help="Completed or arrived visits: the last day for portal access under the "
                 "4-business-day measure (the Enrollment page's calendar and holidays)."),
    }


def show_schedule(table: pa.Table, *, one_day: bool, key: str) -> int | None:
    """Draw the list; return the selected row's position in `table` (None: no row)."""
    more = st.toggle("More columns", key=MORE_KEY,
                     help="Add date of birth, MRN, guardian, location, visit type and status, "
                          "the access date and why a delivery failed.")
    order = [name for name in FRONT_DESK + (MORE if more else [])
             if name in table.column_names]
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        height=min(36 + 35 * len(table), 740),
        column_order=order,
        column_config=_column_config(one_day=one_day),
        on_select="rerun",
        selection_mode="single-row",
        key=key,
    )
    chosen = list(event.selection.rows) if event is not None else []
    if chosen and 0 <= chosen[0] < len(table):
        return int(chosen[0])
    return None


def _detail_lines(row: dict) -> list[str]:
    statuses = list(row["Portal status"])
    when = f"{date_text(row['Time'], weekday=True, year=False)} {time_text(row['Time'])}"
    lines = [f"**{plain(row['Patient'])}** ({plain(row['MRN'])}) · born "
             f"{date_text(row['Date of birth'])} (age {plain(str(row['Age']))})",
             f"{when} · {plain(row['Provider'])} · {plain(row['Location'])} · "
             f"{plain(row['Visit type'])} · {row['Visit status']}",
             "Portal status: " + ", ".join(plain(status) for status in statuses)]
    if row["Delivery"]:
        lines.append(f"Delivery: {plain(row['Delivery'])}")
    guardian = " · ".join(part for part in (row["Guardian"], row["Guardian contact"]) if part)
    lines.append(f"Guardian: {plain(guardian) if guardian else 'none on file'}")
    if row["Access due"]:
        due_by = row["Access due by"]
        due = f" (due by {date_text(due_by, weekday=True)})" if due_by is not None else ""
        lines.append(f"Portal access: {plain(row['Access due'])}{due}")
    return lines


def row_detail(table: pa.Table, position: int | None, *, practice_id: int,
               can_register: bool) -> None:
    """The selected row in full, with Register (same tab) when the patient needs it."""
    if position is None:
        if can_register and REGISTER_TEXT in table.column("Register").to_pylist():
            st.caption("Select a row (its box at the left, or Shift+Space on the row) to see "
                       "its detail and Register. With the keyboard: Tab into the list, arrow "
                       "keys to the patient, Shift+Space, then Tab to Register and Enter.")
        return
    row = table.slice(position, 1).to_pylist()[0]
    needs_register = row.get("Register", "") == REGISTER_TEXT
    with st.container(border=True, key="dashboard_row_detail"):
        st.markdown("  \n".join(_detail_lines(row)))
        if can_register and needs_register:
            st.page_link(REGISTER_PAGE, label=f"Register {row['Patient']}",
                         icon=":material/person_add:",
                         query_params=register_query(int(row[APPOINTMENT]), practice_id))
        elif not needs_register and PortalStatus.active.value in list(row["Portal status"]):
            st.caption("Active: this family already has portal access.")


def remember_return_query() -> None:
    """Keep the Dashboard's query string (its filters) for Register's Back to Dashboard."""
    st.session_state[RETURN_KEY] = {name: st.query_params.get_all(name)
                                    for name in st.query_params}


def return_query() -> dict[str, list[str]]:
    return dict(st.session_state.get(RETURN_KEY) or {})
