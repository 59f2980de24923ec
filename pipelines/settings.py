"""One cooperation's configuration (`cooperation.yml`) and the paths derived from it.

Everything environment-specific is decided here: the config file comes from the
`SAMKJOP_CONFIG` environment variable (the CLI sets it), the warehouse, snapshot,
dbt target and Dagster home are derived from the config file's folder.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from dashboards.i18n import LANGUAGES, default_language
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


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a careless or hostile file from swallowing a run (`limits:` in
    cooperation.yml). Each is named in the message of whatever it stops."""

    max_amount: int = 10**12  # |amount| of a line, in its own currency; above: rejected
    invoice_date_years_before: int = 5  # before the delivery's period: rejected
    invoice_date_years_after: int = 1  # after the delivery's period (or the run date)
    xlsx_max_unpacked_bytes: int = 1_000_000_000  # all parts of a workbook, unpacked
    xlsx_max_shared_strings_bytes: int = 100_000_000  # held in memory (about 6x)
    xlsx_max_part_bytes: int = 10_000_000  # any other part read whole (styles: about 30x)
    xlsx_max_rows: int = 1_048_576  # Excel's own limit
    xlsx_max_columns: int = 1_000
    xml_max_file_bytes: int = 50 * 1024 * 1024  # one e-invoice, attachments included
    xml_max_elements: int = 1_000_000  # one e-invoice, parsed whole (about 150 MB held)


LIMIT_KEYS = tuple(Limits.__dataclass_fields__)

ALERT_EVENTS = ("rejected_delivery", "overdue_member", "failed_run", "failed_test")


@dataclass(frozen=True)
class EmailChannel:
    """`alerts.email`: SMTP to the procurement unit. The credentials are read from the
    environment variables named here, never written in cooperation.yml."""

    to: tuple[str, ...]
    sender: str
    smtp_host: str = "localhost"
    smtp_port: int = 25
    starttls: bool = False
    username_env: str | None = None
    password_env: str | None = None


@dataclass(frozen=True)
class Alerts:
    """`alerts:` in cooperation.yml: where notifications go and for which events. `link`:
    the address of the cooperation's Dagster UI as the unit opens it (runs are linked as
    <link>/runs/<run id>)."""

    email: EmailChannel | None = None
    webhook_url: str | None = None
    link: str | None = None
    events: tuple[str, ...] = ALERT_EVENTS
    timeout_seconds: int = 10

    @property
    def configured(self) -> bool:
        return self.email is not None or self.webhook_url is not None


# Part of the platform, readable from every cooperation: the shipped source profiles and
# their mapping files (`profile: <name>`).
PLATFORM_FOLDERS = (PROFILES_DIR,)
_LINKS_NOT_FOLLOWED = (
    "links are not followed (follow_symlinks: true in cooperation.yml reads links to "
    "files inside the cooperation's folders)"
)


