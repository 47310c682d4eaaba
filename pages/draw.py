"""Placeholder: replaced by the real page."""
import streamlit as st

st.title("draw")
st.info("This page is being built.")
