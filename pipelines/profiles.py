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
FORMATS = ("csv",)

_PROFILE_KEYS = {"profile", "description", "format", "csv", "country", "currency", "fields", "art"}
_CSV_KEYS = {"encoding", "delimiter", "quotechar", "decimal", "thousands", "header_row",
             "date_formats"}


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


@dataclass(frozen=True)
class FieldSource:
    """A standard field comes from a source column or is a constant."""

    column: str | None = None
    constant: str | None = None


@dataclass(frozen=True)
class ArtRule:
    """The KOSTRA art is a column, or a slice of the local account (1-based start)."""

    column: str | None = None
    account_start: int | None = None
    account_length: int = 3


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

    def source_columns(self) -> list[str]:
        columns = [f.column for f in self.fields.values() if f.column]
        if self.art.column:
            columns.append(self.art.column)
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
    fields = _fields(path, doc.get("fields"))
    art = _art(path, doc.get("art"), fields)
    return SourceProfile(
        name=str(doc.get("profile") or path.stem),
        path=path,
        description=str(doc.get("description") or ""),
        format=fmt,
        csv=_dialect(path, doc.get("csv") or {}),
        country=country,
        currency=doc.get("currency"),
        fields=fields,
        art=art,
    )


def _dialect(path: Path, value: Any) -> CsvDialect:
    entry = _check_keys(path, "csv", value, _CSV_KEYS)
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


def _fields(path: Path, value: Any) -> dict[str, FieldSource]:
    entries = _check_keys(path, "fields", value, set(SPEND_FIELDS) - {"art"})
    fields: dict[str, FieldSource] = {}
    for name, spec in entries.items():
        spec = _check_keys(path, f"fields.{name}", spec, {"column", "constant"})
        if len(spec) != 1:
            raise _fail(path, f"fields.{name}", "give exactly one of 'column' or 'constant'")
        fields[name] = FieldSource(
            column=None if spec.get("column") is None else str(spec["column"]),
            constant=None if spec.get("constant") is None else str(spec["constant"]),
        )
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if missing:
        raise _fail(path, "fields", f"required field {missing[0]!r} is not mapped")
    return fields


def _art(path: Path, value: Any, fields: dict[str, FieldSource]) -> ArtRule:
    entry = _check_keys(path, "art", value or {}, {"column", "from_account"})
    if "column" in entry:
        return ArtRule(column=str(entry["column"]))
    if "from_account" in entry:
        rule = _check_keys(path, "art.from_account", entry["from_account"], {"start", "length"})
        if "account" not in fields:
            raise _fail(path, "art.from_account", "needs fields.account to be mapped")
        start, length = rule.get("start"), rule.get("length", 3)
        if not isinstance(start, int) or start < 1 or not isinstance(length, int) or length < 1:
            raise _fail(path, "art.from_account", "start and length must be whole numbers ≥ 1")
        return ArtRule(account_start=start, account_length=length)
    return ArtRule()
