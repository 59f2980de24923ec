"""The yardstick of `make bench`: `municipality_kpis` of a demo cooperation computed by a
hand-written DuckDB script, straight from the delivered files, then compared with the
published snapshot's `marts.municipality_kpis`.

    python -m tests.benchmarks.reference_kpis --config DIR/cooperation.yml [--snapshot PATH]
        [--no-check]

It is what a competent analyst would write to get the same figures without the platform:
a few SQL statements over `read_csv` (BRIEF §4 rules 1-8 and 10, per member and year and
for the cooperation as a whole), no dbt, no Dagster, no loader. The bench compares
Samkjøp's CPU and wall time with this script's.

It handles only what `samkjop demo` (and tests/benchmarks/skewed.py and delivery.py on top
of it) writes, and says nothing about any other cooperation:

- Norwegian organisation numbers (mod 11; spaces, a `NO` prefix and an `MVA` suffix
  removed), the cooperation's currency, monthly exchange rates;
- the CSV profiles `canonical`, `visma-csv-selbu` and `erp-csv-meraker` (one column per
  field or a constant; the art from a column or from the account's digits; `cp1252` read
  as Latin-1, which is the same for every character the demo writes); no exclude_rows,
  account mappings, sign or VAT columns, no other formats;
- every file of a member's glob adds its lines: no declared periods, so no re-delivery
  replaces another (an identical file twice would count twice: the demo has none);
- the only rows the pipeline rejects are those without an exchange rate (the demo's
  dates, amounts and ids are all plausible);
- the supplier register's `name` and `name_pattern` aliases (the demo has no `local_id`),
  agreements naming suppliers by organisation number or register id.

Exit code 0: the figures agree (amounts to 0.01, ratios to 1e-9, line counts exactly);
1: they do not (the differences are printed). `--no-check` only computes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "data_contracts" / "profiles"
DEFAULT_REFERENCE = {
    "kostra_arts": ROOT / "dbt_project" / "seeds" / "kostra_arts.csv",
    "classification_rules": ROOT / "dbt_project" / "seeds" / "classification_rules.csv",
    "exchange_rates": ROOT / "pipelines" / "reference_defaults" / "exchange_rates.csv",
    "excluded_suppliers": ROOT / "pipelines" / "reference_defaults" / "excluded_suppliers.csv",
}
AMOUNT_TOLERANCE = 0.01
RATIO_TOLERANCE = 1e-9
AMOUNTS = (
    "total_spend",
    "influenceable_spend",
    "covered_spend",
    "on_agreement_spend",
    "off_agreement_spend",
    "shared_covered_spend",
    "shared_on_agreement_spend",
    "unclassified_spend",
    "unknown_art_spend",
    "national_covered_spend",
    "national_on_agreement_spend",
    "local_covered_spend",
    "local_on_agreement_spend",
    "supplier_agreement_spend",
)
RATIOS = (
    "coverage",
    "loyalty",
    "shared_coverage",
    "shared_loyalty",
    "supplier_loyalty",
    "national_coverage",
    "national_loyalty",
    "local_coverage",
    "local_loyalty",
)
COUNTS = ("spend_line_count",)

# Helpers: a valid Norwegian organisation number (else NULL), a supplier name as a key
# (lower case, '&' as 'and', punctuation as one space, legal forms off both ends), an
# item code without spaces and check digit, and a ratio that is NULL over 0.
MACROS = r"""
CREATE MACRO compact_no(raw) AS
    regexp_replace(regexp_replace(upper(replace(trim(raw), ' ', '')), '^NO', ''), 'MVA$', '');
CREATE MACRO org_no(raw) AS CASE
    WHEN regexp_full_match(compact_no(raw), '[0-9]{9}')
     AND list_sum(list_transform(range(9), i -> [3, 2, 7, 6, 5, 4, 3, 2, 1][i + 1]
         * cast(substr(compact_no(raw), i + 1, 1) AS INTEGER))) % 11 = 0
    THEN compact_no(raw) END;
