"""The Dashboard's cached reads, decorated once per process (a page script's own functions
are decorated again on every run of the page)."""

from __future__ import annotations

import pyarrow as pa
import streamlit as st

from services.db import session_scope
from services.schedule import (
    PAGE_SIZE,
    ScheduleCriteria,
    ScheduleSummary,
    list_schedule,
    summarize_schedule,
)
from ui.schedule_table import schedule_table

CACHE_TTL_SECONDS = 30


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def load_summary(practice_id: int, criteria: ScheduleCriteria) -> ScheduleSummary:
    with session_scope(read_only=True) as session:
        return summarize_schedule(session, practice_id=practice_id, criteria=criteria)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def load_page(practice_id: int, criteria: ScheduleCriteria, page: int) -> pa.Table:
    # The table is cached ready to send: formatting 100 phone numbers costs more than the
    # query, and converting them to Arrow about as much. (The row detail reads the selected
    # row from this table; supervisors' runs drop its Register column.)
    with session_scope(read_only=True) as session:
        schedule_page = list_schedule(session, practice_id=practice_id, criteria=criteria,
                                      page=page, page_size=PAGE_SIZE)
    return schedule_table(schedule_page)


def clear() -> None:
    """Forget the cached summaries and pages (after a change to what they show)."""
    load_summary.clear()
    load_page.clear()
