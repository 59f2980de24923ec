"""Load the agreement register, the reference data and the member list.

These are the host's own small files. A bad row here changes every figure, so it
stops the run with a message naming the file, the row and the field, instead of
being skipped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb

from pipelines.contracts import column_names
from pipelines.orgno import clean_org_no
from pipelines.settings import SEEDED_REFERENCE_DATASETS, Cooperation

SCOPES = ("national", "cooperation", "local")  # as in agreements.odcs.yaml
# Register columns added after the first version of the format: a file without them still
# loads (the value is then empty); a file with them gets them validated.
LATER_AGREEMENT_COLUMNS = ("estimated_annual_volume",)
MAX_AMOUNT = Decimal(10) ** 14  # raw.agreements.estimated_annual_volume is DECIMAL(18, 4)
RULE_TYPES = ("item_code", "supplier", "art")


class RegisterError(Exception):
    """A row of the agreement register or the reference data that cannot be used."""


@dataclass(frozen=True)
class Row:
    path: Path
    number: int  # the data row number, 1 = first row after the header
    values: dict[str, str]

    def fail(self, column: str, problem: str) -> RegisterError:
        return RegisterError(f"{self.path}: row {self.number}, column {column!r}: {problem}")

    def text(self, column: str, required: bool = True) -> str | None:
        value = (self.values.get(column) or "").strip()
        if required and not value:
            raise self.fail(column, "a value is required")
        return value or None

    def date(self, column: str) -> date:
        value = self.text(column)
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(column, f"{value!r} is not a date (YYYY-MM-DD)") from None

    def decimal(self, column: str, required: bool = True) -> Decimal | None:
        value = self.text(column, required)
        if value is None:
            return None
        try:
            return Decimal(value)
        except InvalidOperation:
            raise self.fail(column, f"{value!r} is not a number (use a decimal point)") from None

    def choice(self, column: str, allowed: tuple[str, ...]) -> str:
        value = self.text(column)
        if value not in allowed:
            raise self.fail(column, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def items(self, column: str, required: bool = True) -> list[str]:
        text = self.text(column, required) or ""
        return [item.strip() for item in text.split(";") if item.strip()]


def read_rows(
    path: Path, columns: tuple[str, ...], may_be_missing: tuple[str, ...] = ()
) -> Iterator[Row]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [
                c for c in columns if c not in (reader.fieldnames or []) and c not in may_be_missing
            ]
            if missing:
                raise RegisterError(
                    f"{path}: missing column {missing[0]!r} "
                    f"(expected columns: {', '.join(columns)})"
                )
            for number, values in enumerate(reader, start=1):
                if None in values:
                    raise RegisterError(f"{path}: row {number} has more fields than the header")
                yield Row(path, number, values)
    except UnicodeDecodeError:
        raise RegisterError(f"{path}: not UTF-8 text") from None
    except csv.Error as error:
        raise RegisterError(f"{path}: cannot be parsed: {error}") from None


def _replace(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    con.execute(f"DELETE FROM raw.{table}")
    if rows:
        placeholders = ", ".join("?" * len(rows[0]))
        con.executemany(f"INSERT INTO raw.{table} VALUES ({placeholders})", rows)


# --- agreements --------------------------------------------------------------------------


@dataclass
class AgreementTables:
    agreements: list[tuple]
    categories: list[tuple]
    suppliers: list[tuple]
    participants: list[tuple]
    # agreement suppliers that are neither a valid number nor a registered supplier_id
    invalid_supplier_numbers: list[str]
    # agreements that name no supplier yet: what they cover can never be on-agreement
    without_suppliers: list[str] = field(default_factory=list)


def read_agreements(cooperation: Cooperation) -> AgreementTables:
    tables = AgreementTables([], [], [], [], [])
    members = set(cooperation.member_ids)
    supplier_ids = _registered_supplier_ids(cooperation)
    seen: set[str] = set()
    for source in cooperation.agreements:
        if source.profile != "canonical":
            raise RegisterError(
                f"{source.where}.profile: agreement registers support only "
                f"the 'canonical' profile, not {source.profile!r}"
            )
        for path in source.files():
            for row in read_rows(path, column_names("agreements"), LATER_AGREEMENT_COLUMNS):
                _read_agreement(row, cooperation, members, supplier_ids, seen, tables)
    return tables


def _registered_supplier_ids(cooperation: Cooperation) -> frozenset[str]:
    """The supplier register's ids (imported here: that loader builds on this module)."""
    from pipelines.supplier_register_loader import registered_supplier_ids

    return registered_supplier_ids(cooperation)