CREATE MACRO name_key(name) AS nullif(regexp_replace(regexp_replace(
    trim(regexp_replace(replace(lower(name), '&', ' and '), '[^\p{L}\p{N}]+', ' ', 'g')),
    '( (as|asa|a s|aps|ab|oy|oyj|ltd|limited|plc))+$', ''),
    '^((as|asa|a s|aps|ab|oy|oyj|ltd|limited|plc) )+', ''), '');
CREATE MACRO item_key(code) AS nullif(split_part(replace(code, ' ', ''), '-', 1), '');
CREATE MACRO ratio(numerator, denominator) AS
    CASE WHEN denominator <> 0 THEN cast(numerator AS DOUBLE) / cast(denominator AS DOUBLE) END;
"""


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _cell(column: str) -> str:
    return f"nullif(trim({duckdb_identifier(column)}), '')"


def duckdb_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _spend_select(member_id: str, pattern: Path, profile_name: str) -> str:
    """One member's deliveries in standard columns: a SELECT over read_csv."""
    profile = yaml.safe_load((PROFILES / f"{profile_name}.yaml").read_text(encoding="utf-8"))
    if profile.get("format", "csv") != "csv" or profile.get("exclude_rows"):
        raise NotImplementedError(f"profile {profile_name}: only the demo's CSV profiles")
    dialect = profile.get("csv") or {}
    encoding = {"utf-8": "utf-8", "cp1252": "latin-1"}[dialect.get("encoding", "utf-8").lower()]
    fields = profile["fields"]

    def field(name: str) -> str:
        spec = fields.get(name)
        if spec is None:
            return "NULL"
        if "constant" in spec:
            return _literal(spec["constant"])
        return _cell(spec["column"])

    amount = field("amount_excl_vat")
    for separator in filter(None, [dialect.get("thousands"), "\u00a0"]):
        amount = f"replace({amount}, {_literal(separator)}, '')"
    if dialect.get("decimal", ".") != ".":
        amount = f"replace({amount}, {_literal(dialect['decimal'])}, '.')"
    date_format = (dialect.get("date_formats") or ["%Y-%m-%d"])[0]
    art_rule = profile.get("art") or {}
    if "column" in art_rule:
        art = _cell(art_rule["column"])
    else:
        start, length = art_rule["from_account"]["start"], art_rule["from_account"].get("length", 3)
        art = f"nullif(substr({field('account')}, {start}, {length}), '')"
    currency = f"upper(coalesce({field('currency')}, {_literal(profile.get('currency', 'NOK'))}))"
    delimiter, quote = dialect.get("delimiter", ","), dialect.get("quotechar", '"')
    source = (
        f"read_csv({_literal(pattern)}, header = true, all_varchar = true, "
        f"delim = {_literal(delimiter)}, quote = {_literal(quote)}, "
        f"encoding = {_literal(encoding)})"
    )
    return f"""
        SELECT {_literal(member_id)} AS municipality_id,
               cast(strptime({field("invoice_date")}, {_literal(date_format)}) AS DATE)
                   AS invoice_date,
               cast({amount} AS DECIMAL(18, 4)) AS amount_excl_vat,
               {currency} AS currency,
               {field("supplier_org_no")} AS supplier_org_no,
               {field("supplier_name")} AS supplier_name,
               {art} AS art,
               item_key({field("item_code")}) AS item_code
        FROM {source}"""


