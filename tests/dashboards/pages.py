"""Helpers of the dashboard page tests (AppTest): run a page or the app in a language."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pandas as pd
from streamlit.testing.v1 import AppTest

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
APP = DASHBOARDS / "streamlit_app.py"
PAGES_DIR = DASHBOARDS / "app_pages"
# Every page: its file and the catalogue key of its title.
PAGES = {
    "overview": "page.overview.heading",
    "compare": "page.compare.title",
    "ehandel": "page.ehandel.title",
    "categories": "page.categories.title",
    "member": "page.member.heading",
    "suppliers": "page.suppliers.title",
    "deliveries": "page.status.heading",
    "followup": "followup.heading",
}


def plain(text: str) -> str:
    """Babel's non-breaking spaces as plain spaces, for comparing texts."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def open_page(
    page: str,
    language: str | None = None,
    via_app: bool = True,
    direct: bool = False,
    **params: str,
) -> AppTest:
    """Run `page` (app_pages/<page>.py) through streamlit_app.py (navigation, sidebar), or
    alone, with ?lang=<language> and other query parameters; fails on an exception.
    Through the app it first opens Overview and switches to the page, or with `direct`
    opens the page at once, as a link to it does."""
    if via_app:
        app = AppTest.from_file(str(APP), default_timeout=60)
    else:
        app = AppTest.from_file(str(PAGES_DIR / f"{page}.py"), default_timeout=60)
    if language:
        app.query_params["lang"] = language
    for name, value in params.items():
        app.query_params[name] = value
    if via_app and direct and page != "overview":
        app.switch_page(f"app_pages/{page}.py")
    app.run()
    if via_app and not direct and page != "overview":
        app.switch_page(f"app_pages/{page}.py").run()
    assert not app.exception, [error.value for error in app.exception]
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {plain(metric.label): plain(metric.value) for metric in app.metric}


def tables(app: AppTest) -> list[pd.DataFrame]:
    return [frame.value for frame in app.dataframe]


def table_with(app: AppTest, *columns: str) -> pd.DataFrame:
    """The first st.dataframe with every one of `columns`, its texts with plain spaces."""
    frame = next(frame for frame in tables(app) if set(columns) <= set(frame.columns))
    return frame.map(lambda v: plain(v) if isinstance(v, str) else v)


def all_text(app: AppTest) -> str:
    """Every text the page shows: titles, headers, captions, markdown, alerts, metrics,
    tables' cells and column names."""
    parts: list[str] = []
    for kind in (
        "title",
        "subheader",
        "caption",
        "markdown",
        "info",
        "warning",
        "error",
        "success",
    ):
        parts.extend(str(element.value) for element in getattr(app, kind))
    parts.extend(f"{m.label} {m.value}" for m in app.metric)
    for frame in tables(app):
        parts.extend(map(str, frame.columns))
        parts.extend(str(v) for v in frame.astype(str).to_numpy().ravel())
    return plain("\n".join(parts))


def captions_outside_expanders(node) -> list[str]:
    """The captions of `node` (e.g. app.main) that are not inside an st.expander."""
    found: list[str] = []
    for child in getattr(node, "children", {}).values():
        if getattr(child, "type", "") == "expander":
            continue
        if getattr(child, "type", "") == "caption":
            found.append(plain(child.value))
        found.extend(captions_outside_expanders(child))
    return found


def download_text(content: bytes, fmt: str) -> str:
    """Every text of a downloaded file: a CSV as it reads, a workbook's cells of every sheet."""
    if fmt == "csv":
        return content.decode("utf-8")
    book = openpyxl.load_workbook(io.BytesIO(content))
    return "\n".join(
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    )
