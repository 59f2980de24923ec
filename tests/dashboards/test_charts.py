"""The charts show every member in their legends, write numbers in the reader's locale,
and let axes show differences."""

from __future__ import annotations

import json

import pandas as pd

from dashboards import charts

MEMBERS = ["Whole cooperation", "Stjørdal (host)", "Selbu", "Tydal", "Meråker", "Frosta"]


def _trend() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": MEMBERS * 2,
            "is_all": [m == MEMBERS[0] for m in MEMBERS] * 2,
            "quarter_label": ["2024 Q1"] * 6 + ["2024 Q2"] * 6,
            "period_start": ["2024-01-01"] * 6 + ["2024-04-01"] * 6,
            "coverage": [0.8, 0.82, 0.7, 0.9, 0.75, 0.6] * 2,
        }
    )


def test_trend_legend_lists_every_member_whole_and_the_axis_is_not_from_zero() -> None:
    spec = charts.quarterly_trend_chart(_trend(), "coverage", "Coverage").to_dict()
    encoding = spec["layer"][0]["encoding"] if "layer" in spec else spec["encoding"]
    legend = encoding["color"]["legend"]
    assert legend["symbolLimit"] == 0 and legend["labelLimit"] == 0
    assert encoding["color"]["sort"] == MEMBERS  # the whole cooperation first, then members
    assert encoding["y"]["scale"]["zero"] is False


def test_localised_charts_write_numbers_in_the_readers_locale() -> None:
    chart = charts.quarterly_trend_chart(_trend(), "coverage", "Avtaledekning")
    norwegian = charts.localised(chart, "nb").to_dict()["config"]["locale"]["number"]
    english = charts.localised(chart, "en").to_dict()["config"]["locale"]["number"]
    assert norwegian["decimal"] == "," and norwegian["thousands"] == "\u00a0"
    assert norwegian["percent"] == "\u00a0%"
    assert english["decimal"] == "." and english["thousands"] == ","
    assert english["percent"] == "%"


def test_heat_map_labels_every_category_and_member() -> None:
    frame = pd.DataFrame(
        {
            "member": ["Selbu", "Tydal"],
            "category": ["Kontorrekvisita", "Kontorrekvisita"],
            "value": [0.9, None],
            "value_text": ["90 %", "–"],
            "spend_text": ["1 kr", "2 kr"],
        }
    )
    spec = json.dumps(
        charts.heat_map(
            frame, "Avtaledekning", "Kommune", "Kategori", ["Selbu", "Tydal"], ["Kontorrekvisita"]
        ).to_dict()
    )
    assert spec.count('"labelOverlap": false') >= 2
