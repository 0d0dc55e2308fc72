"""Practice Settings: placeholder until its issue lands."""

import streamlit as st

from services import permissions
from ui.context import require_page

context = require_page(permissions.PRACTICE_SETTINGS)
st.title("Practice Settings")
st.info("Coming soon: practice, location and provider settings.")
