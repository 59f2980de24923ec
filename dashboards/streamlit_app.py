"""Samkjøp dashboards: the entry point. Routes to the pages in app_pages/ and draws the
sidebar (language switch, publication date); nothing else.

Run with `samkjop dashboards --config cooperation.yml`, which sets SAMKJOP_SNAPSHOT
to the published snapshot (and SAMKJOP_LANGUAGE to cooperation.language) and starts
`streamlit run dashboards/streamlit_app.py`.
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

# (file, catalogue key of the title, icon, url path); the council's pages, then the
# procurement unit's.
COUNCIL_PAGES = [
    ("app_pages/overview.py", "page.overview.title", ":material/dashboard:", "overview"),
    ("app_pages/compare.py", "page.compare.title", ":material/leaderboard:", "compare"),
    ("app_pages/ehandel.py", "page.ehandel.title", ":material/shopping_cart:", "ehandel"),
    ("app_pages/categories.py", "page.categories.title", ":material/category:", "categories"),
    ("app_pages/member.py", "page.member.title", ":material/location_city:", "member"),
    ("app_pages/suppliers.py", "page.suppliers.title", ":material/storefront:", "suppliers"),
]
UNIT_PAGES = [
    ("app_pages/followup.py", "page.followup.title", ":material/checklist:", "followup"),
    ("app_pages/deliveries.py", "page.status.title", ":material/inbox:", "deliveries"),
]


def _pages(entries: list[tuple[str, str, str, str]], first: bool = False) -> list:
    return [
        st.Page(path, title=ui.t(title), icon=icon, url_path=url, default=first and i == 0)
        for i, (path, title, icon, url) in enumerate(entries)
    ]


page = st.navigation(
    {
        ui.t("app.section_council"): _pages(COUNCIL_PAGES, first=True),
        ui.t("app.section_unit"): _pages(UNIT_PAGES),
    }
)

with st.sidebar:
    ui.language_switch()
    try:
        snapshot = queries.locate_snapshot()
        st.caption(ui.published_text(snapshot))
    except queries.SnapshotUnavailable:
        st.caption(ui.t("common.no_snapshot"))

page.run()
