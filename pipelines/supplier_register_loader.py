"""Load the supplier register (`supplier_registers:` in cooperation.yml) into raw.supplier_register.

The supplier register (data_contracts/supplier_register.odcs.yaml) is the host's own file: one
row per alias of a registered supplier. It lets a spend line without a valid organisation
number be given its supplier (BRIEF §4 rule 5): by the member's own vendor number (`local_id`),
by its normalised name (`name`) or by a regular expression on its name (`name_pattern`). The
agreement register, the classification rules and the exclusion list may name a registered
supplier by its `supplier_id`.

As with the agreement register, a bad row stops the run with the file, the row and the column
named, and two rows that contradict each other are both named: a register that silently
skipped or chose between rows would change who is on agreement.

The checks that depend on how the warehouse reads an alias are made by that engine: a
`name_pattern` must compile in DuckDB (which runs it), and two `name` aliases of different
suppliers are compared with the dbt macro the models use (normalize_supplier_name,
dbt_project/macros/supplier_names.sql, rendered here as dbt-duckdb renders it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import duckdb
import jinja2

from pipelines.contracts import column_names
from pipelines.orgno import clean_org_no
from pipelines.register_loader import Row, read_rows
from pipelines.settings import DBT_PROJECT_DIR, Cooperation

ALIAS_TYPES = ("name", "local_id", "name_pattern")  # as in supplier_register.odcs.yaml
# the dbt macro files normalize_supplier_name needs (the name rule, string literals)
NAME_MACROS = tuple(
    DBT_PROJECT_DIR / "macros" / name for name in ("supplier_names.sql", "pattern_matching.sql")
)


@dataclass(frozen=True)
class RegisteredSupplier:
    supplier_id: str
    supplier_name: str | None
    org_no_raw: str | None
    org_no: str | None  # the validated number
    row: Row  # the first row of the supplier
    is_person: bool = False  # a private person: never named to the council (is_person)


@dataclass
class SupplierRegister:
    suppliers: dict[str, RegisteredSupplier] = field(default_factory=dict)
    aliases: list[tuple[Row, str | None, str | None, str | None]] = field(default_factory=list)

    @property
    def supplier_ids(self) -> frozenset[str]:
        return frozenset(self.suppliers)

    def rows(self) -> list[tuple]:
        """raw.supplier_register rows: every alias with its supplier's name and number."""
        rows = []
        for row, alias_type, alias, municipality_id in self.aliases:
            supplier = self.suppliers[row.text("supplier_id")]
            rows.append(
                (
                    supplier.supplier_id,
                    supplier.supplier_name,
                    supplier.org_no_raw,
                    supplier.org_no,
                    supplier.org_no is not None,
                    alias_type,
                    alias,
                    municipality_id,
                    str(row.path),
                    row.number,
                    supplier.is_person,
                )
            )
        return rows


def read_supplier_register(cooperation: Cooperation) -> SupplierRegister:
    """Every configured register file, validated; the first bad row stops."""
    register = SupplierRegister()
    members = set(cooperation.member_ids)
    by_org_no: dict[str, RegisteredSupplier] = {}
    for source in cooperation.supplier_registers:
        for path in source.files():
            for row in read_rows(path, column_names("supplier_register"), ("is_person",)):
                _read_supplier(row, cooperation, register, by_org_no)
                register.aliases.append((row, *_read_alias(row, members)))
    _check_aliases(register)
    return register


def registered_supplier_ids(cooperation: Cooperation) -> frozenset[str]:
    """The supplier_ids agreements, classification rules and exclusions may name."""
    if not cooperation.supplier_registers:
        return frozenset()
    return read_supplier_register(cooperation).supplier_ids


def load_supplier_register(con: duckdb.DuckDBPyConnection, cooperation: Cooperation) -> int:
    """Replace raw.supplier_register; returns the number of rows (0 when none is configured)."""
    rows = read_supplier_register(cooperation).rows()
    con.execute("DELETE FROM raw.supplier_register")
    if rows:
        con.executemany(
            f"INSERT INTO raw.supplier_register VALUES ({', '.join('?' * len(rows[0]))})", rows
        )
    return len(rows)


