"""The Dashboard's `Birthdays ahead`: patients with a visit in the next 60 days who reach the
practice's Confidential age or minor age limit by then (services/adolescents.py), so that the
desk collects the adolescent's forms at that visit."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import streamlit as st

from services.adolescents import AHEAD_DAYS, birthdays_ahead
from services.dates import practice_today
from services.db import session_scope
from ui.context import PageContext


@st.cache_data(ttl=300, show_spinner=False)
def load_birthdays(practice_id: int, today: dt.date) -> pa.Table:
    """The list as the table sends it (Arrow, converted once, not on every Dashboard run)."""
    with session_scope(read_only=True) as session:
        found = birthdays_ahead(session, practice_id=practice_id, today=today)
    return pa.Table.from_pandas(pd.DataFrame({
        "Patient": [item.patient_name for item in found],
        "Date of birth": [item.date_of_birth for item in found],
        "Next visit": [item.next_visit for item in found],
        "What changes": [item.what for item in found],
    }))


def show_birthdays(context: PageContext) -> None:
    """A collapsed list under the schedule; nothing when nobody crosses an age."""
    found = load_birthdays(context.practice.id, practice_today(context.practice.timezone))
    if not len(found):
        return
    with st.expander(f"Birthdays ahead ({len(found)}): portal access changes before the next "
                     f"visit (next {AHEAD_DAYS} days)"):
        st.dataframe(found, hide_index=True, width="stretch", column_config={
            "Date of birth": st.column_config.DateColumn(format="MM/DD/YYYY"),
            "Next visit": st.column_config.DateColumn(format="MM/DD/YYYY"),
        })
