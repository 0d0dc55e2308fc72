"""All logic of Practice Portal. Nothing in this package imports streamlit."""
