"""Altair charts of the dashboards: pure functions from a DataFrame to a chart.

Texts (titles, legend entries, tooltips) come in as arguments, already in the reader's
language; value labels are formatted by the caller (column `value_text`) or by the
`percent` function passed in. Legends list every member (no limit on symbols or label
length, in as many columns as needed) so that none is cut off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import altair as alt
import pandas as pd

from dashboards.formatting import fmt_pct, is_missing

ALL_SCOPE = "All agreements"
SHARED_SCOPE = "Shared agreements (fellesavtaler)"
TARGET_COLOUR = "#d62728"
WHOLE_COLOUR = "#222222"


def legend(columns: int = 3, **options: Any) -> alt.Legend:
    """A legend under the chart that shows every entry, whole."""
    return alt.Legend(
        title=None,
        orient="bottom",
        labelLimit=0,
        symbolLimit=0,
        columns=columns,
        **options,
    )


def _target_layer(target: Any, orient: str, label: str | None = None) -> alt.LayerChart | None:
    """A dashed rule at the target with its label, or None when no target is set."""
    if is_missing(target):
        return None
    text_label = label if label is not None else f"Target {fmt_pct(target)}"
    frame = pd.DataFrame({"target": [float(target)], "label": [text_label]})
    base = alt.Chart(frame)
    if orient == "vertical":  # the value runs along x
        rule = base.mark_rule(color=TARGET_COLOUR, strokeDash=[6, 4], size=2).encode(
            x="target:Q", tooltip=["label:N"]
        )
        text = base.mark_text(
            color=TARGET_COLOUR, align="center", baseline="bottom", dy=-4, fontWeight="bold"
        ).encode(x="target:Q", y=alt.value(0), text="label:N")
    else:  # the value runs along y
        rule = base.mark_rule(color=TARGET_COLOUR, strokeDash=[6, 4], size=2).encode(
            y="target:Q", tooltip=["label:N"]
        )
        text = base.mark_text(
            color=TARGET_COLOUR, align="left", baseline="bottom", dx=4, dy=-2, fontWeight="bold"
        ).encode(y="target:Q", x=alt.value(0), text="label:N")
    return rule + text


def ratio_by_member_chart(
    frame: pd.DataFrame,
    metric: str,
    title: str,
    target: Any = None,
    scopes: tuple[str, str] = (ALL_SCOPE, SHARED_SCOPE),
    member_title: str = "Member",
    scope_title: str = "Agreements",
    target_label: str | None = None,
    percent: Callable[[Any], str] = fmt_pct,
) -> alt.Chart | alt.LayerChart:
    """Horizontal grouped bars: `metric` and `shared_<metric>` per member, against the target.

    `frame` has columns label (the member's name, in display order), `metric` and
    `shared_<metric>`; NULL ratios draw no bar (their value label says so).
    """
    order = list(frame["label"])
    all_scope, shared_scope = scopes
    long = frame.melt(
        id_vars=["label"],
        value_vars=[metric, f"shared_{metric}"],
        var_name="column",
        value_name="value",
    )
    long["scope"] = long["column"].map({metric: all_scope, f"shared_{metric}": shared_scope})
    long["value_text"] = long["value"].map(percent)
    long["text_x"] = long["value"].fillna(0.0)  # an undefined ratio gets its mark at 0
    bars = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=0)),
            yOffset=alt.YOffset("scope:N", sort=[all_scope, shared_scope]),
            x=alt.X(
                "value:Q",
                title=title,
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
            ),
            color=alt.Color(
                "scope:N",
                sort=[all_scope, shared_scope],
                scale=alt.Scale(range=["#1f77b4", "#9ecae1"]),
                legend=legend(columns=2),
            ),
            tooltip=[
                alt.Tooltip("label:N", title=member_title),
                alt.Tooltip("scope:N", title=scope_title),
                alt.Tooltip("value_text:N", title=title),
            ],
        )
    )
    labels = bars.mark_text(align="left", dx=3, fontSize=11).encode(
        x="text_x:Q", text="value_text:N", color=alt.value("#333333")
    )
    chart: alt.Chart | alt.LayerChart = bars + labels
    target_layer = _target_layer(target, orient="vertical", label=target_label)
    if target_layer is not None:
        chart = chart + target_layer
    return chart.properties(height=max(180, 64 * len(order)))


def quarterly_trend_chart(
    frame: pd.DataFrame,
    metric: str,
    title: str,
    target: Any = None,
    member_title: str = "Member",
    quarter_title: str = "Quarter",
    target_label: str | None = None,
    percent: Callable[[Any], str] = fmt_pct,
    legend_columns: int = 2,
) -> alt.Chart | alt.LayerChart:
    """Lines of `metric` per quarter, one per member; the whole cooperation drawn thick.

    `frame` has columns label (member name), is_all, quarter_label ('2024 K1'),
    period_start and `metric`; a NULL ratio leaves a gap in that member's line. The y
    axis spans the values shown (not 0..100 %), so that differences are visible.
    """
    data = frame.sort_values("period_start").copy()
    data["value_text"] = data[metric].map(percent)
    quarter_order = list(dict.fromkeys(data["quarter_label"]))
    member_order = list(dict.fromkeys(frame.sort_values("is_all", ascending=False)["label"]))
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("quarter_label:O", sort=quarter_order, title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y(
                f"{metric}:Q", title=title, axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)
            ),
            color=alt.Color("label:N", sort=member_order, legend=legend(columns=legend_columns)),
            strokeWidth=alt.condition("datum.is_all", alt.value(4), alt.value(1.8)),
            tooltip=[
                alt.Tooltip("label:N", title=member_title),
                alt.Tooltip("quarter_label:N", title=quarter_title),
                alt.Tooltip("value_text:N", title=title),
            ],
        )
    )
    chart: alt.Chart | alt.LayerChart = lines
    target_layer = _target_layer(target, orient="horizontal", label=target_label)
    if target_layer is not None:
        chart = chart + target_layer
    return chart.properties(height=320)


def member_bars(
    frame: pd.DataFrame,
    value: str,
    title: str,
    member_title: str,
    axis_format: str | None = None,
) -> alt.Chart | alt.LayerChart:
    """Horizontal bars of `value` per member (column label, in the frame's order, with
    `value_text` as the bar's label); the whole cooperation's bar (is_all) darker."""
    order = list(frame["label"])
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=0)),
            x=alt.X(f"{value}:Q", title=title, axis=alt.Axis(format=axis_format or ",.0f")),
            color=alt.condition("datum.is_all", alt.value(WHOLE_COLOUR), alt.value("#4c78a8")),
            tooltip=[
                alt.Tooltip("label:N", title=member_title),
                alt.Tooltip("value_text:N", title=title),
            ],
        )
    )
    text = bars.mark_text(align="left", dx=3, fontSize=11).encode(
        text="value_text:N", color=alt.value("#333333")
    )
    return (bars + text).properties(height=max(160, 34 * len(order)))


def heat_map(
    frame: pd.DataFrame,
    value_title: str,
    member_title: str,
    category_title: str,
    member_order: list[str],
    category_order: list[str],
) -> alt.LayerChart:
    """Categories (rows) x members (columns), each cell coloured by `value` (a fraction,
    NULL cells grey) and labelled with `value_text`."""
    base = alt.Chart(frame).encode(
        x=alt.X(
            "member:N",
            sort=member_order,
            title=None,
            axis=alt.Axis(
                orient="top", labelAngle=-30, labelAlign="left", labelLimit=0, labelOverlap=False
            ),
        ),
        y=alt.Y(
            "category:N",
            sort=category_order,
            title=None,
            axis=alt.Axis(labelLimit=0, labelOverlap=False),
        ),
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color(
            "value:Q",
            title=value_title,
            scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1]),
            legend=alt.Legend(format="%", orient="bottom", gradientLength=240),
        ),
        tooltip=[
            alt.Tooltip("category:N", title=category_title),
            alt.Tooltip("member:N", title=member_title),
            alt.Tooltip("value_text:N", title=value_title),
            alt.Tooltip("spend_text:N"),
        ],
    )
    text = base.mark_text(fontSize=11).encode(
        text="value_text:N",
        color=alt.condition(
            "datum.value > 0.75 || datum.value < 0.2", alt.value("white"), alt.value("#111111")
        ),
    )
    return (cells + text).properties(height=alt.Step(26))


def yearly_lines(
    frame: pd.DataFrame,
    value: str,
    title: str,
    member_title: str,
    year_title: str,
) -> alt.Chart:
    """A line per member (label, is_all) of the fraction `value` per year (value_text)."""
    member_order = list(dict.fromkeys(frame.sort_values("is_all", ascending=False)["label"]))
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("year:O", title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y(
                f"{value}:Q", title=title, axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)
            ),
            color=alt.Color("label:N", sort=member_order, legend=legend(columns=4)),
            strokeWidth=alt.condition("datum.is_all", alt.value(4), alt.value(1.8)),
            tooltip=[
                alt.Tooltip("label:N", title=member_title),
                alt.Tooltip("year:O", title=year_title),
                alt.Tooltip("value_text:N", title=title),
            ],
        )
        .properties(height=300)
    )


def localised(chart: Any, language: str) -> Any:
    """`chart` with the number format of `language` for its axes and legends (Vega's
    locale from Babel's symbols: decimal comma and a non-breaking space between
    thousands in nb and da, a point and commas in en; "80 %" where the locale spaces it)."""
    from babel import Locale

    from dashboards.i18n import BABEL_LOCALES

    locale = Locale.parse(BABEL_LOCALES[language])
    symbols = locale.number_symbols["latn"]
    percent = locale.percent_formats[None].pattern
    return chart.configure(
        locale=alt.Locale(
            number=alt.NumberLocale(
                decimal=symbols["decimal"],
                thousands=symbols["group"],
                grouping=[3],
                currency=["", ""],
                percent="\u00a0%" if "\u00a0%" in percent or " %" in percent else "%",
            )
        )
    )
