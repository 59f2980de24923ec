"""The annual report as one self-contained HTML document (Jinja2 template, print CSS for
A4, charts inlined as SVG), in the reader's language and number formats: every text from
the catalogues (dashboards/locales/<language>/report.yaml and metrics.yaml), every number
through dashboards.formatting (Babel)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from dashboards.formatting import (
    MISSING,
    format_amount,
    format_date,
    format_month,
    format_number,
    format_percent,
    format_points,
    is_missing,
)
from dashboards.i18n import translate
from pipelines.report import charts
from pipelines.report.data import ALL, ReportData

TEMPLATES = Path(__file__).resolve().parent / "templates"
# The metrics whose name and definition the report's last section lists (the metric
# catalogue, dashboards/locales/<language>/metrics.yaml), then the report's own terms.
DEFINED_METRICS = (
    "influenceable_spend",
    "covered_spend",
    "on_agreement_spend",
    "off_agreement_spend",
    "coverage",
    "loyalty",
    "shared_coverage",
    "shared_loyalty",
    "spend_per_inhabitant",
    "influenceable_per_inhabitant",
    "off_agreement_per_inhabitant",
)
REPORT_TERMS = ("threshold_crossing", "spend_at_stake", "private_persons", "complete_year")
# Ratios with a target in marts.cooperation: metric -> the column holding its target.
TARGETS = {"coverage": "coverage_target", "loyalty": "loyalty_target"}
SCOPES = ("national", "cooperation", "local")


@dataclass(frozen=True)
class Writer:
    """Texts and numbers in one language and currency."""

    language: str
    currency: str

    def t(self, key: str, **values: Any) -> str:
        return translate(key, self.language, **values)

    def amount(self, value: Any) -> str:
        return format_amount(value, self.currency, self.language)

    def compact(self, value: Any) -> str:
        return format_amount(value, self.currency, self.language, compact=True)

    def percent(self, value: Any) -> str:
        return format_percent(value, self.language)

    def points(self, value: Any) -> str:
        return format_points(value, self.language)

    def number(self, value: Any) -> str:
        return format_number(value, self.language)

    def date(self, value: Any) -> str:
        return MISSING if value is None else format_date(value, self.language)

    def month(self, value: Any) -> str:
        return format_month(value, self.language)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _float_or_none(value: Any) -> float | None:
    return None if is_missing(value) else float(value)


def member_names(data: ReportData, language: str) -> dict[str, str]:
    """municipality_id -> name, host first, and ALL -> 'the whole cooperation'."""
    frame = data.members
    names = dict(zip(frame["municipality_id"], frame["municipality_name"], strict=True))
    names[ALL] = translate("report.cooperation_row", language)
    return names


def _target_status(value: Any, target: float | None, w: Writer) -> tuple[str, str]:
    """(text, css class) of a ratio against its target; no target or no value: a dash."""
    if target is None or is_missing(value):
        return MISSING, ""
    met = float(value) >= target
    return w.t("report.target_met" if met else "report.target_missed"), "met" if met else "missed"


def render_html(data: ReportData, language: str) -> str:
    """The report of `data` in `language` as one HTML document."""
    w = Writer(language, str(data.cooperation["currency"]))
    names = member_names(data, language)
    targets = {m: _float_or_none(data.cooperation.get(c)) for m, c in TARGETS.items()}
    kpis = data.kpis.copy()
    kpis["label"] = [
        names[ALL] if row.municipality_id == ALL else row.municipality_name
        for row in kpis.itertuples()
    ]
    whole = kpis[kpis["municipality_id"] == ALL].iloc[0].to_dict()
    completeness = data.cooperation_completeness
    context = {
        "language": language,
        "t": w.t,
        "year": data.year,
        "previous_year": data.previous_year,
        "previous_complete": data.previous_is_complete,
        "cooperation_name": data.cooperation["cooperation_name"],
        "host_name": data.cooperation.get("host_municipality_name") or "",
        "member_list": ", ".join(name for key, name in names.items() if key != ALL),
        "published": w.date(data.published_at),
        "is_complete_year": data.is_complete_year,
        "completeness_all": {
            "delivering": _integer(completeness.get("delivering_member_count")),
            "members": _integer(completeness.get("member_count")),
            "complete": _integer(completeness.get("complete_member_count")),
        },
        "cards": _cards(whole, data, targets, w),
        "highlights": _highlights(kpis, data, targets, w),
        "members_table": _members_table(kpis, targets, w, data.partial_members),
        "target_metrics": [m for m in TARGETS if targets[m] is not None],
        "metric_names": {m: w.t(f"metric.{m}.name") for m in (*DEFINED_METRICS, "population")},
        "target_headers": {
            m: w.t("report.target_status", metric=_lower_first(w.t(f"metric.{m}.name")))
            for m in TARGETS
        },
        "charts": _charts(kpis, data, names, targets, w),
        "per_capita": _per_capita(data, names, w),
        "partial_mark": w.t("report.partial").lower(),
        "categories": _categories(data.categories, w),
        "suppliers": _suppliers(data.suppliers, w),
        "threshold_counts": [
            {
                "threshold": w.amount(row.threshold),
                "crossings": w.number(row.crossing_count),
                "without": w.number(row.without_agreement_count),
            }
            for row in data.threshold_counts.itertuples()
        ],
        "crossing_count": w.number(data.crossing_count),
        "crossings_shown": len(data.crossings),
        "crossings": _crossings(data.crossings, w),
        "as_of": w.date(data.as_of_date),
        "expiring": _expiring(data.expiring, w),
        "completeness": _completeness(data, names, w),
        "definitions": [
            (w.t(f"metric.{m}.name"), w.t(f"metric.{m}.definition")) for m in DEFINED_METRICS
        ]
        + [
            (w.t(f"report.definition.{term}.name"), w.t(f"report.definition.{term}.definition"))
            for term in REPORT_TERMS
        ],
        "undefined_note": w.t("metric.undefined"),
        "css": (TEMPLATES / "report.css").read_text(encoding="utf-8"),
    }
    return _environment().get_template("report.html").render(**context)


def _integer(value: Any) -> int | None:
    return None if is_missing(value) else int(value)


def _cards(whole: dict, data: ReportData, targets: dict, w: Writer) -> list[dict]:
    """The key figures of the whole cooperation, each with its target and the change from
    the previous year where there is one."""
    cards = []
    for metric in ("coverage", "loyalty", "shared_coverage", "shared_loyalty"):
        target = targets.get(metric)
        status, css = _target_status(whole.get(metric), target, w)
        previous = whole.get(f"previous_{metric}")
        change = None
        if not (is_missing(previous) or is_missing(whole.get(metric))):
            change = w.t(
                "report.change_from",
                change=w.points(float(whole[metric]) - float(previous)),
                year=data.previous_year,
            )
        cards.append(
            {
                "name": w.t(f"metric.{metric}.name"),
                "value": w.percent(whole.get(metric)),
                "target": _target_text(metric, target, w),
                "status": status if target is not None else None,
                "css": css,
                "change": change,
            }
        )
    whole_per_capita = data.per_capita[data.per_capita["municipality_id"] == ALL]
    per_inhabitant = (
        whole_per_capita.iloc[0]["off_agreement_spend_per_inhabitant"]
        if not whole_per_capita.empty
        else None
    )
    for metric, value in (
        ("influenceable_spend", w.compact(whole.get("influenceable_spend"))),
        ("off_agreement_spend", w.compact(whole.get("off_agreement_spend"))),
        ("off_agreement_per_inhabitant", w.amount(per_inhabitant)),
    ):
        cards.append(
            {
                "name": w.t(f"metric.{metric}.name"),
                "value": value,
                "target": None,
                "status": None,
                "css": "",
                "change": None,
            }
        )
    return cards


def _target_text(metric: str, target: float | None, w: Writer) -> str | None:
    """'Target 80.0 %', 'No target set' for a ratio that can have one, else None."""
    if metric not in TARGETS:
        return None
    if target is None:
        return w.t("report.target_not_set")
    return w.t("report.target", value=w.percent(target))


def _highlights(kpis: pd.DataFrame, data: ReportData, targets: dict, w: Writer) -> list[str]:
    """The answers a council member looks for first, each from a table of the report: the
    member with the lowest loyalty, how many are below the target, the most off-agreement
    spend per inhabitant, the largest off-agreement category, expiring agreements."""
    lines = []
    members = kpis[(kpis["municipality_id"] != ALL) & kpis["loyalty"].notna()]
    whole = kpis[kpis["municipality_id"] == ALL].iloc[0]
    if not members.empty:
        lowest = members.sort_values(["loyalty", "label"]).iloc[0]
        lines.append(
            w.t(
                "report.highlight.lowest_loyalty",
                member=lowest["label"],
                value=w.percent(lowest["loyalty"]),
                whole=w.percent(whole["loyalty"]),
            )
        )
        if targets["loyalty"] is not None:
            below = int((members["loyalty"] < targets["loyalty"]).sum())
            lines.append(
                w.t(
                    "report.highlight.below_target",
                    count=below,
                    members=int((kpis["municipality_id"] != ALL).sum()),
                    target=w.percent(targets["loyalty"]),
                )
            )
    per_capita = data.per_capita
    ranked = per_capita[
        (per_capita["municipality_id"] != ALL)
        & per_capita["off_agreement_spend_per_inhabitant"].notna()
    ]
    whole_per_capita = per_capita[per_capita["municipality_id"] == ALL]
    if not ranked.empty and not whole_per_capita.empty:
        top = ranked.sort_values("off_agreement_spend_per_inhabitant", ascending=False).iloc[0]
        lines.append(
            w.t(
                "report.highlight.highest_off_per_inhabitant",
                member=top["municipality_name"],
                value=w.amount(top["off_agreement_spend_per_inhabitant"]),
                whole=w.amount(whole_per_capita.iloc[0]["off_agreement_spend_per_inhabitant"]),
            )
        )
    if not data.categories.empty:
        largest = data.categories.iloc[0]
        lines.append(
            w.t(
                "report.highlight.largest_category",
                category=largest["category_name"] or largest["category_id"],
                value=w.compact(largest["off_agreement_spend"]),
                share=w.percent(largest["share_of_off_agreement"]),
            )
        )
    if not data.expiring.empty:
        lines.append(
            w.t(
                "report.highlight.expiring",
                count=len(data.expiring),
                date=w.date(data.as_of_date),
            )
        )
    return lines


def _members_table(kpis: pd.DataFrame, targets: dict, w: Writer, partial: set[str]) -> list[dict]:
    rows = []
    for row in kpis.to_dict("records"):
        statuses = {m: _target_status(row.get(m), targets[m], w) for m in TARGETS}
        change = MISSING
        if not is_missing(row.get("loyalty")) and not is_missing(row.get("previous_loyalty")):
            change = w.points(float(row["loyalty"]) - float(row["previous_loyalty"]))
        rows.append(
            {
                "label": row["label"],
                "is_all": row["municipality_id"] == ALL,
                "partial": row["municipality_id"] in partial,
                "influenceable": w.amount(row["influenceable_spend"]),
                "coverage": w.percent(row["coverage"]),
                "coverage_css": statuses["coverage"][1],
                "loyalty": w.percent(row["loyalty"]),
                "loyalty_css": statuses["loyalty"][1],
                "loyalty_change": change,
                "shared_coverage": w.percent(row["shared_coverage"]),
                "shared_loyalty": w.percent(row["shared_loyalty"]),
                "off": w.amount(row["off_agreement_spend"]),
                "statuses": {m: s[0] for m, s in statuses.items()},
                "status_css": {m: s[1] for m, s in statuses.items()},
            }
        )
    return rows


def _charts(kpis: pd.DataFrame, data: ReportData, names, targets, w: Writer) -> dict[str, str]:
    language = w.language
    coverage = charts.ratio_bars(
        kpis,
        "coverage",
        w.t("report.chart.coverage", year=data.year),
        targets["coverage"],
        language,
    )
    loyalty = charts.ratio_bars(
        kpis, "loyalty", w.t("report.chart.loyalty", year=data.year), targets["loyalty"], language
    )
    trend = charts.loyalty_trend(
        data.trend, names, targets["loyalty"], language, w.t("report.chart.trend")
    )
    per_capita = charts.per_capita_bars(
        data.per_capita, w.currency, w.t("report.chart.per_capita", year=data.year), language
    )
    return {
        "coverage": charts.to_svg(coverage, language),
        "loyalty": charts.to_svg(loyalty, language),
        "trend": charts.to_svg(trend, language),
        "per_capita": charts.to_svg(per_capita, language),
    }


def _per_capita(data: ReportData, names: dict[str, str], w: Writer) -> list[dict]:
    return [
        {
            "label": names[ALL] if row.municipality_id == ALL else row.municipality_name,
            "is_all": row.municipality_id == ALL,
            "partial": row.municipality_id in data.partial_members,
            "population": w.number(row.population),
            "total": w.amount(row.total_spend_per_inhabitant),
            "influenceable": w.amount(row.influenceable_spend_per_inhabitant),
            "off": w.amount(row.off_agreement_spend_per_inhabitant),
            "off_total": w.amount(row.off_agreement_spend),
        }
        for row in data.per_capita.itertuples()
    ]


def _categories(frame: pd.DataFrame, w: Writer) -> list[dict]:
    return [
        {
            "name": row.category_name or row.category_id,
            "off": w.amount(row.off_agreement_spend),
            "share": w.percent(row.share_of_off_agreement),
            "coverage": w.percent(row.coverage),
            "loyalty": w.percent(row.loyalty),
            "largest": MISSING if is_missing(row.largest_member_name) else row.largest_member_name,
        }
        for row in frame.itertuples()
    ]


def _suppliers(frame: pd.DataFrame, w: Writer) -> list[dict]:
    """The payees; the private persons' row has their count and never a name or number."""
    rows = []
    for row in frame.itertuples():
        private = bool(row.is_private_persons)
        rows.append(
            {
                "name": (
                    w.t("report.private_persons", count=w.number(row.payee_count))
                    if private
                    else row.supplier_name
                ),
                "private": private,
                "org_no": (
                    MISSING if private or is_missing(row.supplier_org_no) else row.supplier_org_no
                ),
                "off": w.amount(row.off_agreement_spend),
                "share": w.percent(row.share_of_off_agreement),
            }
        )
    return rows