def _read_agreement(
    row: Row,
    cooperation: Cooperation,
    members: set[str],
    supplier_ids: frozenset[str],
    seen: set[str],
    tables: AgreementTables,
) -> None:
    agreement_id = row.text("agreement_id")
    if agreement_id in seen:
        raise row.fail("agreement_id", f"{agreement_id!r} appears twice in the register")
    seen.add(agreement_id)
    valid_from, valid_to = row.date("valid_from"), row.date("valid_to")
    if valid_to < valid_from:
        raise row.fail("valid_to", f"{valid_to} is before valid_from {valid_from}")
    volume = row.decimal("estimated_annual_volume", False)
    if volume is not None and not (volume.is_finite() and 0 <= volume < MAX_AMOUNT):
        raise row.fail(
            "estimated_annual_volume", f"{volume} is not an amount from 0 up to {MAX_AMOUNT:,}"
        )
    tables.agreements.append(
        (  # in the column order of raw.agreements
            agreement_id,
            row.text("agreement_name", False),
            row.choice("scope", SCOPES),
            valid_from,
            valid_to,
            row.decimal("provision_rate", False),
            str(row.path),
            row.number,
            volume,
        )
    )
    categories = row.items("category_ids")
    if not categories:
        raise row.fail("category_ids", "an agreement needs at least one category")
    tables.categories += [(agreement_id, c) for c in dict.fromkeys(categories)]
    # a supplier is a valid organisation number or a supplier_id of the supplier register
    # (stg / int_agreement_suppliers resolves the id); anything else is reported
    suppliers = row.items("supplier_org_nos", required=False)  # optional in the contract
    if not suppliers:
        tables.without_suppliers.append(agreement_id)
    for raw in dict.fromkeys(suppliers):
        org_no = clean_org_no(raw, cooperation.country)
        tables.suppliers.append((agreement_id, raw, org_no.compact, org_no.is_valid))
        if not org_no.is_valid and raw not in supplier_ids:
            tables.invalid_supplier_numbers.append(f"{agreement_id}: {raw}")
    participants = row.items("participants")
    unknown = [p for p in participants if p != "*" and p not in members]
    if unknown:
        raise row.fail("participants", f"{unknown[0]!r} is not a member of the cooperation")
    if not participants:
        raise row.fail("participants", "list the member ids separated by ';', or '*' for all")
    tables.participants += [(agreement_id, p) for p in dict.fromkeys(participants)]


def load_agreements(con: duckdb.DuckDBPyConnection, cooperation: Cooperation) -> AgreementTables:
    tables = read_agreements(cooperation)
    _replace(con, "agreements", tables.agreements)
    _replace(con, "agreement_categories", tables.categories)
    _replace(con, "agreement_suppliers", tables.suppliers)
    _replace(con, "agreement_participants", tables.participants)
    return tables


# --- reference data ----------------------------------------------------------------------

_NAMING_SUPPLIERS = ("classification_rules", "excluded_suppliers")  # may name a supplier_id


@dataclass(frozen=True)
class _Context:
    cooperation: Cooperation
    supplier_ids: frozenset[str]  # of the supplier register

    def supplier_reference(self, row: Row, column: str) -> str:
        """A supplier as a rule names it: the validated organisation number, or a supplier_id
        of the supplier register as written."""
        value = row.text(column)
        org_no = clean_org_no(value, self.cooperation.country)
        if org_no.is_valid:
            return org_no.compact
        if value in self.supplier_ids:
            return value
        raise row.fail(
            column,
            f"{value!r} is neither a valid organisation number nor a supplier_id "
            "of the supplier register",
        )


def _taxonomy(row: Row, _: _Context) -> tuple:
    return (row.text("category_id"), row.text("category_name"), row.text("parent_id", False))


