"""The Dashboard's `Access due` filter (Overdue / Due today / Due in 1–3 days) in the sidebar,
mirrored in the query string as `due` so that a filtered view can be bookmarked."""

from __future__ import annotations

import streamlit as st

from services.access_deadline import AccessDue, parse_access_due
from services.errors import InvalidInput

DUE = "due"
ANY = "All visits"
_KEY = "_filters_access_due"
_STORE = "_filters_access_due_kept"  # the widget forgets its value on other pages; this does not


def access_due_filter() -> AccessDue | None:
    """Render the filter below the schedule filters and return the choice (None: no filter)."""
    if _KEY not in st.session_state:
        if DUE in st.query_params or _STORE not in st.session_state:
            try:
                chosen = parse_access_due(st.query_params.get(DUE))
            except InvalidInput as error:
                st.warning(f"{error} Showing all visits.", icon=":material/link_off:")
                chosen = None
            st.session_state[_KEY] = chosen.value if chosen else ANY
        else:
            st.session_state[_KEY] = st.session_state[_STORE]
    with st.sidebar:
        value = st.selectbox(
            "Access due", [ANY, *(choice.value for choice in AccessDue)], key=_KEY,
            help="Completed or arrived visits whose patient has no portal access yet, by the "
                 "day access is due for the 4-business-day measure.",
        )
    st.session_state[_STORE] = value
    chosen = None if value == ANY else AccessDue(value)
    if chosen is None:
        if DUE in st.query_params:
            del st.query_params[DUE]
    elif st.query_params.get(DUE) != chosen.name:
        st.query_params[DUE] = chosen.name
    return chosen