@dataclass(frozen=True)
class Folders:
    """Where a cooperation's files may be read from: the folder of its cooperation.yml and
    the folders it lists under `allowed_folders` (absolute, as written: a folder may be
    named through a link of the operator's, e.g. a mount). A symbolic link below them is
    not followed unless `follow_symlinks` is set, and then only to a target inside them; a
    device, pipe or socket is never read. Nothing here opens a file, so no message about
    a refused file can quote its content."""

    root: Path
    allowed: tuple[Path, ...] = ()
    follow_symlinks: bool = False

    @cached_property
    def _pairs(self) -> tuple[tuple[Path, Path], ...]:
        """Each folder as written and as it really is (the platform's last)."""
        folders = (self.root, *self.allowed, *PLATFORM_FOLDERS)
        return tuple((folder, Path(os.path.realpath(folder))) for folder in folders)

    def _homes(self, platform: bool) -> tuple[tuple[Path, Path], ...]:
        return self._pairs if platform else self._pairs[: len(self._pairs) - len(PLATFORM_FOLDERS)]

    def _home(self, path: Path, platform: bool) -> tuple[Path, Path] | None:
        lexical = Path(os.path.abspath(path))
        return next((h for h in self._homes(platform) if lexical.is_relative_to(h[0])), None)

    def home(self, path: Path, platform: bool = False) -> Path | None:
        """The folder `path` is in as written (`..` taken literally, no link followed)."""
        home = self._home(path, platform)
        return None if home is None else home[0]

    def shown(self, path: Path, platform: bool = False) -> str:
        """The path as messages name it: relative to its folder, else as it is."""
        home = self.home(path, platform)
        lexical = Path(os.path.abspath(path))
        return str(lexical if home is None else lexical.relative_to(home))

    def outside(self) -> str:
        """The reason for a path outside every folder (it follows the path)."""
        return (
            f"is outside the cooperation's folder {self.root} and its allowed_folders "
            "(list a folder under allowed_folders in cooperation.yml to read from it)"
        )

    def refusal(self, path: Path, platform: bool = False) -> str | None:
        """Why `path`, a file or folder that exists (or a link), may not be read; None: it
        may. The reason follows the path in a message: '<path> <reason>'. `platform`: the
        shipped profiles are allowed too."""
        pair = self._home(path, platform)
        if pair is None:
            return self.outside()
        home, real_home = pair
        relative = Path(os.path.abspath(path)).relative_to(home)
        real = Path(os.path.realpath(path))
        if real != real_home / relative:  # a link on the way (below the folder)
            if not self.follow_symlinks:
                return _link_reason(home, relative)
            if not any(real.is_relative_to(f) for _, f in self._homes(platform)):
                return (
                    "is a symbolic link to a place outside the cooperation's folder and its "
                    "allowed_folders; not read"
                )
        try:
            mode = os.stat(real).st_mode
        except OSError:
            return "is a symbolic link to nothing (a broken link); not read"
        if stat.S_ISDIR(mode):
            return self._folder_refusal(home / relative, platform)
        if not stat.S_ISREG(mode):
            return "is not a regular file or folder (a device, pipe or socket); not read"
        return None

    def problem(self, path: Path, platform: bool = False) -> str | None:
        """`refusal` for a path the configuration names: outside the folders even when it
        does not exist; None when it may be read or does not exist (the caller says so)."""
        if self.home(path, platform) is None:
            return self.outside()
        return self.refusal(path, platform) if os.path.lexists(path) else None

    def _folder_refusal(self, folder: Path, platform: bool) -> str | None:
        """A folder delivery (e-invoices) is read whole: one refused entry refuses it."""
        for parent, folders, files in os.walk(folder):
            for name in sorted(folders + files):
                entry = Path(parent) / name
                if os.path.islink(entry) or not (entry.is_dir() or entry.is_file()):
                    reason = self.refusal(entry, platform)
                    if reason:
                        return f"holds {entry.relative_to(folder)}, which {reason}"
        return None


def _link_reason(home: Path, relative: Path) -> str:
    """Name the first link below `home` on the way to `relative`."""
    for depth in range(1, len(relative.parts) + 1):
        step = Path(*relative.parts[:depth])
        if os.path.islink(home / step):
            if step == relative:
                return f"is a symbolic link; {_LINKS_NOT_FOLLOWED}"
            return f"is reached through the symbolic link {step}; {_LINKS_NOT_FOLLOWED}"
    return f"is reached through a symbolic link; {_LINKS_NOT_FOLLOWED}"


