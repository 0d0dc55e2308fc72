"""Staff Users: placeholder until its issue lands."""

import streamlit as st

from services import permissions
from ui.context import require_page

context = require_page(permissions.STAFF_USERS)
st.title("Staff Users")
st.info("Coming soon: staff user administration.")
