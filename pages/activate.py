"""Activate Portal Account: placeholder until its issue lands."""

import streamlit as st

st.title("Activate Portal Account")
st.info("Coming soon: the public page where parents activate their account.")
