"""Enrollment: placeholder until its issue lands."""

import streamlit as st

from services import permissions
from ui.context import require_page

context = require_page(permissions.ENROLLMENT)
st.title("Enrollment")
st.info("Coming soon: enrollment metrics and charts for supervisors.")
