"""Source profiles: how one ERP's export maps onto the standard spend fields.

A profile is YAML in `data_contracts/profiles/<name>.yaml` (or any path given in
cooperation.yml). It is validated on load; a wrong key names the file and the key.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from pipelines.contracts import column_names, required_names
from pipelines.settings import COUNTRIES, PROFILES_DIR, Folders
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
    "exclude_rows",
}
_CSV_KEYS = {
    "encoding",
    "delimiter",
    "quotechar",
    "decimal",
    "thousands",
    "header_row",
    "date_formats",
    "multiline_fields",
    "max_record_lines",
}
_XLSX_KEYS = {"sheet", "header_row", "date_formats", "decimal", "thousands"}


class ProfileError(Exception):
    """A source profile that cannot be used, with the file and key it concerns."""


# date directives of a fixed number of digits; `%-d` / `%-m` are the unpadded day / month
_DIGIT_DIRECTIVES = {"%d": 2, "%m": 2, "%Y": 4, "%y": 2, "%H": 2, "%M": 2, "%S": 2, "%j": 3}
_UNPADDED_DIRECTIVES = {"%-d": "%d", "%-m": "%m"}
_DIRECTIVE = re.compile(r"%-?[A-Za-z%]")
_ART = re.compile(r"\d{3}")


@dataclass(frozen=True)
class DateFormat:
    """One `date_formats` entry. `%-d` (`%-m`) reads a day (month) written without its
    leading zero. With separators (`%-d.%m.%Y`) any day of one or two digits reads; in a
    format of digits only (`%-d%m%Y`) the other parts have a fixed width, so a value one
    digit short gets its zero back where the unpadded part sits (`1102022` → `01102022`)."""

    written: str  # as the profile writes it (for messages)
    padded: str  # the same with zero-padded directives (what strptime reads)
    width: int | None = None  # digits-only formats: the digits of a complete value
    unpadded_at: int | None = None  # ... and where the unpadded part's zero goes

    @classmethod
    def parse(cls, path: Path, key: str, written: Any) -> DateFormat:
        if not isinstance(written, str) or "%" not in written:
            raise _fail(path, key, f"{written!r} is not a date format such as '%d.%m.%Y'")
        directives = _DIRECTIVE.findall(written)
        unknown = [d for d in directives if d.startswith("%-") and d not in _UNPADDED_DIRECTIVES]
        if unknown:
            raise _fail(
                path, key, f"{unknown[0]!r}: only %-d and %-m may be written without padding"
            )
        padded = written
        for unpadded, zero_padded in _UNPADDED_DIRECTIVES.items():
            padded = padded.replace(unpadded, zero_padded)
        _check_date_format(path, key, written, padded)
        unpadded = [d for d in directives if d in _UNPADDED_DIRECTIVES]
        digits_only = not _DIRECTIVE.sub("", written) and all(
            d in _DIGIT_DIRECTIVES or d in _UNPADDED_DIRECTIVES for d in directives
        )
        if not (unpadded and digits_only):
            return cls(written, padded)
        if len(unpadded) > 1:
            raise _fail(
                path,
                key,
                f"{written!r} has no separators and two unpadded parts: a value such as "
                "'1112022' would be ambiguous; pad one of them (e.g. %-d%m%Y)",
            )
        widths = [_DIGIT_DIRECTIVES[_UNPADDED_DIRECTIVES.get(d, d)] for d in directives]
        position = directives.index(unpadded[0])
        return cls(written, padded, sum(widths), sum(widths[:position]))


@dataclass(frozen=True)
class CsvDialect:
    encoding: str = "utf-8"
    delimiter: str = ","
    quotechar: str = '"'
    decimal: str = "."
    thousands: str | None = None
    header_row: int = 1
    date_formats: tuple[DateFormat, ...] = (DateFormat("%Y-%m-%d", "%Y-%m-%d"),)
    sheet: str | None = None  # xlsx: the sheet to read (default: the first)
    # csv: may a quoted field hold line breaks (one record over several lines)? With
    # true, a record still may not run over more than `max_record_lines` lines, nor
    # swallow a line that is a record of its own (pipelines/sources/csv_file.py)
    multiline_fields: bool = True
    max_record_lines: int = 20

    @property
    def lines_per_record(self) -> int:
        """The most physical lines one record may take."""
        return self.max_record_lines if self.multiline_fields else 1


@dataclass(frozen=True)
class Columns:
    """A source column, or alternatives (`[Directorate, Service]`): a file is read with the
    first one its header has, so a column renamed between deliveries needs no new profile."""

    names: tuple[str, ...]

    def pick(self, header: list[str]) -> str | None:
        return next((name for name in self.names if name in header), None)

    def __str__(self) -> str:
        return " or ".join(repr(name) for name in self.names)


@dataclass(frozen=True)
class FieldSource:
    """A standard field comes from a source column, a constant, or several columns joined
    (`concat: [Avdeling, Bilagsnr]` with `separator`, default '-')."""

    column: Columns | None = None
    constant: str | None = None
    concat: tuple[Columns, ...] = ()
    separator: str = "-"
    optional: bool = False  # the column may be absent from a file: the field is then empty


@dataclass(frozen=True)
class AmountRule:
    """How the source writes amounts: a sign column (debit/credit flag) whose listed values
    make the amount negative, and/or a VAT column to subtract from a gross amount."""

    sign_column: Columns | None = None
    negative_values: tuple[str, ...] = ()
    vat_column: Columns | None = None


@dataclass(frozen=True)
class ArtMapping:
    """One row of an `art.account_mapping` file: an account code (`account_is_prefix`: a
    prefix, written `12*`), optionally for one supplier only (its name or organisation
    number, compared without case), or a supplier alone (no account) → a KOSTRA art."""

    account: str | None
    account_is_prefix: bool
    supplier: str | None
    art: str

    @property
    def specificity(self) -> int:
        """Higher wins: an exact account, then the longest prefix, then no account."""
        if self.account is None:
            return 0
        return len(self.account) + (0 if self.account_is_prefix else 1_000_000)


@dataclass(frozen=True)
class ArtRule:
    """The KOSTRA art is a column, a slice of the local account (1-based start), or looked
    up in a mapping file (a foreign chart of accounts → arts, by code, prefix and supplier);
    `default` is the art of a line for which the rule finds none."""

    column: Columns | None = None
    account_start: int | None = None
    account_length: int = 3
    account_mapping: tuple[ArtMapping, ...] = ()
    default: str | None = None


@dataclass(frozen=True)
class Condition:
    """One test of one source column: `equals`, `one_of`, `not_one_of` (case and surrounding
    spaces ignored), `matches` (a regular expression, searched) or `empty` (true/false)."""

    column: Columns
    test: str
    values: tuple[str, ...] = ()  # `empty`: ('true',) or ('false',); `matches`: the pattern


@dataclass(frozen=True)
class RowFilter:
    """An `exclude_rows` entry: a row for which every condition holds is excluded (not
    spend: income, balance sheet ...); it is kept in raw.excluded_rows with `reason`."""

    conditions: tuple[Condition, ...]
    reason: str


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
    exclude_rows: tuple[RowFilter, ...] = ()

    def source_columns(self) -> list[tuple[str, Columns]]:
        """The columns every file must have, each with what it is for (for messages)."""
        columns = [
            (name, f.column) for name, f in self.fields.items() if f.column and not f.optional
        ]
        columns += [(name, c) for name, f in self.fields.items() for c in f.concat]
        columns += [
            (key, c)
            for key, c in (
                ("art.column", self.art.column),
                ("amount.sign_column", self.amount.sign_column),
                ("amount.vat_column", self.amount.vat_column),
            )
            if c
        ]
        columns += [
            (f"exclude_rows[{i}]", condition.column)
            for i, row_filter in enumerate(self.exclude_rows)
            for condition in row_filter.conditions
        ]
        return columns


def resolve_profile_path(reference: str, base_dir: Path) -> Path:
    """`canonical` → data_contracts/profiles/canonical.yaml; a *.yaml name → a path."""
    if reference.endswith((".yaml", ".yml")):
        return (base_dir / reference).resolve()
    return PROFILES_DIR / f"{reference}.yaml"


def load_profile(reference: str, base_dir: Path, folders: Folders | None = None) -> SourceProfile:
    """`folders`: where a profile file and its mapping file may be read from (default:
    `base_dir`); the shipped profiles always may."""
    folders = folders or Folders(base_dir.resolve())
    named = base_dir / reference
    reason = folders.problem(named, platform=True) if named.suffix in (".yaml", ".yml") else None
    if reason:
        raise ProfileError(f"profile {reference!r}: {os.path.abspath(named)} {reason}")
    path = resolve_profile_path(reference, base_dir)
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
        raise ProfileError(f"profile {reference!r}: no file {path} (known profiles: {known})")
    try:
        document = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ProfileError(f"{path}: not valid YAML: {error}") from None
    return _parse(path, document, folders)


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


def _parse(path: Path, document: Any, folders: Folders | None = None) -> SourceProfile:
    doc = _check_keys(path, "top level", document, _PROFILE_KEYS)
    fmt = doc.get("format", "csv")
    if fmt not in FORMATS:
        raise _fail(path, "format", f"{fmt!r} is not supported (supported: {', '.join(FORMATS)})")
    country = doc.get("country")
    if country is not None and country not in COUNTRIES:
        raise _fail(path, "country", f"{country!r} is not one of {', '.join(COUNTRIES)}")
    fields = _fields(path, doc.get("fields"), fmt)
    art = _art(path, doc.get("art"), fields, folders)
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
        exclude_rows=_exclude_rows(path, doc.get("exclude_rows")),
    )


def _dialect(path: Path, value: Any, section: str, keys: set[str]) -> CsvDialect:
    entry = _check_keys(path, section, value, keys)
    formats = entry.get("date_formats", ["%Y-%m-%d"])
    if not isinstance(formats, list) or not formats:
        raise _fail(path, f"{section}.date_formats", "expected a list, e.g. ['%d.%m.%Y']")
    dialect = CsvDialect(
        **{k: v for k, v in entry.items() if k != "date_formats"},
        date_formats=tuple(
            DateFormat.parse(path, f"{section}.date_formats[{i}]", written)
            for i, written in enumerate(formats)
        ),
    )
    for key in ("delimiter", "quotechar", "decimal"):
        if len(getattr(dialect, key)) != 1:
            raise _fail(path, f"csv.{key}", "must be a single character")
    if not isinstance(dialect.header_row, int) or dialect.header_row < 1:
        raise _fail(path, "csv.header_row", "must be a line number ≥ 1")
    if not isinstance(dialect.multiline_fields, bool):
        raise _fail(path, "csv.multiline_fields", "expected true or false")
    if (
        isinstance(dialect.max_record_lines, bool)
        or not isinstance(dialect.max_record_lines, int)
        or dialect.max_record_lines < 2
    ):
        raise _fail(path, "csv.max_record_lines", "must be a whole number of lines ≥ 2")
    try:
        "".encode(dialect.encoding)
    except LookupError:
        raise _fail(path, "csv.encoding", f"unknown encoding {dialect.encoding!r}") from None
    return dialect


def _columns(path: Path, key: str, value: Any) -> Columns:
    """A column name, or a list of alternative names (the first one a file has is read)."""
    names = value if isinstance(value, list) else [value]
    if isinstance(value, list) and len(value) < 2:
        raise _fail(path, key, "list at least two alternative column names, e.g. [Dato, Date]")
    for name in names:
        if isinstance(name, bool) or not isinstance(name, str | int) or not str(name).strip():
            raise _fail(path, key, f"{name!r} is not a column name")
    texts = tuple(str(name).strip() for name in names)
    repeated = [name for i, name in enumerate(texts) if name in texts[:i]]
    if repeated:
        raise _fail(path, key, f"column {repeated[0]!r} is listed twice")
    return Columns(texts)


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
            column=None
            if spec.get("column") is None
            else _columns(path, f"fields.{name}.column", spec["column"]),
            constant=None if spec.get("constant") is None else str(spec["constant"]),
            concat=tuple(
                _columns(path, f"fields.{name}.concat[{i}]", c) for i, c in enumerate(concat)
            ),
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
        sign_column=None
        if entry.get("sign_column") is None
        else _columns(path, "amount.sign_column", entry["sign_column"]),
        negative_values=tuple(str(v) for v in negative),
        vat_column=None
        if entry.get("vat_column") is None
        else _columns(path, "amount.vat_column", entry["vat_column"]),
    )


def _art(
    path: Path, value: Any, fields: dict[str, FieldSource], folders: Folders | None = None
) -> ArtRule:
    entry = _check_keys(
        path, "art", value or {}, {"column", "from_account", "account_mapping", "default"}
    )
    ways = sorted(set(entry) & {"column", "from_account", "account_mapping"})
    if len(ways) > 1:
        raise _fail(path, "art", f"give one of column, from_account or account_mapping, not {ways}")
    default = None
    if "default" in entry:
        default = entry["default"]
        if not isinstance(default, str) or not _ART.fullmatch(default):
            raise _fail(
                path, "art.default", f"{default!r} is not a 3-digit KOSTRA art in quotes: '120'"
            )
    if "column" in entry:
        return ArtRule(column=_columns(path, "art.column", entry["column"]), default=default)
    if "account_mapping" in entry:
        mapping = _read_mapping(path, entry["account_mapping"], folders)
        if any(m.account is not None for m in mapping) and "account" not in fields:
            raise _fail(path, "art.account_mapping", "needs fields.account to be mapped")
        if any(m.supplier is not None for m in mapping) and not (
            {"supplier_name", "supplier_org_no"} & set(fields)
        ):
            raise _fail(
                path,
                "art.account_mapping",
                "its supplier column needs fields.supplier_name or fields.supplier_org_no",
            )
        return ArtRule(account_mapping=mapping, default=default)
    if "from_account" in entry:
        rule = _check_keys(path, "art.from_account", entry["from_account"], {"start", "length"})
        if "account" not in fields:
            raise _fail(path, "art.from_account", "needs fields.account to be mapped")
        start, length = rule.get("start"), rule.get("length", 3)
        if not isinstance(start, int) or start < 1 or not isinstance(length, int) or length < 1:
            raise _fail(path, "art.from_account", "start and length must be whole numbers ≥ 1")
        return ArtRule(account_start=start, account_length=length, default=default)
    return ArtRule(default=default)


def supplier_key(text: str | None) -> str | None:
    """How a mapping row's supplier is compared with a line's supplier name or number:
    without case, surrounding spaces or runs of spaces."""
    key = " ".join((text or "").split()).lower()
    return key or None


def _read_mapping(
    profile_path: Path, value: Any, folders: Folders | None = None
) -> tuple[ArtMapping, ...]:
    """A CSV file beside the profile: `account,art` and optionally `supplier` (other columns,
    such as a note, are for people). `account` is a code, or a prefix written `12*`. It must
    be inside `folders` (or the shipped profiles' folder), reached without a refused link."""
    key = "art.account_mapping"
    named = profile_path.parent / str(value)
    reason = (folders or Folders(profile_path.parent)).problem(named, platform=True)
    if reason:
        raise _fail(profile_path, key, f"{os.path.abspath(named)} {reason}")
    mapping_path = named.resolve()
    if not mapping_path.is_file():
        raise _fail(profile_path, key, f"file not found: {mapping_path}")
    name = mapping_path.name
    with open(mapping_path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not {"account", "art"} <= set(reader.fieldnames or []):
            raise _fail(profile_path, key, f"{name} needs the columns account,art (and supplier)")
        rows: dict[tuple[str | None, bool, str | None], ArtMapping] = {}
        for number, row in enumerate(reader, start=1):
            account = (row["account"] or "").strip() or None
            supplier = (row.get("supplier") or "").strip() or None
            art = (row["art"] or "").strip()
            where = f"{name} row {number}"
            if not art or (account is None and supplier is None):
                raise _fail(
                    profile_path, key, f"{where}: art and an account or a supplier are required"
                )
            if not _ART.fullmatch(art):
                raise _fail(profile_path, key, f"{where}: art {art!r} is not a 3-digit KOSTRA art")
            prefix = account is not None and account.endswith("*")
            if prefix:
                account = account[:-1]
            if account is not None and (not account or "*" in account):
                raise _fail(
                    profile_path,
                    key,
                    f"{where}: {row['account'].strip()!r}: '*' may only end a prefix such as "
                    "'12*' (for every account, use art.default)",
                )
            entry = ArtMapping(account, prefix, supplier, art)
            earlier = rows.setdefault((account, prefix, supplier_key(supplier)), entry)
            if earlier.art != art:
                what = f"account {row['account'].strip()!r}" if account else ""
                what += " with " if account and supplier else ""
                what += f"supplier {supplier!r}" if supplier else ""
                raise _fail(
                    profile_path, key, f"{where}: {what} is mapped twice ({earlier.art} and {art})"
                )
    return tuple(rows.values())


_TESTS = ("equals", "one_of", "not_one_of", "matches", "empty")


def _exclude_rows(path: Path, value: Any) -> tuple[RowFilter, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(path, "exclude_rows", "expected a list of {column, <test>, reason} entries")
    filters = []
    for i, item in enumerate(value):
        where = f"exclude_rows[{i}]"
        entry = _check_keys(path, where, item, {"column", "all", "reason", *_TESTS})
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise _fail(path, f"{where}.reason", "say why these rows are left out, e.g. 'income'")
        if "all" in entry:
            if set(entry) - {"all", "reason"}:
                raise _fail(path, where, "give either 'all' or one condition, not both")
            conditions = entry["all"]
            if not isinstance(conditions, list) or not conditions:
                raise _fail(path, f"{where}.all", "expected a list of conditions")
            parsed = tuple(
                _condition(path, f"{where}.all[{j}]", c, allowed={"column", *_TESTS})
                for j, c in enumerate(conditions)
            )
        else:
            parsed = (_condition(path, where, entry, allowed={"column", "reason", *_TESTS}),)
        filters.append(RowFilter(parsed, reason.strip()))
    return tuple(filters)


def _condition(path: Path, where: str, value: Any, allowed: set[str]) -> Condition:
    entry = _check_keys(path, where, value, allowed)
    if "column" not in entry:
        raise _fail(path, where, "name the source column the condition tests ('column')")
    tests = [t for t in _TESTS if t in entry]
    if len(tests) != 1:
        raise _fail(path, where, f"give exactly one test of {', '.join(_TESTS)}")
    test, argument = tests[0], entry[tests[0]]
    column = _columns(path, f"{where}.column", entry["column"])
    if test == "empty":
        if not isinstance(argument, bool):
            raise _fail(path, f"{where}.empty", "expected true or false")
        return Condition(column, test, (str(argument).lower(),))
    values = argument if test in ("one_of", "not_one_of") else [argument]
    if test in ("one_of", "not_one_of") and (not isinstance(argument, list) or not argument):
        raise _fail(path, f"{where}.{test}", "expected a list of values, e.g. [Income, Sales]")
    for text in values:
        if not isinstance(text, str):
            raise _fail(path, f"{where}.{test}", f"write {text!r} in quotes: values are text")
    if test == "matches":
        _check_pattern(path, f"{where}.matches", argument)
    return Condition(column, test, tuple(values))


def _check_date_format(path: Path, key: str, written: str, padded: str) -> None:
    """Dates are read in DuckDB (try_strptime): the format is checked by the same engine, so
    that a format it cannot use is a profile error, not a failed load."""
    con = duckdb.connect()
    try:
        con.execute("SELECT try_strptime('', ?)", [padded])
    except duckdb.Error as error:
        problem = str(error).splitlines()[0].split(": ", 1)[-1]
        raise _fail(path, key, f"{written!r} is not a date format: {problem}") from None
    finally:
        con.close()


def _check_pattern(path: Path, key: str, pattern: str) -> None:
    """Rows are tested in DuckDB (RE2 syntax): the pattern is checked by the same engine."""
    con = duckdb.connect()
    try:
        con.execute("SELECT regexp_matches('', ?)", [pattern])
    except duckdb.Error as error:
        raise _fail(path, key, f"{pattern!r} is not a valid regular expression: {error}") from None
    finally:
        con.close()
