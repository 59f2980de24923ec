"""Samkjøp dashboards: the entry point. Routes to the pages in app_pages/; nothing else.

Run with `samkjop dashboards --config cooperation.yml`, which sets SAMKJOP_SNAPSHOT
to the published snapshot and starts `streamlit run dashboards/streamlit_app.py`.
"""

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboards/streamlit_app.py` puts dashboards/ on sys.path, not the
# repository root: make the `dashboards` package importable without an install too.
_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from dashboards import queries, ui  # noqa: E402  (needs the path above)

st.set_page_config(
    page_title="Samkjøp",
    page_icon=":material/handshake:",
    layout="wide",
)

PAGES = [
    st.Page(
        "app_pages/overview.py",
        title="Cooperation overview",
        icon=":material/dashboard:",
        url_path="overview",
        default=True,
    ),
    st.Page(
        "app_pages/followup.py",
        title="Follow-up",
        icon=":material/checklist:",
        url_path="followup",
    ),
    st.Page(
        "app_pages/deliveries.py",
        title="Deliveries",
        icon=":material/inbox:",
        url_path="deliveries",
    ),
]

page = st.navigation(PAGES)

with st.sidebar:
    try:
        snapshot = queries.locate_snapshot()
        st.caption(ui.published_text(snapshot))
    except queries.SnapshotUnavailable:
        st.caption("No data snapshot published yet.")

page.run()
