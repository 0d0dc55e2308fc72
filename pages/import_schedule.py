"""Import Schedule (admins): upload the schedule exported from the practice-management system
(CSV, or a FHIR R4 Bundle in JSON), map its columns with a preview, import with a progress bar,
then read and download the report. Importing the same file again changes nothing."""

from __future__ import annotations

from ui.imports import through_app

through_app()  # first: a fresh server's first run may start here, not in app.py

import datetime as dt

import pandas as pd
import streamlit as st

from services import permissions, schedule_import
from services.db import session_scope
from services.errors import PortalError
from services.settings import get_settings
from ui.context import require_page, show_error

REPORT_KEY = "_import_report"  # (upload id, report) of the last import, for display only
NOT_IN_FILE = "— not in the file —"


@st.cache_data(ttl=300, show_spinner="Reading the file…", max_entries=4)
def prepare(practice_id: int, file_id: str, filename: str, _data: bytes
            ) -> schedule_import.ImportSetup:
    # Keyed by the upload's id: hashing a 50 MB file on every rerun would cost more.
    with session_scope(read_only=True) as session:
        return schedule_import.prepare_import(session, practice_id=practice_id, data=_data,
                                              filename=filename)


@st.cache_data(ttl=300, show_spinner=False, max_entries=16)
def preview(file_id: str, mapping: tuple, timezone: str, _data: bytes) -> pd.DataFrame:
    return schedule_import.preview_csv(_data, mapping=dict(mapping), timezone=timezone,
                                       region=get_settings().phone_region)


def mapping_editor(setup: schedule_import.ImportSetup, file_id: str) -> dict[str, str | None]:
    """One drop-down per field, started from the saved or guessed mapping."""
    st.header("Columns")
    if setup.saved_mapping:
        st.caption("Started from the mapping saved at this practice's last import.")
    else:
        st.caption("Guessed from the column names. Fields marked * are required.")
    options = [NOT_IN_FILE, *setup.headers]
    mapping: dict[str, str | None] = {}
    cells = st.columns(3)
    for position, field in enumerate(schedule_import.FIELDS):
        current = setup.mapping.get(field.key)
        choice = cells[position % 3].selectbox(
            f"{field.label}{' *' if field.required else ''}", options,
            index=options.index(current) if current in options else 0,
            key=f"map_{field.key}_{file_id}")
        mapping[field.key] = None if choice == NOT_IN_FILE else choice
    return mapping


def show_report(report: schedule_import.ImportReport) -> None:
    st.header("Report")
    (st.success if report.committed and not report.rejected else
     st.warning if report.committed else st.error)(report.summary)
    cells = st.columns(4)
    cells[0].metric("Created", f"{report.created:,}")
    cells[1].metric("Updated", f"{report.updated:,}")
    cells[2].metric("Unchanged", f"{report.unchanged:,}")
    cells[3].metric("Rejected", f"{len(report.rejected):,}")
    if report.committed:
        st.caption(
            f"Patients: {report.patients_created:,} new, {report.patients_updated:,} changed. "
            f"Guardians: {report.guardians_created:,} new, {report.guardians_updated:,} "
            f"changed." + (f" {report.ignored:,} bundle entries of other resource types were "
                           "ignored." if report.ignored else ""))
    if report.rejected:
        st.dataframe(
            pd.DataFrame([[r.row, r.source_id, r.reason] for r in report.rejected],
                         columns=[report.row_label, "Appointment ID", "Reason"]),
            hide_index=True, width="stretch")
    st.download_button(
        "Download report (CSV)", data=schedule_import.report_csv(report), mime="text/csv",
        file_name=f"import-report-{dt.date.today():%Y-%m-%d}.csv", on_click="ignore")


def run_import(file_id: str, data: bytes, filename: str, mapping: dict | None,
               create_missing: bool, keep_valid: bool) -> None:
    bar = st.progress(0.0, text="Reading the file")
    shown = [0.0]

    def progress(fraction: float, message: str) -> None:
        if fraction - shown[0] >= 0.02 or fraction >= 1.0:
            shown[0] = fraction
            bar.progress(min(1.0, fraction), text=message)

    try:
        with session_scope() as session:
            report = schedule_import.import_schedule(
                session, practice_id=context.practice.id, data=data, filename=filename,
                actor=context.user.username, mapping=mapping, create_missing=create_missing,
                keep_valid=keep_valid, progress=progress)
    except PortalError as error:
        bar.empty()
        show_error(error)
        return
    st.cache_data.clear()  # the Dashboard and the other pages read the new schedule
    st.session_state[REPORT_KEY] = (file_id, report)
    st.rerun()


context = require_page(permissions.IMPORT)
st.title("Import Schedule")
limit_mb = get_settings().max_upload_mb
st.caption(
    "Load the schedule exported from your practice-management system: a CSV file, or a FHIR "
    "R4 Bundle (JSON) of Appointment, Patient, RelatedPerson, Practitioner and Location "
    f"resources, up to {limit_mb} MB. Patients are matched by MRN and appointments by their "
    "ID, so importing the same file again changes nothing.")

upload = st.file_uploader("Schedule file", type=["csv", "txt", "json"],
                          max_upload_size=limit_mb)
last = st.session_state.get(REPORT_KEY)
if upload is None:
    if last:
        show_report(last[1])
    st.stop()
if upload.size > limit_mb * 1024 * 1024:
    st.error(f"The file is {upload.size / 1024 / 1024:.1f} MB; the largest accepted is "
             f"{limit_mb} MB. Export a shorter date range and import it in parts.")
    st.stop()
data = upload.getvalue()
try:
    setup = prepare(context.practice.id, upload.file_id, upload.name, data)
except PortalError as error:
    show_error(error)
    st.stop()

mapping = None
if setup.kind == schedule_import.CSV_KIND:
    st.caption(f"{setup.rows:,} rows, {len(setup.headers)} columns.")
    mapping = mapping_editor(setup, upload.file_id)
    st.header("Preview")
    try:
        table = preview(upload.file_id, tuple(sorted(mapping.items(), key=lambda i: i[0])),
                        context.practice.timezone, data)
        st.dataframe(table, hide_index=True, width="stretch")
    except PortalError as error:
        show_error(error)
else:
    st.caption(f"FHIR Bundle with {setup.rows:,} entries; parsed as FHIR R4 (fhir.resources "
               "R4B models).")

st.header("Options")
create_missing = st.checkbox(
    "Create unknown providers and locations",
    help="Otherwise rows naming a provider or location not set up under Practice Settings "
         "are rejected.")
keep_valid = st.checkbox(
    "Keep the valid rows",
    help="Otherwise a file with any rejected row imports nothing at all.")
if st.button("Import schedule", type="primary"):
    run_import(upload.file_id, data, upload.name, mapping, create_missing, keep_valid)
if last and last[0] == upload.file_id:
    show_report(last[1])
