"""Dashboard: placeholder until its issue lands."""

import streamlit as st

from services import permissions
from ui.context import require_page

context = require_page(permissions.DASHBOARD)
st.title("Dashboard")
st.info(
    "Coming soon: the appointment schedule with filters and Register on every row."
)
