"""The annual report's charts: Altair (Vega-Lite) rendered to SVG on the server by
vl-convert, so the report needs no browser scripting and prints the same everywhere.

Every label a reader sees is formatted in Python in the reader's locale
(dashboards.formatting) and drawn as text; the axes use a d3 number locale built from
the same Babel locale (decimal mark and digit grouping).
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import vl_convert
from babel import numbers as babel_numbers

from dashboards.formatting import format_amount, format_percent, is_missing
from dashboards.i18n import BABEL_LOCALES, translate

WIDTH = 640  # px: the A4 page's text width at 96 dpi, less a margin for labels
HALF_WIDTH = 260
TREND_WIDTH = WIDTH - 40
FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
COOPERATION_COLOUR = "#222222"
TARGET_COLOUR = "#c0392b"
BAR_COLOUR = "#3b6ea5"
MISSED_COLOUR = "#d98c3c"
MEMBER_PALETTE = [
    "#3b6ea5",
    "#e08a2c",
    "#3c9a5f",
    "#c44e52",
    "#8172b2",
    "#937860",
    "#da8bc3",
    "#6b8e23",
    "#4aa3b5",
    "#b8860b",
    "#7f7f7f",
    "#2f4f4f",
]
CONFIG = {
    "font": FONT,
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "grid": True, "gridColor": "#e6e6e6"},
    "legend": {"labelFontSize": 11, "titleFontSize": 11},
    "title": {"fontSize": 13, "anchor": "start", "fontWeight": "bold"},
}


def d3_locale(language: str) -> dict[str, Any]:
    """The d3-format locale of `language` from Babel's symbols (nb: '82,6 %')."""
    locale = BABEL_LOCALES[language]
    decimal = babel_numbers.get_decimal_symbol(locale)
    group = babel_numbers.get_group_symbol(locale)
    percent = "%" if language == "en" else "\u00a0%"
    return {
        "decimal": decimal,
        "thousands": group,
        "grouping": [3],
        "currency": ["", ""],
        "percent": percent,
    }


def to_svg(chart: alt.TopLevelMixin, language: str) -> str:
    """The chart as an SVG document (no XML declaration: it is inlined in the HTML)."""
    spec = chart.to_dict()
    return vl_convert.vegalite_to_svg(spec, format_locale=d3_locale(language))


def _target_rule(target: Any, language: str) -> alt.LayerChart | None:
    """A dashed vertical line at the target, its label above the plot."""
    if is_missing(target):
        return None
    label = translate("report.chart.target", language, value=format_percent(target, language))
    frame = pd.DataFrame({"value": [float(target)], "label": [label]})
    base = alt.Chart(frame)
    rule = base.mark_rule(color=TARGET_COLOUR, strokeDash=[5, 3], size=2)
    text = base.mark_text(
        color=TARGET_COLOUR, align="center", baseline="bottom", dy=-4, fontWeight="bold"
    )
    return rule.encode(x="value:Q") + text.encode(x="value:Q", y=alt.value(0), text="label")


def ratio_bars(
    kpis: pd.DataFrame, metric: str, title: str, target: Any, language: str
) -> alt.TopLevelMixin:
    """One horizontal bar per member and the cooperation (`label` in display order) for the
    ratio `metric`, the value written after each bar, the target as a dashed line; a bar
    under the target is orange. An undefined ratio has no bar and the text '–'."""
    frame = kpis[["label", metric]].copy()
    frame["value"] = frame[metric].astype("float64")
    frame["text"] = [format_percent(v, language) for v in frame[metric]]
    frame["at"] = frame["value"].fillna(0.0)
    frame["below"] = [
        (not is_missing(target)) and (not is_missing(v)) and float(v) < float(target)
        for v in frame["value"]
    ]
    order = list(frame["label"])
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=150))
    x_scale = alt.Scale(domain=[0, 1])
    bars = (
        alt.Chart(frame)
        .mark_bar(height=14)
        .encode(
            y=y,
            x=alt.X(
                "value:Q",
                scale=x_scale,
                title=None,
                axis=alt.Axis(format=".0%", values=[0, 0.25, 0.5, 0.75, 1]),
            ),
            color=alt.Color(
                "below:N",
                scale=alt.Scale(domain=[False, True], range=[BAR_COLOUR, MISSED_COLOUR]),
                legend=None,
            ),
        )
    )
    labels = (
        alt.Chart(frame)
        .mark_text(align="left", dx=3, fontSize=10)
        .encode(y=y, x=alt.X("at:Q", scale=x_scale), text="text:N")
    )
    layers = [bars, labels]
    rule = _target_rule(target, language)
    if rule is not None:
        layers.append(rule)
    return (
        alt.layer(*layers)
        .properties(width=HALF_WIDTH, height=alt.Step(22), title=title)
        .configure(**CONFIG)
    )