def unread_fingerprint(path: Path) -> str:
    """A stable stand-in for the checksum of a delivery that is refused unread (a link is
    known by its own text, never by what it points to)."""
    target = os.readlink(path) if os.path.islink(path) else ""
    return hashlib.sha256(f"not read\0{path}\0{target}".encode()).hexdigest()


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
    folders: Folders | None = None  # where files may be read from (None: anywhere)
    strict: bool = False  # a match that may not be read is a ConfigError (the host's files)

    def _matches(self) -> list[tuple[Path, str | None]]:
        """Every match (a broken link too), with the reason it may not be read, or None."""
        paths = sorted(Path(p) for p in glob.glob(self.pattern) if os.path.lexists(p))
        if self.folders is None:
            return [(path, None) for path in paths if path.exists()]
        return [(path, self.folders.refusal(path)) for path in paths]

    def files(self) -> list[Path]:
        """Each matching file, or folder (a folder of e-invoices is one delivery), that may be
        read. A match that may not be read (a symbolic link, ...) is left to `refused()`;
        with `strict` it is a ConfigError instead."""
        matches = self._matches()
        if self.strict:
            for path, reason in matches:
                if reason:
                    raise ConfigError(f"{self.where}.path: {path} {reason}")
        return [path for path, reason in matches if reason is None]

    def refused(self) -> list[tuple[Path, str]]:
        """The matches that may not be read, each with why: '<path> <reason>' in messages.
        They are never opened, so no message can quote their content."""
        return [(path, reason) for path, reason in self._matches() if reason]

    def shown(self, path: Path) -> str:
        """A match as messages name it: relative to the cooperation's folder (or allowed
        folder) it is in."""
        return path.name if self.folders is None else self.folders.shown(path)

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
    limits: Limits = field(default_factory=Limits)
    allowed_folders: tuple[Path, ...] = field(default=())  # besides the config's, absolute
    follow_symlinks: bool = False
    alerts: Alerts = field(default_factory=Alerts)
    language: str = ""  # the dashboards' and the annual report's language; "" before parsing

    @property
    def root(self) -> Path:
        return self.config_path.parent

    @property
    def folders(self) -> Folders:
        """Where this cooperation's files may be read from (see Folders)."""
        return Folders(self.root, self.allowed_folders, self.follow_symlinks)

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
    "alerts",
    "cooperation",
    "warehouse",
    "snapshot",
    "reference",
    "agreements",
    "municipalities",
    "price_lists",
    "supplier_registers",
    "limits",
    "allowed_folders",
    "follow_symlinks",
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
    "language",
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
        self.folders = Folders(config_path.parent)  # with allowed_folders once read

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
        if must_exist:
            self.readable(path, where)
            if not path.is_file():
                raise self.fail(where, f"file not found: {path}")
        return path.resolve() if must_exist else path

    def readable(self, path: Path, where: str, platform: bool = False) -> None:
        """A file the configuration names must be inside the cooperation's folders (or, with
        `platform`, the shipped profiles) and reached without a refused link."""
        reason = self.folders.problem(path, platform)
        if reason:
            raise self.fail(where, f"{os.path.abspath(path)} {reason}")

    def flag(self, value: Any, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"{value!r} must be true or false")
        return value

    def source(
        self, value: Any, where: str, keys: set[str] = _SOURCE_KEYS, strict: bool = False
    ) -> Source:
        """A `path` + `profile` entry. The path (of a glob: the part before its first
        wildcard) must be inside the cooperation's folders; `strict` (the host's own files):
        a match that may not be read is an error here, not a rejected delivery at run time."""
        entry = self.mapping(value, where, keys, {"path", "profile"})
        raw = self.text(entry["path"], f"{where}.path")
        pattern = str(self.config_path.parent / raw)
        fixed = Path(pattern).parts
        fixed = fixed[: next((i for i, p in enumerate(fixed) if glob.has_magic(p)), len(fixed))]
        if self.folders.home(Path(*fixed)) is None:
            raise self.fail(f"{where}.path", f"{os.path.abspath(pattern)} {self.folders.outside()}")
        optional = self.flag(entry.get("optional", False), f"{where}.optional")
        if not optional and not any(os.path.lexists(p) for p in glob.glob(pattern)):
            problem = "no file matches" if glob.has_magic(raw) else "file not found:"
            raise self.fail(
                f"{where}.path",
                f"{problem} {pattern} (write `optional: true` if that is expected)",
            )
        profile = self.text(entry["profile"], f"{where}.profile")
        if profile.endswith((".yaml", ".yml")):  # a profile file, not a shipped profile's name
            self.readable(self.config_path.parent / profile, f"{where}.profile", platform=True)
        series = self.text(entry["series"], f"{where}.series") if "series" in entry else raw
        source = Source(
            pattern=pattern,
            profile=profile,
            where=where,
            optional=optional,
            period=self.period(entry.get("period"), f"{where}.period"),
            series=series,
            folders=self.folders,
            strict=strict,
        )
        for path, reason in source.refused() if strict else ():
            raise self.fail(f"{where}.path", f"{path} {reason}")
        return source

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

    def sources(
        self, value: Any, where: str, keys: set[str] = _SOURCE_KEYS, strict: bool = False
    ) -> tuple[Source, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "expected a list of {path, profile} entries")
        return tuple(
            self.source(item, f"{where}[{i}]", keys, strict) for i, item in enumerate(value)
        )


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
    r.folders = _folders(r, top.get("allowed_folders"), top.get("follow_symlinks", False))
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
        agreements=r.sources(top.get("agreements"), "agreements", strict=True),
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
        limits=_limits(r, top.get("limits")),
        allowed_folders=r.folders.allowed,
        follow_symlinks=r.folders.follow_symlinks,
        alerts=_alerts(r, top.get("alerts")),
        language=_language(r, coop.get("language"), country),
    )