def _crossings(frame: pd.DataFrame, w: Writer) -> list[dict]:
    return [
        {
            "month": w.month(row.month_end),
            "member": row.municipality_name or row.municipality_id,
            "supplier": (
                w.t("report.private_person") if row.is_private_person else row.supplier_name
            ),
            "private": bool(row.is_private_person),
            "category": row.category_name,
            "threshold": w.amount(row.threshold),
            "spend": w.amount(row.trailing_12m_spend),
            "agreement": w.t("report.yes" if row.has_agreement_for_category else "report.no"),
        }
        for row in frame.itertuples()
    ]


def _expiring(frame: pd.DataFrame, w: Writer) -> list[dict]:
    return [
        {
            "name": row.agreement_name,
            "id": row.agreement_id,
            "scope": w.t(f"report.scope.{row.scope}") if row.scope in SCOPES else row.scope,
            "valid_to": w.date(row.valid_to),
            "days": w.number(row.days_to_expiry),
            "at_stake": w.amount(row.trailing_12m_covered_spend),
            "on_agreement": w.amount(row.trailing_12m_on_agreement_spend),
            "volume": w.amount(row.estimated_annual_volume),
        }
        for row in frame.itertuples()
    ]


def _completeness(data: ReportData, names: dict[str, str], w: Writer) -> list[dict]:
    """Every member (also one without spend in the year) and the whole cooperation."""
    by_member = {row["municipality_id"]: row for row in data.completeness.to_dict("records")}
    rows = []
    for member_id in [*[m for m in names if m != ALL], ALL]:
        row = by_member.get(member_id)
        if row is None:
            rows.append(
                {
                    "label": names[member_id],
                    "is_all": member_id == ALL,
                    "months": w.t("report.months_of_twelve", months=0),
                    "period": MISSING,
                    "status": w.t("report.no_spend"),
                    "css": "missed",
                }
            )
            continue
        complete = bool(row["is_complete_year"])
        rows.append(
            {
                "label": names[member_id],
                "is_all": member_id == ALL,
                "months": w.t("report.months_of_twelve", months=int(row["months_with_spend"])),
                "period": f"{w.month(row['first_month'])} – {w.month(row['last_month'])}",
                "status": w.t("report.complete" if complete else "report.partial"),
                "css": "" if complete else "missed",
            }
        )
    return rows


def footer_template(data: ReportData, language: str) -> str:
    """Chromium's page footer: the cooperation and the report on the left, 'page n of m'
    on the right (Chromium fills the pageNumber and totalPages spans)."""
    title = translate("report.title", language, year=data.year)
    if not data.is_complete_year:  # on every page, not only the first
        title += f" ({translate('report.partial_year_badge', language).lower()})"
    left = html.escape(f"{data.cooperation['cooperation_name']} · {title}")
    page = translate(
        "report.page_of",
        language,
        page='<span class="pageNumber"></span>',
        pages='<span class="totalPages"></span>',
    )
    return (
        '<div style="font-family: DejaVu Sans, sans-serif; font-size: 7.5px; color: #555; '
        'width: 100%; margin: 0 15mm; display: flex; justify-content: space-between;">'
        f"<span>{left}</span><span>{page}</span></div>"
    )
