"""Placeholder: replaced by the real page."""
import streamlit as st

st.title("errors")
st.info("This page is being built.")