def compute(config_path: Path, con: duckdb.DuckDBPyConnection | None = None):
    """Create table `kpis` (municipality_kpis' columns) in `con` (a new in-memory database
    without one) from the cooperation's files; return the connection."""
    config_path = Path(config_path).resolve()
    root = config_path.parent
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    configured = config.get("reference") or {}
    reference = {
        name: root / configured[name] if configured.get(name) else default
        for name, default in DEFAULT_REFERENCE.items()
    }
    members = [str(member["id"]) for member in config["municipalities"]]
    spend = " UNION ALL ".join(
        _spend_select(str(member["id"]), root / entry["path"], entry["profile"])
        for member in config["municipalities"]
        for entry in member.get("spend") or []
    )
    registers = [root / entry["path"] for entry in config.get("supplier_registers") or []]
    agreements = [root / entry["path"] for entry in config["agreements"]]

    def csv(paths) -> str:
        listed = ", ".join(_literal(path) for path in paths)
        return f"read_csv([{listed}], header = true, all_varchar = true)"

    con = con or duckdb.connect()
    con.execute(MACROS)
    register = (
        csv(registers)
        if registers
        else "(SELECT NULL AS supplier_id, NULL AS org_no, NULL AS alias_type, "
        "NULL AS alias WHERE false)"
    )
    con.execute(f"""
    -- the spend lines that load: every delivered row with an exchange rate, amounts in NOK
    CREATE TEMP TABLE lines AS
    WITH delivered AS ({spend}),
    rates AS (
        SELECT currency, month, cast(rate_to_base AS DECIMAL(18, 8)) AS rate
        FROM {csv([reference["exchange_rates"]])}
    )
    SELECT d.municipality_id, d.invoice_date, d.supplier_org_no, d.supplier_name, d.art,
           d.item_code,
           CASE WHEN d.currency = 'NOK' THEN d.amount_excl_vat
                ELSE cast(round(cast(d.amount_excl_vat AS DECIMAL(38, 4))
                                * cast(r.rate AS DECIMAL(38, 8)), 4) AS DECIMAL(18, 4))
           END AS amount
    FROM delivered AS d
    LEFT JOIN rates AS r ON r.currency = d.currency AND r.month = strftime(d.invoice_date, '%Y-%m')
    WHERE d.currency = 'NOK' OR r.rate IS NOT NULL;

    -- the supplier register: each supplier's key, and its name and pattern aliases
    CREATE TEMP TABLE register AS
    SELECT trim(supplier_id) AS supplier_id, alias_type, trim(alias) AS alias,
           coalesce(max(org_no(org_no)) OVER (PARTITION BY trim(supplier_id)),
                    'register:' || trim(supplier_id)) AS supplier_key
    FROM {register};

    -- a supplier as agreements, rules and exclusions name it: a register id or a number
    CREATE TEMP MACRO named(reference) AS coalesce(
        (SELECT any_value(supplier_key) FROM register WHERE supplier_id = trim(reference)),
        org_no(reference));

    -- rule 5: each distinct delivered supplier's identity (None: not identified)
    CREATE TEMP TABLE identities AS
    WITH suppliers AS (
        SELECT DISTINCT municipality_id, supplier_org_no, supplier_name FROM lines
    ),
    patterns AS (
        SELECT s.supplier_name, CASE WHEN count(DISTINCT r.supplier_id) = 1
                                     THEN any_value(r.supplier_key) END AS supplier_key
        FROM (SELECT DISTINCT supplier_name FROM suppliers) AS s
        JOIN register AS r ON r.alias_type = 'name_pattern'
         AND regexp_matches(s.supplier_name, r.alias, 'i')
        GROUP BY s.supplier_name
    ),
    names AS (
        SELECT DISTINCT name_key(alias) AS name, supplier_key FROM register
        WHERE alias_type = 'name'
    )
    SELECT s.municipality_id, coalesce(s.supplier_org_no, '') AS supplier_org_no,
           coalesce(s.supplier_name, '') AS supplier_name,
           coalesce(org_no(s.supplier_org_no), n.supplier_key, p.supplier_key) AS supplier_key
    FROM suppliers AS s
    LEFT JOIN names AS n ON n.name = name_key(s.supplier_name)
    LEFT JOIN patterns AS p ON p.supplier_name = s.supplier_name;

    -- the agreements: one row per agreement, category and participating member
    CREATE TEMP TABLE agreement_terms AS
    WITH agreements AS (SELECT * FROM {csv(agreements)})
    SELECT a.agreement_id, a.scope, trim(category.id) AS category_id,
           member.id AS municipality_id,
           cast(a.valid_from AS DATE) AS valid_from, cast(a.valid_to AS DATE) AS valid_to
    FROM agreements AS a,
         unnest(string_split(a.category_ids, ';')) AS category(id),
         unnest({members!r}::VARCHAR[]) AS member(id)
    WHERE trim(category.id) <> ''
      AND (trim(a.participants) = '*'
           OR list_contains(list_transform(string_split(a.participants, ';'), x -> trim(x)),
                            member.id));
    CREATE TEMP TABLE agreement_suppliers AS
    SELECT DISTINCT agreement_id, named(supplier.reference) AS supplier_key
    FROM {csv(agreements)}, unnest(string_split(supplier_org_nos, ';')) AS supplier(reference)
    WHERE named(supplier.reference) IS NOT NULL;

    -- rules 1 and 2: influenceable, category
    CREATE TEMP TABLE classified AS
    WITH arts AS (SELECT art, is_influenceable = 'true' AS influenceable
                  FROM {csv([reference["kostra_arts"]])}),
    rules AS (SELECT rule_type, pattern, category_id
              FROM {csv([reference["classification_rules"]])}),
    excluded AS (SELECT DISTINCT named(supplier_org_no) AS supplier_key
                 FROM {csv([reference["excluded_suppliers"]])}),
    supplier_rules AS (
        SELECT named(pattern) AS supplier_key, min(category_id) AS category_id
        FROM rules WHERE rule_type = 'supplier' GROUP BY ALL
    ),
    item_rules AS (
        SELECT item_key(pattern) AS prefix, category_id FROM rules WHERE rule_type = 'item_code'
    ),
    item_codes AS (
        SELECT code.item_code, arg_min(r.category_id, (-length(r.prefix), r.category_id))
                               AS category_id
        FROM (SELECT DISTINCT item_code FROM lines WHERE item_code IS NOT NULL) AS code
        JOIN item_rules AS r ON starts_with(code.item_code, r.prefix)
        GROUP BY code.item_code
    ),
    keyed AS (
        SELECT l.*, i.supplier_key, a.art IS NOT NULL AS art_known,
               coalesce(a.influenceable, false) AND e.supplier_key IS NULL AS influenceable
        FROM lines AS l
        JOIN identities AS i ON i.municipality_id = l.municipality_id
         AND i.supplier_org_no = coalesce(l.supplier_org_no, '')
         AND i.supplier_name = coalesce(l.supplier_name, '')
        LEFT JOIN arts AS a ON a.art = l.art
        LEFT JOIN excluded AS e ON e.supplier_key = i.supplier_key
    )
    SELECT k.municipality_id, k.invoice_date, k.amount, k.art_known,
           coalesce(k.supplier_key, '') AS supplier_key,  -- '': not identified
           k.influenceable,
           CASE WHEN k.influenceable THEN coalesce(c.category_id, s.category_id, r.category_id,
                                                   'unclassified') END AS category_id
    FROM keyed AS k
    LEFT JOIN item_codes AS c ON c.item_code = k.item_code
    LEFT JOIN supplier_rules AS s ON s.supplier_key = k.supplier_key
    LEFT JOIN rules AS r ON r.rule_type = 'art' AND r.pattern = k.art;

    -- rules 3-6 and 10 per distinct (member, day, category, supplier) of influenceable lines
    CREATE TEMP TABLE flags AS
    WITH keys AS (
        SELECT DISTINCT municipality_id, invoice_date, category_id, supplier_key
        FROM classified WHERE influenceable
    ),
    active AS (
        SELECT k.municipality_id, k.invoice_date, k.category_id, k.supplier_key, t.scope,
               s.agreement_id IS NOT NULL AS supplier_on
        FROM keys AS k
        JOIN agreement_terms AS t ON t.category_id = k.category_id
         AND t.municipality_id = k.municipality_id
         AND k.invoice_date BETWEEN t.valid_from AND t.valid_to
        LEFT JOIN agreement_suppliers AS s ON s.agreement_id = t.agreement_id
         AND s.supplier_key = k.supplier_key
    ),
    covered AS (
        SELECT municipality_id, invoice_date, category_id, supplier_key,
               true AS covered, bool_or(supplier_on) AS on_agreement,
               bool_or(scope = 'national') AS national_covered,
               bool_or(scope = 'national' AND supplier_on) AS national_on,
               bool_or(scope = 'cooperation') AS shared_covered,
               bool_or(scope = 'cooperation' AND supplier_on) AS shared_on,
               bool_or(scope = 'local') AS local_covered,
               bool_or(scope = 'local' AND supplier_on) AS local_on
        FROM active GROUP BY ALL
    ),
    holders AS (  -- rule 10: the supplier holds an agreement with the member that day
        SELECT DISTINCT k.municipality_id, k.invoice_date, k.supplier_key
        FROM (SELECT DISTINCT municipality_id, invoice_date, supplier_key FROM keys) AS k
        JOIN agreement_suppliers AS s ON s.supplier_key = k.supplier_key
        JOIN (SELECT DISTINCT agreement_id, municipality_id, valid_from, valid_to
              FROM agreement_terms) AS t
          ON t.agreement_id = s.agreement_id AND t.municipality_id = k.municipality_id
         AND k.invoice_date BETWEEN t.valid_from AND t.valid_to
    )
    SELECT k.*, c.* EXCLUDE (municipality_id, invoice_date, category_id, supplier_key),
           h.supplier_key IS NOT NULL AS holds_agreement
    FROM keys AS k
    LEFT JOIN covered AS c ON c.municipality_id = k.municipality_id
     AND c.invoice_date = k.invoice_date AND c.category_id = k.category_id
     AND c.supplier_key = k.supplier_key
    LEFT JOIN holders AS h ON h.municipality_id = k.municipality_id
     AND h.invoice_date = k.invoice_date AND h.supplier_key = k.supplier_key;

    -- rules 4-8: sums per member and year and for the cooperation ('ALL'), then ratios
    CREATE TEMP TABLE kpis AS
    WITH sums AS (
        SELECT coalesce(l.municipality_id, 'ALL') AS municipality_id,
               year(l.invoice_date) AS year,
               sum(l.amount) AS total_spend,
               sum(CASE WHEN l.influenceable THEN l.amount ELSE 0 END) AS influenceable_spend,
               sum(CASE WHEN NOT l.art_known THEN l.amount ELSE 0 END) AS unknown_art_spend,
               sum(CASE WHEN f.covered THEN l.amount ELSE 0 END) AS covered_spend,
               sum(CASE WHEN f.on_agreement THEN l.amount ELSE 0 END) AS on_agreement_spend,
               sum(CASE WHEN f.national_covered THEN l.amount ELSE 0 END)
                   AS national_covered_spend,
               sum(CASE WHEN f.national_on THEN l.amount ELSE 0 END)
                   AS national_on_agreement_spend,
               sum(CASE WHEN f.shared_covered THEN l.amount ELSE 0 END) AS shared_covered_spend,
               sum(CASE WHEN f.shared_on THEN l.amount ELSE 0 END) AS shared_on_agreement_spend,
               sum(CASE WHEN f.local_covered THEN l.amount ELSE 0 END) AS local_covered_spend,
               sum(CASE WHEN f.local_on THEN l.amount ELSE 0 END) AS local_on_agreement_spend,
               sum(CASE WHEN l.category_id = 'unclassified' THEN l.amount ELSE 0 END)
                   AS unclassified_spend,
               sum(CASE WHEN f.holds_agreement THEN l.amount ELSE 0 END)
                   AS supplier_agreement_spend,
               count(*) AS spend_line_count
        FROM classified AS l
        LEFT JOIN flags AS f  -- only influenceable lines have a category
          ON f.municipality_id = l.municipality_id AND f.invoice_date = l.invoice_date
         AND f.category_id = l.category_id AND f.supplier_key = l.supplier_key
        GROUP BY GROUPING SETS ((l.municipality_id, year(l.invoice_date)),
                                (year(l.invoice_date)))
    )
    SELECT *, covered_spend - on_agreement_spend AS off_agreement_spend,
           ratio(covered_spend, influenceable_spend) AS coverage,
           ratio(on_agreement_spend, covered_spend) AS loyalty,
           ratio(shared_covered_spend, influenceable_spend) AS shared_coverage,
           ratio(shared_on_agreement_spend, shared_covered_spend) AS shared_loyalty,
           ratio(national_covered_spend, influenceable_spend) AS national_coverage,
           ratio(national_on_agreement_spend, national_covered_spend) AS national_loyalty,
           ratio(local_covered_spend, influenceable_spend) AS local_coverage,
           ratio(local_on_agreement_spend, local_covered_spend) AS local_loyalty,
           ratio(supplier_agreement_spend, influenceable_spend) AS supplier_loyalty
    FROM sums;
    """)
    return con


