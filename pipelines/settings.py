"""One cooperation's configuration (`cooperation.yml`) and the paths derived from it.

Everything environment-specific is decided here: the config file comes from the
`SAMKJOP_CONFIG` environment variable (the CLI sets it), the warehouse, snapshot,
dbt target and Dagster home are derived from the config file's folder.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipelines.yaml_loader import load_yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
CONTRACTS_DIR = PROJECT_ROOT / "data_contracts"
PROFILES_DIR = CONTRACTS_DIR / "profiles"
# The shipped reference defaults: the datasets dbt reads as seeds live in the dbt
# project's seeds/ (dbt_project/seeds/README.md); the two the Python loader always
# loads (an organisation-number check, rates as facts) stay in reference_defaults/.
REFERENCE_DEFAULTS_DIR = Path(__file__).resolve().parent / "reference_defaults"
REFERENCE_SEEDS_DIR = DBT_PROJECT_DIR / "seeds"

CONFIG_ENV_VAR = "SAMKJOP_CONFIG"
# GB: UK councils (real public data onboarding); its company numbers are checked by their
# format only (no library validates them), see pipelines/orgno.py
COUNTRIES = ("NO", "DK", "SE", "FI", "GB")
REFERENCE_DATASETS = (
    "taxonomy",
    "classification_rules",
    "exchange_rates",
    "excluded_suppliers",
    "kostra_arts",
    "emission_factors",
)
# Shipped as dbt seeds; when cooperation.yml configures one, it is loaded into raw.<dataset>
# and dbt reads that instead (var reference_overrides).
SEEDED_REFERENCE_DATASETS = ("taxonomy", "classification_rules", "kostra_arts", "emission_factors")
DEFAULT_DUPLICATE_WINDOW_DAYS = 7  # possible_duplicate_invoices: same amount within N days
DEFAULT_DUPLICATE_MIN_AMOUNT = 0  # ... of an invoice total above this (never credit notes)
DEFAULT_DUPLICATE_MAX_PAIRS_PER_SUPPLIER = 50  # more: the payee is listed, not its pairs
# BRIEF §3 is the official source of Norway's thresholds; no other country has a default
DEFAULT_THRESHOLDS = {"NO": (100_000, 1_300_000, 2_300_000)}
DEFAULT_PRICE_TOLERANCE = 0.02  # price_deviations: an invoiced price up to 2 % above is accepted
DEFAULT_UNMAPPED_WARNING_SHARE = 0.05  # warn when 5 % of a member's spend has no known art


class ConfigError(Exception):
    """A problem in cooperation.yml, reported with the key or path it concerns."""


class PeriodError(ValueError):
    """A file name that does not carry the period its spend entry declares."""


@dataclass(frozen=True)
class DeclaredPeriod:
    """What a delivery covers, as the cooperation declared it: a re-delivery of the same
    member, series and period replaces the earlier one."""

    series: str
    period: str


@dataclass(frozen=True)
class PeriodRule:
    """How a spend entry declares the period a delivery covers (a re-delivery of the same
    member, series and period replaces the earlier one; without a rule files only add up).

    `from_name`: a regular expression searched in the file name, with the named groups
    `year` and optionally `month` or `quarter` (and `series`); `file`: each file name is a
    period of its own, so a changed file under the same name replaces its earlier content.
    """

    from_name: re.Pattern | None = None
    per_file: bool = False

    def period_of(self, path: Path) -> tuple[str, str]:
        """(series suffix, period) of one delivered file, from its name."""
        if self.per_file:
            return "", path.name
        match = self.from_name.search(path.name)
        if not match:
            raise PeriodError(
                f"{path.name}: the name does not carry a period "
                f"(period.from_name {self.from_name.pattern!r})"
            )
        parts = match.groupdict()
        year = int(parts["year"])
        if parts.get("month"):
            month = int(parts["month"])
            if not 1 <= month <= 12:
                raise PeriodError(f"{path.name}: month {parts['month']!r} is not 1-12")
            period = f"{year:04d}-{month:02d}"
        elif parts.get("quarter"):
            quarter = int(parts["quarter"])
            if not 1 <= quarter <= 4:
                raise PeriodError(f"{path.name}: quarter {parts['quarter']!r} is not 1-4")
            period = f"{year:04d}-Q{quarter}"
        else:
            period = f"{year:04d}"
        return parts.get("series") or "", period


@dataclass(frozen=True)
class Source:
    """One `path` + `profile` entry; `path` may be a glob, each match is one delivery."""

    pattern: str
    profile: str
    where: str  # the config key, for messages: municipalities[1].spend[0]
    optional: bool = False  # a path that matches no file is not an error
    period: PeriodRule | None = None  # None: every file adds its lines
    series: str = ""  # replacements happen within one series (default: the path as written)

    def files(self) -> list[Path]:
        """Each matching file, or folder (a folder of e-invoices is one delivery)."""
        return sorted(Path(p) for p in glob.glob(self.pattern) if Path(p).exists())

    def declared_period(self, path: Path) -> DeclaredPeriod | None:
        """The series and period a file covers (None: the file only adds its lines)."""
        if self.period is None:
            return None
        suffix, period = self.period.period_of(path)
        return DeclaredPeriod(f"{self.series}#{suffix}" if suffix else self.series, period)


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    population: int | None
    spend: tuple[Source, ...]


@dataclass(frozen=True)
class Cooperation:
    config_path: Path
    name: str
    country: str
    currency: str
    host: str
    loyalty_target: float | None
    coverage_target: float | None
    warehouse: Path
    snapshot: Path
    reference: dict[str, Path]
    agreements: tuple[Source, ...]
    members: tuple[Member, ...]
    thresholds: tuple[int, ...] = field(default=())
    thresholds_configured: bool = False  # False: the country's default (or none) applies
    price_lists: tuple[Source, ...] = field(default=())
    supplier_registers: tuple[Source, ...] = field(default=())
    price_tolerance: float = DEFAULT_PRICE_TOLERANCE
    duplicate_window_days: int = DEFAULT_DUPLICATE_WINDOW_DAYS
    duplicate_min_amount: float = DEFAULT_DUPLICATE_MIN_AMOUNT
    duplicate_max_pairs_per_supplier: int = DEFAULT_DUPLICATE_MAX_PAIRS_PER_SUPPLIER
    catch_all_payees: tuple[str, ...] = field(default=())
    unmapped_warning_share: float = DEFAULT_UNMAPPED_WARNING_SHARE

    @property
    def root(self) -> Path:
        return self.config_path.parent

    @property
    def member_ids(self) -> list[str]:
        return [m.id for m in self.members]

    def member(self, member_id: str) -> Member:
        for m in self.members:
            if m.id == member_id:
                return m
        raise ConfigError(f"{self.config_path}: no municipality with id {member_id!r}")

    @property
    def state_dir(self) -> Path:
        """Where run state lives: next to the warehouse."""
        return self.warehouse.parent

    @property
    def dagster_home(self) -> Path:
        return self.state_dir / "dagster_home"

    @property
    def dbt_target_dir(self) -> Path:
        return self.state_dir / "dbt_target"

    def reference_file(self, dataset: str) -> Path:
        return self.reference.get(dataset) or default_reference_file(dataset)

    @property
    def reference_overrides(self) -> list[str]:
        """The seeded reference datasets this cooperation replaces with its own file."""
        return [d for d in SEEDED_REFERENCE_DATASETS if d in self.reference]


def default_reference_file(dataset: str) -> Path:
    """The shipped default file of a reference dataset."""
    folder = REFERENCE_SEEDS_DIR if dataset in SEEDED_REFERENCE_DATASETS else REFERENCE_DEFAULTS_DIR
    return folder / f"{dataset}.csv"


# --- parsing -----------------------------------------------------------------------------

_TOP_KEYS = {
    "cooperation",
    "warehouse",
    "snapshot",
    "reference",
    "agreements",
    "municipalities",
    "price_lists",
    "supplier_registers",
}
_COOPERATION_KEYS = {
    "name",
    "country",
    "currency",
    "host",
    "targets",
    "thresholds",
    "price_tolerance",
    "duplicate_window_days",
    "duplicate_min_amount",
    "duplicate_max_pairs_per_supplier",
    "catch_all_payees",
    "unmapped_warning_share",
}
_TARGET_KEYS = {"loyalty", "coverage"}
_MEMBER_KEYS = {"id", "name", "population", "spend"}
_SOURCE_KEYS = {"path", "profile", "optional"}
_SPEND_SOURCE_KEYS = _SOURCE_KEYS | {"period", "series"}
_PERIOD_GROUPS = {"year", "month", "quarter", "series"}


class _Reader:
    """Walks the YAML tree and reports problems with the file and the key path."""

    def __init__(self, config_path: Path):
        self.config_path = config_path

    def fail(self, where: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.config_path}: {where}: {problem}")

    def mapping(self, value: Any, where: str, allowed: set[str], required: set[str]) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping of keys, got {_kind(value)}")
        unknown = sorted(set(map(str, value)) - allowed)
        if unknown:
            raise self.fail(
                where,
                f"unknown key {unknown[0]!r} (allowed keys: {', '.join(sorted(allowed))})",
            )
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(where, f"required key {missing[0]!r} is missing")
        return value

    def text(self, value: Any, where: str, pattern: str | None = None, hint: str = "") -> str:
        if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
            raise self.fail(where, f"expected a text value, got {_kind(value)}")
        text = str(value).strip()
        if not text:
            raise self.fail(where, "must not be empty")
        if pattern and not re.fullmatch(pattern, text):
            raise self.fail(where, f"{text!r} is not valid{': ' + hint if hint else ''}")
        return text

    def fraction(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise self.fail(where, f"{value!r} must be a fraction between 0 and 1 (0.8, not 80)")
        return float(value)

    def path(self, value: Any, where: str, must_exist: bool = True) -> Path:
        path = self.config_path.parent / self.text(value, where)
        if must_exist and not path.is_file():
            raise self.fail(where, f"file not found: {path}")
        return path.resolve() if must_exist else path

    def flag(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"{value!r} must be true or false")
        return value

    def source(self, value: Any, where: str, keys: set[str] = _SOURCE_KEYS) -> Source:
        entry = self.mapping(value, where, keys, {"path", "profile"})
        raw = self.text(entry["path"], f"{where}.path")
        pattern = str(self.config_path.parent / raw)
        optional = self.flag(entry.get("optional", False), f"{where}.optional")
        if not optional and not any(Path(p).exists() for p in glob.glob(pattern)):
            problem = "no file matches" if glob.has_magic(raw) else "file not found:"
            raise self.fail(
                f"{where}.path",
                f"{problem} {pattern} (write `optional: true` if that is expected)",
            )
        profile = self.text(entry["profile"], f"{where}.profile")
        series = self.text(entry["series"], f"{where}.series") if "series" in entry else raw
        return Source(
            pattern=pattern,
            profile=profile,
            where=where,
            optional=optional,
            period=self.period(entry.get("period"), f"{where}.period"),
            series=series,
        )

    def period(self, value: Any, where: str) -> PeriodRule | None:
        if value is None:
            return None
        if value == "file":
            return PeriodRule(per_file=True)
        entry = self.mapping(value, where, {"from_name"}, {"from_name"})
        text = self.text(entry["from_name"], f"{where}.from_name")
        try:
            pattern = re.compile(text)
        except re.error as error:
            message = f"not a valid regular expression: {error}"
            raise self.fail(f"{where}.from_name", message) from None
        groups = set(pattern.groupindex)
        if "year" not in groups or not groups <= _PERIOD_GROUPS or {"month", "quarter"} <= groups:
            raise self.fail(
                f"{where}.from_name",
                "name the groups (?P<year>...) and optionally (?P<month>...) or "
                "(?P<quarter>...), and (?P<series>...)",
            )
        return PeriodRule(from_name=pattern)

    def sources(self, value: Any, where: str, keys: set[str] = _SOURCE_KEYS) -> tuple[Source, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "expected a list of {path, profile} entries")
        return tuple(self.source(item, f"{where}[{i}]", keys) for i, item in enumerate(value))


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", bool: "true/false"}.get(type(value), repr(value))


def load_config(path: str | os.PathLike) -> Cooperation:
    config_path = Path(path).expanduser().resolve()
    if not config_path.is_file():
        raise ConfigError(f"configuration file not found: {config_path}")
    try:
        document = load_yaml(config_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{config_path}: not valid YAML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{config_path}: not UTF-8 text") from None
    return _parse(_Reader(config_path), document)


def _parse(r: _Reader, document: Any) -> Cooperation:
    top = r.mapping(document, "top level", _TOP_KEYS, {"cooperation", "municipalities"})
    coop = r.mapping(
        top["cooperation"],
        "cooperation",
        _COOPERATION_KEYS,
        {"name", "country", "currency", "host"},
    )
    country = r.text(
        coop["country"],
        "cooperation.country",
        "|".join(COUNTRIES),
        f"one of {', '.join(COUNTRIES)}",
    )
    targets = r.mapping(coop.get("targets") or {}, "cooperation.targets", _TARGET_KEYS, set())
    members = _members(r, top["municipalities"])
    host = r.text(coop["host"], "cooperation.host")
    if host not in {m.id for m in members}:
        raise r.fail("cooperation.host", f"{host!r} is not the id of a listed municipality")
    warehouse = r.path(top.get("warehouse", "warehouse/samkjop.duckdb"), "warehouse", False)
    snapshot_default = warehouse.with_name(warehouse.stem + ".snapshot.duckdb")
    snapshot = r.path(top["snapshot"], "snapshot", False) if "snapshot" in top else snapshot_default
    return Cooperation(
        config_path=r.config_path,
        name=r.text(coop["name"], "cooperation.name"),
        country=country,
        currency=r.text(
            coop["currency"],
            "cooperation.currency",
            "[A-Z]{3}",
            "a 3-letter ISO 4217 code such as NOK",
        ),
        host=host,
        loyalty_target=_optional_fraction(r, targets, "loyalty"),
        coverage_target=_optional_fraction(r, targets, "coverage"),
        warehouse=warehouse,
        snapshot=snapshot,
        reference=_reference(r, top.get("reference") or {}),
        agreements=r.sources(top.get("agreements"), "agreements"),
        members=members,
        thresholds=_thresholds(r, coop.get("thresholds"), country),
        thresholds_configured=coop.get("thresholds") is not None,
        price_lists=_standard_files(r, top.get("price_lists"), "price_lists"),
        supplier_registers=_standard_files(r, top.get("supplier_registers"), "supplier_registers"),
        price_tolerance=_price_tolerance(r, coop.get("price_tolerance")),
        duplicate_window_days=_duplicate_window_days(r, coop.get("duplicate_window_days")),
        duplicate_min_amount=_amount(
            r,
            coop.get("duplicate_min_amount"),
            "duplicate_min_amount",
            DEFAULT_DUPLICATE_MIN_AMOUNT,
        ),
        duplicate_max_pairs_per_supplier=_whole_number(
            r,
            coop.get("duplicate_max_pairs_per_supplier"),
            "duplicate_max_pairs_per_supplier",
            DEFAULT_DUPLICATE_MAX_PAIRS_PER_SUPPLIER,
            minimum=1,
        ),
        catch_all_payees=_patterns(r, coop.get("catch_all_payees"), "catch_all_payees"),
        unmapped_warning_share=_optional_share(
            r, coop.get("unmapped_warning_share"), DEFAULT_UNMAPPED_WARNING_SHARE
        ),
    )


def _optional_fraction(r: _Reader, targets: dict, key: str) -> float | None:
    value = targets.get(key)
    return None if value is None else r.fraction(value, f"cooperation.targets.{key}")


def _thresholds(r: _Reader, value: Any, country: str) -> tuple[int, ...]:
    if value is None:
        return DEFAULT_THRESHOLDS.get(country, ())
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
    ):
        raise r.fail("cooperation.thresholds", "expected a list of positive whole amounts")
    return tuple(sorted(value))


def _standard_files(r: _Reader, value: Any, key: str) -> tuple[Source, ...]:
    """Optional `price_lists:` / `supplier_registers:` entries `{path}` (a glob allowed);
    the only profile is the standard format (data_contracts/<dataset>.odcs.yaml), so
    `profile` may be left out."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise r.fail(key, "expected a list of {path} entries")
    sources = []
    for i, item in enumerate(value):
        where = f"{key}[{i}]"
        entry = r.mapping(item, where, _SOURCE_KEYS, {"path"})
        sources.append(r.source({"profile": "canonical", **entry}, where))
    return tuple(sources)