def _classification_rule(row: Row, context: _Context) -> tuple:
    rule_type = row.choice("rule_type", RULE_TYPES)
    pattern = row.text("pattern")
    if rule_type == "supplier":
        pattern = context.supplier_reference(row, "pattern")
    elif rule_type == "item_code":
        pattern = normalise_item_code(pattern)
    return (rule_type, pattern, row.text("category_id"))


def normalise_item_code(code: str) -> str:
    """CPV codes are written '30192000-1' or '3019 2000': keep the digits before the check."""
    return re.sub(r"\s", "", code).split("-")[0]


def _exchange_rate(row: Row, _: _Context) -> tuple:
    month = row.text("month")
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise row.fail("month", f"{month!r} is not a month (YYYY-MM)")
    rate = row.decimal("rate_to_base")
    if rate <= 0:
        raise row.fail("rate_to_base", f"{rate} must be positive")
    return (row.text("currency").upper(), month, rate)


def _excluded_supplier(row: Row, context: _Context) -> tuple:
    # an organisation number, or a supplier_id of the supplier register (kept as written:
    # int_excluded_suppliers resolves it); a number that is neither never matches a line
    raw = row.text("supplier_org_no")
    return (raw, clean_org_no(raw, context.cooperation.country).compact, row.text("reason", False))


def _kostra_art(row: Row, _: _Context) -> tuple:
    flag = row.choice("is_influenceable", ("true", "false"))
    return (row.text("art"), row.text("art_name"), flag == "true")


def _emission_factor(row: Row, _: _Context) -> tuple:
    factor = row.decimal("kg_co2e_per_currency_unit")
    if factor < 0:
        raise row.fail("kg_co2e_per_currency_unit", f"{factor} must not be negative")
    currency = row.text("currency")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise row.fail("currency", f"{currency!r} is not a 3-letter ISO 4217 code such as NOK")
    flag = row.choice("is_illustrative", ("true", "false"))
    return (row.text("category_id"), factor, currency, row.text("source"), flag == "true")


_REFERENCE_READERS: dict[str, Callable[[Row, _Context], tuple]] = {
    "taxonomy": _taxonomy,
    "classification_rules": _classification_rule,
    "exchange_rates": _exchange_rate,
    "excluded_suppliers": _excluded_supplier,
    "kostra_arts": _kostra_art,
    "emission_factors": _emission_factor,
}


def read_reference(path: Path, dataset: str, cooperation: Cooperation) -> list[tuple]:
    """Every row of one reference file, validated and converted; the first bad row stops."""
    convert = _REFERENCE_READERS[dataset]
    context = _Context(
        cooperation,
        _registered_supplier_ids(cooperation) if dataset in _NAMING_SUPPLIERS else frozenset(),
    )
    return [convert(row, context) for row in read_rows(path, column_names(dataset))]


def load_reference(con: duckdb.DuckDBPyConnection, cooperation: Cooperation) -> dict[str, int]:
    """Replace every reference table from the configured file or the shipped default.

    The seeded datasets (SEEDED_REFERENCE_DATASETS) are loaded into raw only when
    cooperation.yml configures a file for them; otherwise dbt reads the shipped seed
    and raw.<dataset> is emptied, so that nothing reads a stale copy.
    """
    counts: dict[str, int] = {}
    for dataset in _REFERENCE_READERS:
        if dataset in SEEDED_REFERENCE_DATASETS and dataset not in cooperation.reference:
            rows = []
        else:
            rows = read_reference(cooperation.reference_file(dataset), dataset, cooperation)
        _replace(con, dataset, rows)
        counts[dataset] = len(rows)
    _replace(
        con,
        "municipalities",
        [(m.id, m.name, m.population, m.id == cooperation.host) for m in cooperation.members],
    )
    _replace(
        con,
        "cooperation",
        [
            (
                cooperation.name,
                cooperation.country,
                cooperation.currency,
                cooperation.host,
                cooperation.loyalty_target,
                cooperation.coverage_target,
            )
        ],
    )
    counts["municipalities"] = len(cooperation.members)
    return counts