def differences(con: duckdb.DuckDBPyConnection, snapshot: Path) -> list[str]:
    """Where table `kpis` and the snapshot's marts.municipality_kpis disagree (empty: they
    agree): a row on one side only, an amount off by more than 0.01, a ratio by more than
    1e-9 or defined on one side only, a line count."""
    con.execute(f"ATTACH {_literal(snapshot)} AS snapshot (READ_ONLY)")
    try:
        checks = [
            f"abs(coalesce(r.{c}, 0) - coalesce(s.{c}, 0)) > {AMOUNT_TOLERANCE}" for c in AMOUNTS
        ]
        checks += [
            f"(r.{c} IS NULL) <> (s.{c} IS NULL) OR abs(r.{c} - s.{c}) > {RATIO_TOLERANCE}"
            for c in RATIOS
        ]
        checks += [f"r.{c} IS DISTINCT FROM s.{c}" for c in COUNTS]
        columns = ", ".join(
            f"CASE WHEN {check} THEN '{name}: reference ' || coalesce(cast(r.{name} AS VARCHAR), "
            f"'NULL') || ', snapshot ' || coalesce(cast(s.{name} AS VARCHAR), 'NULL') END"
            for check, name in zip(checks, AMOUNTS + RATIOS + COUNTS, strict=True)
        )
        rows = con.execute(f"""
            SELECT coalesce(r.municipality_id, s.municipality_id) AS municipality_id,
                   coalesce(r.year, s.year) AS year,
                   r.municipality_id IS NULL AS snapshot_only,
                   s.municipality_id IS NULL AS reference_only,
                   list_filter([{columns}], x -> x IS NOT NULL) AS problems
            FROM kpis AS r
            FULL OUTER JOIN snapshot.marts.municipality_kpis AS s
              ON s.municipality_id = r.municipality_id AND s.year = r.year
            ORDER BY 1, 2
        """).fetchall()
    finally:
        con.execute("DETACH snapshot")
    found = []
    for member, year, snapshot_only, reference_only, problems in rows:
        if snapshot_only or reference_only:
            side = "the snapshot" if snapshot_only else "the reference"
            found.append(f"{member} {year}: a row only in {side}")
        else:
            found += [f"{member} {year} {problem}" for problem in problems]
    return found


def snapshot_of(config_path: Path) -> Path:
    from pipelines.settings import load_config

    return load_config(config_path).snapshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--snapshot", type=Path, help="default: the cooperation's published one")
    parser.add_argument("--no-check", action="store_true", help="compute only")
    args = parser.parse_args(argv)
    started = time.monotonic()
    con = compute(args.config)
    (lines,) = con.execute(
        "SELECT sum(spend_line_count) FROM kpis WHERE municipality_id = 'ALL'"
    ).fetchone()
    print(f"reference: {lines or 0:,} lines, computed in {time.monotonic() - started:.2f} s")
    if args.no_check:
        return 0
    snapshot = args.snapshot or snapshot_of(args.config)
    found = differences(con, snapshot)
    if found:
        print(f"reference: {len(found)} differences from {snapshot}:", file=sys.stderr)
        for problem in found[:20]:
            print(f"  {problem}", file=sys.stderr)
        return 1
    count = con.execute("SELECT count(*) FROM kpis").fetchone()[0]
    print(f"reference: municipality_kpis agrees with {snapshot} ({count} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