def _price_tolerance(r: _Reader, value: Any) -> float:
    if value is None:
        return DEFAULT_PRICE_TOLERANCE
    return r.fraction(value, "cooperation.price_tolerance")


def _duplicate_window_days(r: _Reader, value: Any) -> int:
    if value is None:
        return DEFAULT_DUPLICATE_WINDOW_DAYS
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 366:
        raise r.fail(
            "cooperation.duplicate_window_days",
            f"{value!r} must be a whole number of days from 0 to 366",
        )
    return value


def _amount(r: _Reader, value: Any, key: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e14:
        raise r.fail(f"cooperation.{key}", f"{value!r} must be an amount ≥ 0")
    return value


def _whole_number(r: _Reader, value: Any, key: str, default: int, minimum: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= 10**9:
        raise r.fail(f"cooperation.{key}", f"{value!r} must be a whole number ≥ {minimum}")
    return value


def _patterns(r: _Reader, value: Any, key: str) -> tuple[str, ...]:
    """A list of case-insensitive regular expressions (Python syntax, checked here)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise r.fail(f"cooperation.{key}", "expected a list of regular expressions")
    patterns = []
    for i, item in enumerate(value):
        text = r.text(item, f"cooperation.{key}[{i}]")
        try:
            re.compile(text)
        except re.error as error:
            message = f"not a valid regular expression: {error}"
            raise r.fail(f"cooperation.{key}[{i}]", message) from None
        patterns.append(text)
    return tuple(patterns)


def _optional_share(r: _Reader, value: Any, default: float) -> float:
    if value is None:
        return default
    return r.fraction(value, "cooperation.unmapped_warning_share")


def _reference(r: _Reader, value: Any) -> dict[str, Path]:
    entries = r.mapping(value, "reference", set(REFERENCE_DATASETS), set())
    return {name: r.path(path, f"reference.{name}") for name, path in entries.items()}


def _members(r: _Reader, value: Any) -> tuple[Member, ...]:
    if not isinstance(value, list) or not value:
        raise r.fail("municipalities", "expected a list of member municipalities")
    members: list[Member] = []
    for i, item in enumerate(value):
        where = f"municipalities[{i}]"
        entry = r.mapping(item, where, _MEMBER_KEYS, {"id", "name"})
        member_id = r.text(
            entry["id"],
            f"{where}.id",
            r"[A-Za-z0-9_-]{1,20}",
            "letters, digits, '-' or '_' (write numbers in quotes: \"5035\")",
        )
        if member_id == "ALL":
            raise r.fail(f"{where}.id", "'ALL' is reserved for the cooperation as a whole")
        if member_id in {m.id for m in members}:
            raise r.fail(f"{where}.id", f"{member_id!r} is listed twice")
        population = entry.get("population")
        if population is not None and (
            isinstance(population, bool) or not isinstance(population, int) or population < 0
        ):
            raise r.fail(f"{where}.population", f"{population!r} must be a whole number ≥ 0")
        spend = (
            r.sources(entry["spend"], f"{where}.spend", _SPEND_SOURCE_KEYS)
            if entry.get("spend")
            else ()
        )
        members.append(Member(member_id, r.text(entry["name"], f"{where}.name"), population, spend))
    return tuple(members)


def config_from_env() -> Cooperation:
    value = os.environ.get(CONFIG_ENV_VAR)
    if not value:
        raise ConfigError(
            f"set {CONFIG_ENV_VAR} to the path of a cooperation.yml "
            "(the samkjop CLI does this for you: samkjop ui --config cooperation.yml)"
        )
    return load_config(value)
