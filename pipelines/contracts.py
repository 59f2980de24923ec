"""The data contracts (`data_contracts/*.odcs.yaml`, Open Data Contract Standard v3).

The loaders take their column lists and required fields from here, so that the
contract a member reads is the rule the platform applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pipelines.settings import CONTRACTS_DIR
from pipelines.yaml_loader import load_yaml


@dataclass(frozen=True)
class ContractColumn:
    name: str
    logical_type: str
    required: bool
    description: str
    pattern: str | None = None
    valid_values: tuple[str, ...] = ()


@cache
def contract_columns(dataset: str) -> tuple[ContractColumn, ...]:
    document = load_yaml((CONTRACTS_DIR / f"{dataset}.odcs.yaml").read_text(encoding="utf-8"))
    (table,) = document["schema"]
    return tuple(_column(prop) for prop in table["properties"])


def _column(prop: dict) -> ContractColumn:
    valid_values: tuple[str, ...] = ()
    for rule in prop.get("quality") or []:
        if rule.get("rule") == "validValues":
            valid_values = tuple(str(v) for v in rule["validValues"])
    return ContractColumn(
        name=prop["name"],
        logical_type=prop["logicalType"],
        required=bool(prop.get("required")),
        description=prop.get("description", ""),
        pattern=(prop.get("logicalTypeOptions") or {}).get("pattern"),
        valid_values=valid_values,
    )


def column_names(dataset: str) -> tuple[str, ...]:
    return tuple(c.name for c in contract_columns(dataset))


def required_names(dataset: str) -> tuple[str, ...]:
    return tuple(c.name for c in contract_columns(dataset) if c.required)
