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
# GB: UK councils (real public data onboarding); its company numbers are never verified,
# see pipelines/orgno.py
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
DEFAULT_THRESHOLDS = {"NO": (100_000, 1_300_000, 2_300_000)}
DEFAULT_PRICE_TOLERANCE = 0.02  # price_deviations: an invoiced price up to 2 % above is accepted


class ConfigError(Exception):
    """A problem in cooperation.yml, reported with the key or path it concerns."""


@dataclass(frozen=True)
class Source:
    """One `path` + `profile` entry; `path` may be a glob, each match is one delivery."""

    pattern: str
    profile: str
    where: str  # the config key, for messages: municipalities[1].spend[0]

    def files(self) -> list[Path]:
        """Each matching file, or folder (a folder of e-invoices is one delivery)."""
        return sorted(Path(p) for p in glob.glob(self.pattern) if Path(p).exists())


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
    price_lists: tuple[Source, ...] = field(default=())
    price_tolerance: float = DEFAULT_PRICE_TOLERANCE
    duplicate_window_days: int = DEFAULT_DUPLICATE_WINDOW_DAYS

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
}
_TARGET_KEYS = {"loyalty", "coverage"}
_MEMBER_KEYS = {"id", "name", "population", "spend"}
_SOURCE_KEYS = {"path", "profile"}


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

    def source(self, value: Any, where: str) -> Source:
        entry = self.mapping(value, where, _SOURCE_KEYS, {"path", "profile"})
        raw = self.text(entry["path"], f"{where}.path")
        pattern = str(self.config_path.parent / raw)
        if not glob.has_magic(raw) and not Path(pattern).exists():
            raise self.fail(f"{where}.path", f"file not found: {pattern}")
        profile = self.text(entry["profile"], f"{where}.profile")
        return Source(pattern=pattern, profile=profile, where=where)

    def sources(self, value: Any, where: str) -> tuple[Source, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "expected a list of {path, profile} entries")
        return tuple(self.source(item, f"{where}[{i}]") for i, item in enumerate(value))


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
        price_lists=_price_lists(r, top.get("price_lists")),
        price_tolerance=_price_tolerance(r, coop.get("price_tolerance")),
        duplicate_window_days=_duplicate_window_days(r, coop.get("duplicate_window_days")),
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


def _price_lists(r: _Reader, value: Any) -> tuple[Source, ...]:
    """Optional `price_lists:` entries `{path}` (a glob allowed); the only profile is the
    standard format (data_contracts/price_list.odcs.yaml), so `profile` may be left out."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise r.fail("price_lists", "expected a list of {path} entries")
    sources = []
    for i, item in enumerate(value):
        where = f"price_lists[{i}]"
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
        spend = r.sources(entry["spend"], f"{where}.spend") if entry.get("spend") else ()
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
