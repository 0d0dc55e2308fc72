"""Import Schedule: placeholder until its issue lands."""

import streamlit as st

from services import permissions
from ui.context import require_page

context = require_page(permissions.IMPORT)
st.title("Import Schedule")
st.info("Coming soon: schedule import from CSV and FHIR bundles.")