# --- one row -----------------------------------------------------------------------------


def _read_supplier(
    row: Row,
    cooperation: Cooperation,
    register: SupplierRegister,
    by_org_no: dict[str, RegisteredSupplier],
) -> None:
    supplier_id = row.text("supplier_id")
    if ";" in supplier_id:
        raise row.fail("supplier_id", f"{supplier_id!r} contains ';' (the list separator)")
    if clean_org_no(supplier_id, cooperation.country).is_valid:
        raise row.fail(
            "supplier_id",
            f"{supplier_id!r} is a valid organisation number; give the number in org_no "
            "and the supplier an id of its own",
        )
    name = row.text("supplier_name", False)
    org_no_raw = row.text("org_no", False)
    org_no = None
    if org_no_raw is not None:
        org_no = clean_org_no(org_no_raw, cooperation.country).compact
        if org_no is None:
            raise row.fail(
                "org_no",
                f"{org_no_raw!r} is not a valid organisation number for {cooperation.country}",
            )
    is_person = _is_person(row)
    known = register.suppliers.get(supplier_id)
    if known is None:
        known = RegisteredSupplier(supplier_id, name, org_no_raw, org_no, row, bool(is_person))
    else:
        if name is not None and known.supplier_name not in (None, name):
            raise row.fail(
                "supplier_name",
                f"{name!r} differs from {known.supplier_name!r}, the name of "
                f"{supplier_id!r} in {_where(known.row)}",
            )
        if org_no is not None and known.org_no not in (None, org_no):
            raise row.fail(
                "org_no",
                f"{org_no} differs from {known.org_no}, the number of "
                f"{supplier_id!r} in {_where(known.row)}",
            )
        known = RegisteredSupplier(
            supplier_id,
            known.supplier_name or name,
            known.org_no_raw or org_no_raw,
            known.org_no or org_no,
            known.row,
            known.is_person or bool(is_person),
        )
    register.suppliers[supplier_id] = known
    if org_no is not None:
        other = by_org_no.setdefault(org_no, known)
        if other.supplier_id != supplier_id:
            raise row.fail(
                "org_no",
                f"{org_no} is already the number of supplier {other.supplier_id!r} "
                f"({_where(other.row)}); one organisation number is one supplier",
            )


_PERSON_VALUES = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _is_person(row: Row) -> bool | None:
    """The optional is_person column: True, False, or None when the field is empty."""
    value = row.text("is_person", False)
    if value is None:
        return None
    if value.strip().lower() not in _PERSON_VALUES:
        raise row.fail(
            "is_person", f"{value!r} is not one of true, false, yes, no, 1, 0 (or empty)"
        )
    return _PERSON_VALUES[value.strip().lower()]


def _read_alias(row: Row, members: set[str]) -> tuple[str | None, str | None, str | None]:
    alias_type = row.text("alias_type", False)
    alias = row.text("alias", False)
    municipality_id = row.text("municipality_id", False)
    if alias_type is None:
        if alias is not None:
            raise row.fail("alias_type", f"a value is required: one of {', '.join(ALIAS_TYPES)}")
        if municipality_id is not None:
            raise row.fail("municipality_id", "only a local_id alias is limited to a member")
        return None, None, None
    alias_type = row.choice("alias_type", ALIAS_TYPES)
    alias = row.text("alias")
    if municipality_id is not None:
        if alias_type != "local_id":
            raise row.fail(
                "municipality_id", f"only a local_id alias is limited to a member, not {alias_type}"
            )
        if municipality_id not in members:
            raise row.fail(
                "municipality_id", f"{municipality_id!r} is not a member of the cooperation"
            )
    return alias_type, alias, municipality_id


# --- the aliases together ------------------------------------------------------------------


