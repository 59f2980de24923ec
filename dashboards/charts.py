"""Altair charts of the dashboards: pure functions from a DataFrame to a chart."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from dashboards.formatting import fmt_pct, is_missing

ALL_SCOPE = "All agreements"
SHARED_SCOPE = "Shared agreements (fellesavtaler)"
TARGET_COLOUR = "#d62728"


def _target_layer(target: Any, orient: str) -> alt.LayerChart | None:
    """A dashed rule at the target with its label, or None when no target is set."""
    if is_missing(target):
        return None
    frame = pd.DataFrame({"target": [float(target)], "label": [f"Target {fmt_pct(target)}"]})
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
    frame: pd.DataFrame, metric: str, title: str, target: Any = None
) -> alt.Chart | alt.LayerChart:
    """Horizontal grouped bars: `metric` and `shared_<metric>` per member, against the target.

    `frame` has columns label (the member's name, in display order), `metric` and
    `shared_<metric>`; NULL ratios draw no bar (their value label says n/a).
    """
    order = list(frame["label"])
    long = frame.melt(
        id_vars=["label"],
        value_vars=[metric, f"shared_{metric}"],
        var_name="column",
        value_name="value",
    )
    long["scope"] = long["column"].map({metric: ALL_SCOPE, f"shared_{metric}": SHARED_SCOPE})
    long["value_text"] = long["value"].map(fmt_pct)
    long["text_x"] = long["value"].fillna(0.0)  # an undefined ratio gets its "n/a" at 0
    bars = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=order, title=None),
            yOffset=alt.YOffset("scope:N", sort=[ALL_SCOPE, SHARED_SCOPE]),
            x=alt.X(
                "value:Q",
                title=title,
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
            ),
            color=alt.Color(
                "scope:N",
                sort=[ALL_SCOPE, SHARED_SCOPE],
                scale=alt.Scale(range=["#1f77b4", "#9ecae1"]),
                legend=alt.Legend(title=None, orient="bottom", labelLimit=0),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="Member"),
                alt.Tooltip("scope:N", title="Agreements"),
                alt.Tooltip("value_text:N", title=title),
            ],
        )
    )
    labels = bars.mark_text(align="left", dx=3, fontSize=11).encode(
        x="text_x:Q", text="value_text:N", color=alt.value("#333333")
    )
    chart: alt.Chart | alt.LayerChart = bars + labels
    target_layer = _target_layer(target, orient="vertical")
    if target_layer is not None:
        chart = chart + target_layer
    return chart.properties(height=max(180, 64 * len(order)))


def quarterly_trend_chart(
    frame: pd.DataFrame, metric: str, title: str, target: Any = None
) -> alt.Chart | alt.LayerChart:
    """Lines of `metric` per quarter, one per member; the whole cooperation drawn thick.

    `frame` has columns label (member name), is_all, quarter_label ('2024 Q1'),
    period_start and `metric`; a NULL ratio leaves a gap in that member's line.
    """
    data = frame.sort_values("period_start").copy()
    data["value_text"] = data[metric].map(fmt_pct)
    quarter_order = list(dict.fromkeys(data["quarter_label"]))
    member_order = list(dict.fromkeys(frame.sort_values("is_all", ascending=False)["label"]))
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("quarter_label:O", sort=quarter_order, title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y(f"{metric}:Q", title=title, axis=alt.Axis(format="%")),
            color=alt.Color(
                "label:N",
                sort=member_order,
                legend=alt.Legend(title=None, orient="bottom", labelLimit=0),
            ),
            strokeWidth=alt.condition("datum.is_all", alt.value(4), alt.value(1.8)),
            tooltip=[
                alt.Tooltip("label:N", title="Member"),
                alt.Tooltip("quarter_label:N", title="Quarter"),
                alt.Tooltip("value_text:N", title=title),
            ],
        )
    )
    chart: alt.Chart | alt.LayerChart = lines
    target_layer = _target_layer(target, orient="horizontal")
    if target_layer is not None:
        chart = chart + target_layer
    return chart.properties(height=300)
