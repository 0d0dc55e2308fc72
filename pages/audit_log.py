"""Audit Log: placeholder until its issue lands."""

import streamlit as st

from services import permissions
from ui.context import require_page

context = require_page(permissions.AUDIT_LOG)
st.title("Audit Log")
st.info("Coming soon: the audit log with filters and CSV export.")
