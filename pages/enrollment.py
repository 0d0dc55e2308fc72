"""Enrollment: how well the practice gives its patients portal access, for supervisors and
admins. Headline figures, the "provide patients electronic access" measure with the patients
who miss it (CSV), and the charts.

Its service is services/enrollment.py (the figures and the measure's rules, one
EnrollmentScope built from the shared filters), its charts services/figures.py."""

from __future__ import annotations

from ui.imports import through_app

through_app()  # first: a fresh server's first run may start here, not in app.py

import streamlit as st

from services import figures, permissions
from services.dates import date_text
from services.db import session_scope
from services.enrollment import (
    ACCESS_BUSINESS_DAYS,
    EnrollmentReport,
    EnrollmentScope,
    build_enrollment_report,
    export_patients_missing_access_csv,
)
from services.errors import PortalError
from ui.context import require_page, show_error
from ui.filters import schedule_filters

# Measure figures need no second-by-second freshness, and a cold report over a long window
# scans the whole period's visits; pages that write clear the caches anyway.
CACHE_TTL_SECONDS = 300
DEFAULT_DAYS = 30


@st.cache_data(ttl=CACHE_TTL_SECONDS, max_entries=32, show_spinner="Counting enrollment…")
def load_report(scope: EnrollmentScope) -> EnrollmentReport:
    with session_scope(read_only=True) as session:
        return build_enrollment_report(session, scope=scope)


def missing_csv(scope: EnrollmentScope):
    """The CSV of every patient missing the measure, built only when the button is clicked."""
    def build() -> str:
        with session_scope(read_only=True) as session:
            return export_patients_missing_access_csv(session, scope=scope)
    return build


def show_headline(report: EnrollmentReport) -> None:
    headline = report.headline
    cells = st.columns(6)
    cells[0].metric("Patients seen", f"{headline.patients_seen:,}",
                    help="Unique patients with a completed visit in the period.")
    cells[1].metric("Invited", f"{headline.invited:,}",
                    help="Patients seen whose parent was ever issued a PIN or question.")
    cells[2].metric("Activated", f"{headline.activated:,}",
                    help="Patients seen whose parent activated a portal account.")
    cells[3].metric("Activation rate", figures.percent(headline.activation_rate),
                    help="Activated out of invited.")
    median = headline.median_days_to_activation
    cells[4].metric("Median to activate", "–" if median is None else f"{median:.1f} days",
                    help="Median time from a PIN's issue to its activation, for the patients "
                         "seen.")
    cells[5].metric("Expiring in 7 days", f"{headline.pins_expiring_soon:,}",
                    help="Unused PINs of the patients seen that expire within the next 7 days: "
                         "remind those parents.")
    if headline.reminded:
        st.caption(f"Reminders: {headline.reminded:,} invitations got a reminder; "
                   f"{headline.activated_after_reminder:,} of them were activated after it.")


def show_measure(report: EnrollmentReport, download) -> None:
    measure = report.measure
    st.header("Provide patients electronic access")
    st.caption(
        f"Patients seen whose parent was given portal access (a PIN issued or an account "
        f"active) no later than the {ACCESS_BUSINESS_DAYS}th business day of the visit, the "
        "visit's day counting as the first; weekends and the practice's holidays are skipped. "
        "A patient seen more than once must have had access in time for every visit, which "
        "is the same as in time for their first visit in the period."
    )
    cells = st.columns(4)
    cells[0].metric("Numerator", f"{measure.numerator:,}",
                    help="Patients given access in time.")
    cells[1].metric("Denominator", f"{measure.denominator:,}",
                    help="Unique patients with a completed visit in the period.")
    cells[2].metric("Rate", figures.percent(measure.rate))
    cells[3].metric("Missing", f"{measure.missing:,}",
                    help=f"{measure.still_in_time:,} of them have no access yet but their "
                         "deadline has not passed.")
    if not measure.missing:
        if measure.denominator:
            st.success("Every patient seen in the period was given access in time.")
        return
    preview = report.missing_preview
    shown = (f"the first {len(preview):,} by first visit"
             if len(preview) < measure.missing else "all of them")
    st.markdown(f"**Patients who miss the measure** ({measure.missing:,}; "
                f"{measure.still_in_time:,} still in time; {shown}):")
    st.dataframe(
        preview,
        hide_index=True,
        width="stretch",
        height=min(36 + 35 * len(preview), 420),
        column_config={
            "Date of birth": st.column_config.DateColumn(format="MM/DD/YYYY"),
            "First visit": st.column_config.DateColumn(format="MM/DD/YYYY"),
            "Access due by": st.column_config.DateColumn(format="MM/DD/YYYY"),
            "Access given": st.column_config.DateColumn(format="MM/DD/YYYY"),
            "Still in time": st.column_config.CheckboxColumn(
                help="No access yet, and the deadline has not passed: register them now."),
        },
    )
    st.download_button(
        "Download patients missing the measure (CSV)",
        data=download,
        file_name=f"electronic-access-missing-{report.start}-to-{report.end}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )


def show_charts(report: EnrollmentReport) -> None:
    left, right = st.columns(2)
    left.plotly_chart(figures.funnel_figure(report.funnel), width="stretch")
    right.plotly_chart(figures.weekly_trend_figure(report.weekly), width="stretch")
    left, right = st.columns(2)
    left.plotly_chart(figures.rate_by_figure(report.by_provider, group_label="Provider",
                                             overall_rate=report.measure.rate), width="stretch")
    right.plotly_chart(figures.rate_by_figure(report.by_location, group_label="Location",
                                              overall_rate=report.measure.rate), width="stretch")
    if report.days_to_activation.empty:
        st.info("No parent of a patient seen in the period has activated an account yet.")
    else:
        st.plotly_chart(figures.days_to_activation_figure(report.days_to_activation),
                        width="stretch")


context = require_page(permissions.ENROLLMENT)
st.title("Enrollment")
filters = schedule_filters(context, key="enrollment", search=False, cancelled=False,
                           default_days=DEFAULT_DAYS)
if not filters.valid:
    st.warning(filters.error)
    st.stop()
st.caption(f"{context.practice.name} · patients with a completed visit from "
           f"{date_text(filters.start)} to {date_text(filters.end)}")
scope = EnrollmentScope(practice_id=context.practice.id, start=filters.start, end=filters.end,
                        location_id=filters.location_id, provider_ids=filters.provider_ids)
try:
    report = load_report(scope)
except PortalError as error:
    show_error(error)
    st.stop()

show_headline(report)
if not report.headline.patients_seen:
    st.info("No completed visits in this period. Widen Start Date and End Date, or choose "
            "another Location or provider.")
    st.stop()
show_measure(report, missing_csv(scope))
st.divider()
show_charts(report)