def loyalty_trend(
    trend: pd.DataFrame, names: dict[str, str], target: Any, language: str, title: str
) -> alt.TopLevelMixin:
    """Loyalty per quarter: one line per member, the cooperation as a thick dark line,
    the target dashed; the legend lists every member in columns below the chart."""
    frame = trend.copy()
    frame["label"] = [names.get(m, m) for m in frame["municipality_id"]]
    frame["quarter_label"] = [
        translate("report.quarter", language, quarter=int(q), year=int(y))
        for q, y in zip(frame["quarter"], frame["year"], strict=True)
    ]
    frame["value"] = frame["loyalty"].astype("float64")
    quarters = list(dict.fromkeys(frame.sort_values("period_start")["quarter_label"]))
    member_labels = [names[m] for m in names if m != "ALL" and m in set(frame["municipality_id"])]
    cooperation_label = names.get("ALL", "ALL")
    domain = [*member_labels, cooperation_label]
    colours = [MEMBER_PALETTE[i % len(MEMBER_PALETTE)] for i in range(len(member_labels))]
    x = alt.X("quarter_label:N", sort=quarters, title=None, axis=alt.Axis(labelAngle=0))
    y = alt.Y("value:Q", title=None, axis=alt.Axis(format=".0%"), scale=alt.Scale(zero=False))
    colour = alt.Color(
        "label:N",
        sort=domain,
        scale=alt.Scale(domain=domain, range=[*colours, COOPERATION_COLOUR]),
        legend=alt.Legend(
            title=None,
            orient="bottom",
            columns=min(4, len(domain)),
            symbolType="stroke",
            symbolStrokeWidth=3,
            symbolSize=300,
        ),
    )
    members = (
        alt.Chart(frame[frame["municipality_id"] != "ALL"])
        .mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=1.6)
        .encode(x=x, y=y, color=colour)
    )
    cooperation = (
        alt.Chart(frame[frame["municipality_id"] == "ALL"])
        .mark_line(point=alt.OverlayMarkDef(size=30), strokeWidth=3.5)
        .encode(x=x, y=y, color=colour)
    )
    layers = [members, cooperation]
    heading = alt.TitleParams(title)
    if not is_missing(target):
        target_text = format_percent(target, language)
        layers.append(
            alt.Chart(pd.DataFrame({"value": [float(target)]}))
            .mark_rule(color=TARGET_COLOUR, strokeDash=[5, 3], size=2)
            .encode(y="value:Q")
        )
        # In the subtitle, not on the line: a label there hides the lines that end near it.
        heading = alt.TitleParams(
            title,
            subtitle=f"– – {translate('report.chart.target', language, value=target_text)}",
            subtitleColor=TARGET_COLOUR,
            subtitleFontSize=11,
            subtitleFontWeight="bold",
        )
    return (
        alt.layer(*layers)
        .properties(width=TREND_WIDTH, height=250, title=heading)
        .configure(**CONFIG)
    )


def per_capita_bars(
    per_capita: pd.DataFrame, currency: str, title: str, language: str
) -> alt.TopLevelMixin:
    """Off-agreement spend per inhabitant per member (in the frame's order), the amount
    written after each bar, the cooperation's figure as a dark dashed line."""
    members = per_capita[per_capita["municipality_id"] != "ALL"].copy()
    members["value"] = members["off_agreement_spend_per_inhabitant"].astype("float64")
    members["text"] = [format_amount(v, currency, language) for v in members["value"]]
    members["at"] = members["value"].fillna(0.0)
    # Room right of the longest bar for its label.
    scale = alt.Scale(domain=[0, float(members["at"].max() or 0) * 1.3 or 1.0])
    order = list(members["municipality_name"])
    y = alt.Y("municipality_name:N", sort=order, title=None, axis=alt.Axis(labelLimit=150))
    bars = (
        alt.Chart(members)
        .mark_bar(height=14, color=BAR_COLOUR)
        .encode(
            y=y,
            x=alt.X("value:Q", title=None, scale=scale, axis=alt.Axis(format=",.0f", tickCount=6)),
        )
    )
    labels = (
        alt.Chart(members)
        .mark_text(align="left", dx=3, fontSize=10)
        .encode(y=y, x=alt.X("at:Q", scale=scale), text="text:N")
    )
    layers = [bars, labels]
    whole = per_capita[per_capita["municipality_id"] == "ALL"]
    if not whole.empty and not is_missing(whole.iloc[0]["off_agreement_spend_per_inhabitant"]):
        value = float(whole.iloc[0]["off_agreement_spend_per_inhabitant"])
        label = translate(
            "report.chart.cooperation_mark",
            language,
            value=format_amount(value, currency, language),
        )
        frame = pd.DataFrame({"value": [value], "label": [label]})
        x = alt.X("value:Q", scale=scale)
        layers.append(
            alt.Chart(frame)
            .mark_rule(color=COOPERATION_COLOUR, strokeDash=[5, 3], size=2)
            .encode(x=x)
        )
        heading = alt.TitleParams(title, subtitle=f"– – {label}", subtitleFontSize=11)
    else:
        heading = alt.TitleParams(title)
    return (
        alt.layer(*layers)
        .properties(width=WIDTH - 160, height=alt.Step(22), title=heading)
        .configure(**CONFIG)
    )