def _language(r: _Reader, value: Any, country: str) -> str:
    """`cooperation.language`: the dashboards' and the annual report's language, one of
    dashboards.i18n.LANGUAGES; by default the country's (NO: nb, DK: da, otherwise en)."""
    if value is None:
        return default_language(country)
    return r.text(
        value, "cooperation.language", "|".join(LANGUAGES), f"one of {', '.join(LANGUAGES)}"
    )


def _folders(r: _Reader, value: Any, follow_symlinks: Any) -> Folders:
    """`allowed_folders`: folders besides the config's own that files may be read from,
    each relative to the config file (or absolute); `follow_symlinks`: read links whose
    target is inside these folders (default: a link is never followed)."""
    if value is not None and not isinstance(value, list):
        raise r.fail("allowed_folders", "expected a list of folders, e.g. [../shared/data]")
    allowed = []
    for i, item in enumerate(value or []):
        folder = r.config_path.parent / r.text(item, f"allowed_folders[{i}]")
        if not folder.is_dir():
            raise r.fail(f"allowed_folders[{i}]", f"not a folder: {os.path.abspath(folder)}")
        allowed.append(Path(os.path.abspath(folder)))
    follow = r.flag(follow_symlinks, "follow_symlinks")
    return Folders(r.config_path.parent, tuple(allowed), follow)


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
        sources.append(r.source({"profile": "canonical", **entry}, where, strict=True))
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


def _limits(r: _Reader, value: Any) -> Limits:
    entries = r.mapping(value or {}, "limits", set(LIMIT_KEYS), set())
    checked = {}
    for key, number in entries.items():
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise r.fail(f"limits.{key}", f"{number!r} must be a whole number ≥ 0")
        checked[key] = number
    return Limits(**checked)


_EMAIL_KEYS = {"to", "from", "smtp_host", "smtp_port", "starttls", "username_env", "password_env"}
_EMAIL_ADDRESS = r"[^@\s]+@[^@\s]+"
_ENV_VAR_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def _alerts(r: _Reader, value: Any) -> Alerts:
    keys = {"email", "webhook", "link", "on", "timeout_seconds"}
    entries = r.mapping(value or {}, "alerts", keys, set())
    webhook = None
    if entries.get("webhook") is not None:
        hook = r.mapping(entries["webhook"], "alerts.webhook", {"url"}, {"url"})
        webhook = r.text(hook["url"], "alerts.webhook.url", r"https?://\S+", "an http(s) URL")
    link = entries.get("link")
    if link is not None:
        link = r.text(link, "alerts.link", r"https?://\S+", "an http(s) URL").rstrip("/")
    events = entries.get("on", list(ALERT_EVENTS))
    if not isinstance(events, list) or not all(e in ALERT_EVENTS for e in events):
        raise r.fail("alerts.on", f"{events!r}: expected a list of {', '.join(ALERT_EVENTS)}")
    timeout = entries.get("timeout_seconds", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 600:
        raise r.fail("alerts.timeout_seconds", f"{timeout!r} must be a whole number of 1-600")
    return Alerts(
        email=_email(r, entries["email"]) if entries.get("email") is not None else None,
        webhook_url=webhook,
        link=link,
        events=tuple(events),
        timeout_seconds=timeout,
    )


def _email(r: _Reader, value: Any) -> EmailChannel:
    entry = r.mapping(value, "alerts.email", _EMAIL_KEYS, {"to", "from"})
    to = entry["to"] if isinstance(entry["to"], list) else [entry["to"]]
    recipients = tuple(
        r.text(address, f"alerts.email.to[{i}]", _EMAIL_ADDRESS, "an e-mail address")
        for i, address in enumerate(to)
    )
    port = entry.get("smtp_port", 25)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise r.fail("alerts.email.smtp_port", f"{port!r} is not a port number (1-65535)")
    credentials = {
        key: r.text(entry[key], f"alerts.email.{key}", _ENV_VAR_NAME, "an environment variable")
        for key in ("username_env", "password_env")
        if entry.get(key) is not None
    }
    return EmailChannel(
        to=recipients,
        sender=r.text(entry["from"], "alerts.email.from", _EMAIL_ADDRESS, "an e-mail address"),
        smtp_host=r.text(entry.get("smtp_host", "localhost"), "alerts.email.smtp_host"),
        smtp_port=port,
        starttls=r.flag(entry.get("starttls", False), "alerts.email.starttls"),
        **credentials,
    )


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
