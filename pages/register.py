"""Register Patient: placeholder until its issue lands."""

import streamlit as st

from services import permissions
from ui.context import require_page

context = require_page(permissions.REGISTER)
st.title("Register Patient")
st.info(
    "Coming soon: the registration form, PIN letter and welcome email."
)
