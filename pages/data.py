"""Placeholder: replaced by the real page."""
import streamlit as st

st.title("data")
st.info("This page is being built.")
