"""Source profiles: how one ERP's export maps onto the standard spend fields.

A profile is YAML in `data_contracts/profiles/<name>.yaml` (or any path given in
cooperation.yml). It is validated on load; a wrong key names the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipelines.contracts import column_names, required_names
from pipelines.settings import COUNTRIES, PROFILES_DIR
from pipelines.yaml_loader import load_yaml

SPEND_FIELDS = column_names("spend")
REQUIRED_FIELDS = required_names("spend")
FORMATS = ("csv", "xlsx", "ehf", "saf-t")
# formats whose reader emits the standard field names: `fields` may be left out
SELF_DESCRIBING_FORMATS = ("ehf", "saf-t")

_PROFILE_KEYS = {
    "profile",
    "description",
    "format",
    "csv",
    "xlsx",
    "country",
    "currency",
    "fields",
    "art",
    "amount",
}
_CSV_KEYS = {
    "encoding",
    "delimiter",
    "quotechar",
    "decimal",
    "thousands",
    "header_row",
    "date_formats",
}
_XLSX_KEYS = {"sheet", "header_row", "date_formats", "decimal", "thousands"}


class ProfileError(Exception):
    """A source profile that cannot be used, with the file and key it concerns."""


@dataclass(frozen=True)
class CsvDialect:
    encoding: str = "utf-8"
    delimiter: str = ","
    quotechar: str = '"'
    decimal: str = "."
    thousands: str | None = None
    header_row: int = 1
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    sheet: str | None = None  # xlsx: the sheet to read (default: the first)


@dataclass(frozen=True)
class FieldSource:
    """A standard field comes from a source column, a constant, or several columns joined
    (`concat: [Avdeling, Bilagsnr]` with `separator`, default '-')."""

    column: str | None = None
    constant: str | None = None
    concat: tuple[str, ...] = ()
    separator: str = "-"
    optional: bool = False  # the column may be absent from a file: the field is then empty


@dataclass(frozen=True)
class AmountRule:
    """How the source writes amounts: a sign column (debit/credit flag) whose listed values
    make the amount negative, and/or a VAT column to subtract from a gross amount."""

    sign_column: str | None = None
    negative_values: tuple[str, ...] = ()
    vat_column: str | None = None


@dataclass(frozen=True)
class ArtRule:
    """The KOSTRA art is a column, a slice of the local account (1-based start), or looked
    up from the account in a mapping file (a foreign chart of accounts → arts)."""

    column: str | None = None
    account_start: int | None = None
    account_length: int = 3
    account_mapping: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SourceProfile:
    name: str
    path: Path
    description: str
    format: str
    csv: CsvDialect
    country: str | None
    currency: str | None
    fields: dict[str, FieldSource]
    art: ArtRule
    amount: AmountRule = AmountRule()

    def source_columns(self) -> list[str]:
        columns = [f.column for f in self.fields.values() if f.column and not f.optional]
        columns += [c for f in self.fields.values() for c in f.concat]
        columns += [
            c for c in (self.art.column, self.amount.sign_column, self.amount.vat_column) if c
        ]
        return list(dict.fromkeys(columns))


def resolve_profile_path(reference: str, base_dir: Path) -> Path:
    """`canonical` → data_contracts/profiles/canonical.yaml; a *.yaml name → a path."""
    if reference.endswith((".yaml", ".yml")):
        return (base_dir / reference).resolve()
    return PROFILES_DIR / f"{reference}.yaml"


def load_profile(reference: str, base_dir: Path) -> SourceProfile:
    path = resolve_profile_path(reference, base_dir)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
        raise ProfileError(f"profile {reference!r}: no file {path} (known profiles: {known})")
    try:
        document = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ProfileError(f"{path}: not valid YAML: {error}") from None
    return _parse(path, document)


def _fail(path: Path, key: str, problem: str) -> ProfileError:
    return ProfileError(f"{path}: {key}: {problem}")


def _check_keys(path: Path, where: str, value: Any, allowed: set[str]) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, where, "expected a mapping")
    unknown = sorted(set(value) - allowed)
    if unknown:
        allowed_keys = ", ".join(sorted(allowed))
        raise _fail(path, where, f"unknown key {unknown[0]!r} (allowed: {allowed_keys})")
    return value


def _parse(path: Path, document: Any) -> SourceProfile:
    doc = _check_keys(path, "top level", document, _PROFILE_KEYS)
    fmt = doc.get("format", "csv")
    if fmt not in FORMATS:
        raise _fail(path, "format", f"{fmt!r} is not supported (supported: {', '.join(FORMATS)})")
    country = doc.get("country")
    if country is not None and country not in COUNTRIES:
        raise _fail(path, "country", f"{country!r} is not one of {', '.join(COUNTRIES)}")
    fields = _fields(path, doc.get("fields"), fmt)
    art = _art(path, doc.get("art"), fields)
    section = "xlsx" if fmt == "xlsx" else "csv"
    dialect_keys = _XLSX_KEYS if fmt == "xlsx" else _CSV_KEYS
    return SourceProfile(
        name=str(doc.get("profile") or path.stem),
        path=path,
        description=str(doc.get("description") or ""),
        format=fmt,
        csv=_dialect(path, doc.get(section) or {}, section, dialect_keys),
        country=country,
        currency=doc.get("currency"),
        fields=fields,
        art=art,
        amount=_amount(path, doc.get("amount")),
    )


def _dialect(path: Path, value: Any, section: str, keys: set[str]) -> CsvDialect:
    entry = _check_keys(path, section, value, keys)
    dialect = CsvDialect(
        **{k: v for k, v in entry.items() if k != "date_formats"},
        **({"date_formats": tuple(entry["date_formats"])} if "date_formats" in entry else {}),
    )
    for key in ("delimiter", "quotechar", "decimal"):
        if len(getattr(dialect, key)) != 1:
            raise _fail(path, f"csv.{key}", "must be a single character")
    if not isinstance(dialect.header_row, int) or dialect.header_row < 1:
        raise _fail(path, "csv.header_row", "must be a line number ≥ 1")
    try:
        "".encode(dialect.encoding)
    except LookupError:
        raise _fail(path, "csv.encoding", f"unknown encoding {dialect.encoding!r}") from None
    return dialect


def _fields(path: Path, value: Any, fmt: str) -> dict[str, FieldSource]:
    if value is None and fmt in SELF_DESCRIBING_FORMATS:  # the reader emits what it has
        value = {
            name: {"column": name}
            if name in REQUIRED_FIELDS
            else {"column": name, "optional": True}
            for name in SPEND_FIELDS
            if name != "art"
        }
    entries = _check_keys(path, "fields", value, set(SPEND_FIELDS) - {"art"})
    fields: dict[str, FieldSource] = {}
    for name, spec in entries.items():
        spec = _check_keys(
            path, f"fields.{name}", spec, {"column", "constant", "concat", "separator", "optional"}
        )
        if len(set(spec) & {"column", "constant", "concat"}) != 1:
            raise _fail(
                path, f"fields.{name}", "give exactly one of 'column', 'constant' or 'concat'"
            )
        concat = spec.get("concat") or []
        if "concat" in spec and (not isinstance(concat, list) or len(concat) < 2):
            raise _fail(path, f"fields.{name}.concat", "list at least two columns")
        fields[name] = FieldSource(
            column=None if spec.get("column") is None else str(spec["column"]),
            constant=None if spec.get("constant") is None else str(spec["constant"]),
            concat=tuple(str(c) for c in concat),
            separator=str(spec.get("separator", "-")),
            optional=_optional(path, name, spec),
        )
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if missing:
        raise _fail(path, "fields", f"required field {missing[0]!r} is not mapped")
    return fields


def _optional(path: Path, name: str, spec: dict) -> bool:
    optional = spec.get("optional", False)
    if not isinstance(optional, bool):
        raise _fail(path, f"fields.{name}.optional", "expected true or false")
    if optional and (name in REQUIRED_FIELDS or "column" not in spec):
        raise _fail(
            path,
            f"fields.{name}.optional",
            "only a column of a field that is not required can be optional",
        )
    return optional


def _amount(path: Path, value: Any) -> AmountRule:
    entry = _check_keys(
        path, "amount", value or {}, {"sign_column", "negative_values", "vat_column"}
    )
    if ("sign_column" in entry) != ("negative_values" in entry):
        raise _fail(path, "amount", "sign_column and negative_values go together")
    negative = entry.get("negative_values") or []
    if not isinstance(negative, list):
        raise _fail(path, "amount.negative_values", "expected a list of values, e.g. [K, Kredit]")
    return AmountRule(
        sign_column=None if entry.get("sign_column") is None else str(entry["sign_column"]),
        negative_values=tuple(str(v) for v in negative),
        vat_column=None if entry.get("vat_column") is None else str(entry["vat_column"]),
    )


def _art(path: Path, value: Any, fields: dict[str, FieldSource]) -> ArtRule:
    entry = _check_keys(path, "art", value or {}, {"column", "from_account", "account_mapping"})
    if "column" in entry:
        return ArtRule(column=str(entry["column"]))
    if "account_mapping" in entry:
        if "account" not in fields:
            raise _fail(path, "art.account_mapping", "needs fields.account to be mapped")
        return ArtRule(account_mapping=_read_mapping(path, entry["account_mapping"]))
    if "from_account" in entry:
        rule = _check_keys(path, "art.from_account", entry["from_account"], {"start", "length"})
        if "account" not in fields:
            raise _fail(path, "art.from_account", "needs fields.account to be mapped")
        start, length = rule.get("start"), rule.get("length", 3)
        if not isinstance(start, int) or start < 1 or not isinstance(length, int) or length < 1:
            raise _fail(path, "art.from_account", "start and length must be whole numbers ≥ 1")
        return ArtRule(account_start=start, account_length=length)
    return ArtRule()


def _read_mapping(profile_path: Path, value: Any) -> tuple[tuple[str, str], ...]:
    """A CSV file `account,art` beside the profile: the source's code → KOSTRA art."""
    import csv

    mapping_path = (profile_path.parent / str(value)).resolve()
    if not mapping_path.is_file():
        raise _fail(profile_path, "art.account_mapping", f"file not found: {mapping_path}")
    with open(mapping_path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not {"account", "art"} <= set(reader.fieldnames or []):
            raise _fail(
                profile_path,
                "art.account_mapping",
                f"{mapping_path.name} needs the columns account,art",
            )
        pairs = {}
        for number, row in enumerate(reader, start=1):
            account, art = (row["account"] or "").strip(), (row["art"] or "").strip()
            if not account or not art:
                raise _fail(
                    profile_path,
                    "art.account_mapping",
                    f"{mapping_path.name} row {number}: account and art are required",
                )
            if pairs.setdefault(account, art) != art:
                raise _fail(
                    profile_path,
                    "art.account_mapping",
                    f"{mapping_path.name}: account {account!r} is mapped twice",
                )
    return tuple(sorted(pairs.items()))
