"""What each exported column is: its header in the reader's language, its unit and number
format, what it means and the BRIEF §4 rule it implements.

Meanings are read from the dbt YAML of the mart (dbt_project/models/marts/**/_*.yml), the
one place the models are described; pipelines/export_columns.yaml holds the headers, the
units a column's type does not tell, the rules, and the meanings dbt does not have."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from dashboards.i18n import LANGUAGES
from pipelines.settings import DBT_PROJECT_DIR

CATALOGUE_FILE = Path(__file__).with_name("export_columns.yaml")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the models' YAML is long
MARTS_DIR = DBT_PROJECT_DIR / "models" / "marts"

# unit -> (Excel number format, with {currency} for the cooperation's; words for Definitions)
UNITS: dict[str, tuple[str | None, str]] = {
    "amount": ('#,##0.00 "{currency}"', "amount in {currency}, net of VAT"),
    "price": ('#,##0.00#### "{currency}"', "price per unit in {currency}, net of VAT"),
    "ratio": ("0.0%", "share (a fraction shown as a percentage)"),
    "count": ("#,##0", "count"),
    "integer": ("0", "whole number"),
    "year": ("0", "year"),
    "id": ("0", "identifier (a number)"),
    "days": ("0", "days"),
    "number": ("#,##0.00####", "number"),
    "kg": ('#,##0.00 "kg"', "kilograms CO2e"),
    "tonnes": ('#,##0.000 "t"', "tonnes CO2e"),
    "date": ("yyyy-mm-dd", "date"),
    "timestamp": ("yyyy-mm-dd hh:mm:ss", "date and time"),
    "flag": (None, "TRUE / FALSE"),
    "text": (None, "text"),
}


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    unit: str
    labels: dict[str, str]
    meaning: str
    rule: str

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.name

    def number_format(self, currency: str) -> str | None:
        pattern = UNITS[self.unit][0]
        return pattern.format(currency=_format_literal(currency)) if pattern else None

    def unit_words(self, currency: str) -> str:
        return UNITS[self.unit][1].format(currency=currency)


def _format_literal(text: str) -> str:
    """A currency code inside a quoted Excel format literal."""
    return text.replace('"', "")


@cache
def _catalogue() -> dict:
    data = yaml.load(CATALOGUE_FILE.read_text(encoding="utf-8"), Loader=_LOADER) or {}
    for name, labels in (data.get("labels") or {}).items():
        if not isinstance(labels, list) or len(labels) != len(LANGUAGES):
            raise ValueError(
                f"{CATALOGUE_FILE}: labels.{name}: give one header per language "
                f"({', '.join(LANGUAGES)})"
            )
    for name, unit in (data.get("units") or {}).items():
        if unit not in UNITS:
            raise ValueError(
                f"{CATALOGUE_FILE}: units.{name}: {unit!r} is not one of {', '.join(UNITS)}"
            )
    return data


@cache
def dbt_descriptions() -> dict[tuple[str, str], str]:
    """(model, column) -> description, from the marts' YAML files."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted(MARTS_DIR.rglob("_*.yml")):
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
        for model in document.get("models") or []:
            for column in model.get("columns") or []:
                text = " ".join(str(column.get("description") or "").split())
                if text:
                    found[(model["name"], column["name"])] = text
    return found


def _inferred_unit(name: str, sql_type: str) -> str:
    kind = sql_type.upper()
    if kind.startswith("DECIMAL") or kind in ("HUGEINT",):
        return "amount"
    if kind in ("DOUBLE", "FLOAT", "REAL"):
        return "ratio"
    if kind in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER"):
        return "count"
    if kind == "DATE":
        return "date"
    if kind.startswith("TIMESTAMP"):
        return "timestamp"
    if kind == "BOOLEAN":
        return "flag"
    return "text"


def column(mart: str, name: str, sql_type: str, source: str | None = None) -> Column:
    """Everything the exports say of `mart`.`name` (a column of SQL type `sql_type`). For a
    council view (pipelines.export.COUNCIL_VIEWS) `mart` is the view's name, whose `tables:`
    entry overrides, and `source` the mart it reads, whose dbt descriptions come next."""
    data = _catalogue()
    override = ((data.get("tables") or {}).get(mart) or {}).get(name) or {}
    labels = override.get("labels") or (data.get("labels") or {}).get(name)
    if labels is not None and (not isinstance(labels, list) or len(labels) != len(LANGUAGES)):
        raise ValueError(
            f"{CATALOGUE_FILE}: tables.{mart}.{name}.labels: give one header per language "
            f"({', '.join(LANGUAGES)})"
        )
    descriptions = dbt_descriptions()
    meaning = (
        override.get("meaning")
        or descriptions.get((mart, name))
        or (descriptions.get((source, name)) if source else None)
        or (data.get("meanings") or {}).get(name)
        or next((text for (_, other), text in sorted(descriptions.items()) if other == name), "")
    )
    return Column(
        name=name,
        sql_type=sql_type,
        unit=override.get("unit")
        or (data.get("units") or {}).get(name)
        or _inferred_unit(name, sql_type),
        labels=dict(zip(LANGUAGES, labels, strict=True)) if labels else {},
        meaning=meaning,
        rule=override.get("rule") or (data.get("rules") or {}).get(name) or "",
    )