def _check_aliases(register: SupplierRegister) -> None:
    """Each alias names one supplier: the same vendor number for the same member, the same
    normalised name or the same pattern for two suppliers is an error naming both rows."""
    con = duckdb.connect()
    try:
        patterns = [
            (row, alias) for row, kind, alias, _ in register.aliases if kind == "name_pattern"
        ]
        _check_patterns(con, patterns)
        names = [alias for _, kind, alias, _ in register.aliases if kind == "name"]
        normalised = dict(zip(names, _normalised_names(con, names), strict=True))
    finally:
        con.close()
    seen: dict[tuple, Row] = {}
    for row, alias_type, alias, municipality_id in register.aliases:
        if alias_type == "local_id":
            key = (alias_type, alias, municipality_id)
            shown = f"{alias!r}" + (f" of member {municipality_id}" if municipality_id else "")
        elif alias_type == "name":
            if normalised[alias] is None:
                raise row.fail("alias", f"{alias!r} has no letters or digits to compare")
            key = (alias_type, normalised[alias])
            shown = f"{alias!r} (normalised {normalised[alias]!r})"
        elif alias_type == "name_pattern":
            key = (alias_type, alias)
            shown = f"{alias!r}"
        else:
            continue
        other = seen.setdefault(key, row)
        if other.text("supplier_id") != row.text("supplier_id"):
            raise row.fail(
                "alias",
                f"the {alias_type} alias {shown} names supplier {row.text('supplier_id')!r} "
                f"here and {other.text('supplier_id')!r} in {_where(other)}",
            )


def _check_patterns(con: duckdb.DuckDBPyConnection, patterns: list[tuple[Row, str]]) -> None:
    """Every pattern compiles in DuckDB and does not match an empty name: all in one query,
    and one by one to name the row when the query fails."""
    sql = "SELECT list_transform(CAST(? AS VARCHAR[]), lambda p: regexp_matches('', p, 'i'))"
    try:
        matches_empty = con.execute(sql, [[alias for _, alias in patterns]]).fetchone()[0]
    except duckdb.Error:
        matches_empty = [_matches_empty(con, row, alias) for row, alias in patterns]
    for (row, pattern), empty in zip(patterns, matches_empty or [], strict=True):
        if empty:
            raise row.fail(
                "alias",
                f"{pattern!r} matches an empty name, so it would match every supplier name",
            )


def _matches_empty(con: duckdb.DuckDBPyConnection, row: Row, pattern: str) -> bool:
    try:
        return con.execute(
            "SELECT regexp_matches('', CAST(? AS VARCHAR), 'i')", [pattern]
        ).fetchone()[0]
    except duckdb.Error as error:
        problem = str(error).splitlines()[0].removeprefix("Invalid Input Error: ")
        raise row.fail(
            "alias", f"{pattern!r} is not a regular expression DuckDB can run: {problem}"
        ) from None


def _normalised_names(con: duckdb.DuckDBPyConnection, names: list[str]) -> list[str | None]:
    """The names as the models key them (normalize_supplier_name), in one query."""
    if not names:
        return []
    sql = (
        "SELECT list_transform(CAST(? AS VARCHAR[]), "
        f"lambda alias: {normalize_supplier_name_sql('alias')})"
    )
    return con.execute(sql, [names]).fetchone()[0]


@cache
def normalize_supplier_name_sql(column: str) -> str:
    """The dbt macro normalize_supplier_name rendered for DuckDB, applied to `column`.

    dbt's dispatch (`adapter.dispatch`), its `return()` and the project namespace
    (`samkjop.`) are stood in for, so the macro file is rendered as dbt-duckdb renders it.
    """
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    module: list = []

    def macros():
        return module[0]

    class Namespace:
        def __getattr__(self, name):
            return getattr(macros(), name)

    class Adapter:
        @staticmethod
        def dispatch(name, _package):
            return getattr(macros(), f"duckdb__{name}", None) or getattr(
                macros(), f"default__{name}"
            )

    template = environment.from_string(
        "\n".join(path.read_text(encoding="utf-8") for path in NAME_MACROS),
        globals={"adapter": Adapter(), "samkjop": Namespace(), "return": lambda value: value},
    )
    module.append(template.module)
    return str(template.module.normalize_supplier_name(column)).strip()


def _where(row: Row) -> str:
    return f"{row.path}: row {row.number}"
