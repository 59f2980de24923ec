"""Streamlit pages, routed by `dashboards/streamlit_app.py`. Pages hold only UI."""
