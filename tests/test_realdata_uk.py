"""Real UK council payments onboarded with a source profile each and no loader change.

Every record of each of the fourteen published files (Calderdale and Harrogate, 2021-01..06,
in /work/shared/realdata/uk-councils; Wakefield's two quarters of purchase-card
transactions, whose column names differ, in /work/shared/realdata/uk-wakefield) is loaded,
excluded or rejected with a reason, and the loaded amounts plus the excluded and rejected
ones equal the file's own sum of its net amount column, to the penny. The expected counts
and sums are computed here, independently of the loader, with the csv module and Decimal.
"""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb
import pytest

from pipelines.profiles import load_profile
from pipelines.register_loader import read_agreements
from pipelines.settings import PROJECT_ROOT, load_config
from pipelines.spend_loader import load_spend_file
from pipelines.warehouse import create_raw_schema

pytestmark = pytest.mark.xdist_group("realdata")

REALDATA = PROJECT_ROOT.parent / "shared" / "realdata" / "uk-councils"
WAKEFIELD = PROJECT_ROOT.parent / "shared" / "realdata" / "uk-wakefield"
WAKEFIELD_FILES = ("2021-Q3-card.csv", "2021-Q4.csv")
WAKEFIELD_ID = "E08000036"
EXAMPLE = PROJECT_ROOT / "data_contracts" / "examples" / "uk-councils" / "cooperation.yml"
MONTHS = ("2021-01", "2021-02", "2021-03", "2021-04", "2021-05", "2021-06")
# council folder -> (profile, member id as in the example cooperation.yml)
COUNCILS = {
    "calderdale": ("uk-calderdale", "E08000033"),
    "harrogate": ("uk-harrogate", "E07000165"),
}
NET_AMOUNT = "Net Amount"
CASES = [(council, month) for council in COUNCILS for month in MONTHS]


def _realdata_file(council: str, month: str) -> Path:
    return _present(REALDATA / council / f"{month}.csv")


def _present(path: Path) -> Path:
    if not path.is_file():
        pytest.fail(
            f"real data file missing: {path}. The UK council payment files must be present "
            "in shared/realdata (next to the repository, as in CI); this test does not skip.",
            pytrace=False,
        )
    return path


def _independent_count_and_sum(path: Path) -> tuple[int, Decimal]:
    """Records after the header (blank lines are no record) and the net amount's sum."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        index = header.index(NET_AMOUNT)
        count, total = 0, Decimal(0)
        for record in reader:
            if not record:
                continue
            count += 1
            total += Decimal(record[index].strip().replace(",", ""))
    return count, total


def _rejected_amount(raw_row: str) -> Decimal:
    """A rejected (or excluded) row's net amount, when it can be read back from the raw row."""
    try:
        value = json.loads(raw_row).get(NET_AMOUNT)
        return Decimal(str(value).strip().replace(",", "")) if value else Decimal(0)
    except (ValueError, AttributeError, InvalidOperation):
        return Decimal(0)


@pytest.fixture
def warehouse(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "uk.duckdb"))
    create_raw_schema(connection)
    yield connection
    connection.close()


def _outcomes(warehouse: duckdb.DuckDBPyConnection, path: Path, result) -> Decimal:
    """Check that every record of `path` is loaded, excluded or rejected with a reason and that
    the amounts add up to the file's own total; return the loaded sum."""
    expected_rows, expected_sum = _independent_count_and_sum(path)
    assert result.status == "loaded", result.message
    assert result.rows_read == expected_rows
    assert result.rows_read == result.rows_loaded + result.rows_excluded + result.rows_rejected
    loaded_sum, loaded_rows = warehouse.execute(
        "SELECT coalesce(sum(amount_excl_vat), 0), count(*) FROM raw.spend_lines "
        "WHERE delivery_id = ?",
        [result.delivery_id],
    ).fetchone()
    left_out = {}
    for table in ("rejected_rows", "excluded_rows"):
        left_out[table] = warehouse.execute(
            f"SELECT source_row, reason, raw_row FROM raw.{table} WHERE delivery_id = ? "
            "ORDER BY source_row",
            [result.delivery_id],
        ).fetchall()
        for source_row, reason, _ in left_out[table]:
            print(f"{path.name} row {source_row} {table.split('_')[0]}: {reason}")
        assert all(reason and reason.strip() for _, reason, _ in left_out[table])
    assert loaded_rows == result.rows_loaded
    assert len(left_out["rejected_rows"]) == result.rows_rejected
    assert len(left_out["excluded_rows"]) == result.rows_excluded
    rows = set(range(1, expected_rows + 1))
    accounted = [
        r[0]
        for r in warehouse.execute(
            "SELECT source_row FROM raw.spend_lines WHERE delivery_id = ? UNION ALL "
            "SELECT source_row FROM raw.rejected_rows WHERE delivery_id = ? UNION ALL "
            "SELECT source_row FROM raw.excluded_rows WHERE delivery_id = ?",
            [result.delivery_id] * 3,
        ).fetchall()
    ]
    assert sorted(accounted) == sorted(rows), "each record exactly once"
    left_out_sum = sum(
        (_rejected_amount(raw) for table in left_out.values() for _, _, raw in table), Decimal(0)
    )
    assert loaded_sum + left_out_sum == expected_sum, (
        f"{path}: loaded {loaded_sum} + excluded/rejected {left_out_sum} != file {expected_sum}"
    )
    assert result.amount_loaded == loaded_sum
    return loaded_sum


@pytest.mark.parametrize(("council", "month"), CASES, ids=[f"{c}-{m}" for c, m in CASES])
def test_every_row_is_loaded_or_rejected_and_the_sums_reconcile(
    warehouse: duckdb.DuckDBPyConnection, council: str, month: str
):
    path = _realdata_file(council, month)
    profile_name, member_id = COUNCILS[council]
    profile = load_profile(profile_name, PROJECT_ROOT)

    result = load_spend_file(warehouse, path, member_id, profile, "GB", "GBP")

    _outcomes(warehouse, path, result)
    without_art, currencies, with_number, not_company_numbers = warehouse.execute(
        "SELECT count(*) FILTER (art IS NULL), list(DISTINCT currency), "
        "count(supplier_org_no_raw), "
        "count(*) FILTER (is_supplier_org_no_valid AND length(supplier_org_no) <> 8) "
        "FROM raw.spend_lines WHERE delivery_id = ?",
        [result.delivery_id],
    ).fetchone()
    # the profile's mapping covers every expense code / category of the six months
    assert without_art == 0, f"{without_art} loaded rows of {path.name} have no KOSTRA art"
    assert currencies == ["GBP"]
    # UK company numbers are kept as written; one that verifies is 8 characters
    assert not_company_numbers == 0
    assert (with_number > 0) == (council == "calderdale")


def _wakefield_expected(path: Path) -> tuple[list[str], list[str]]:
    """Per record, independently of the loader: the directorate and SeRCOP service codes
    under whichever header this quarter uses, and the expense description."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        names = reader.fieldnames or []
        directorate = "Directorate" if "Directorate" in names else "Service"
        service = "Service (Sercop)" if "Service (Sercop)" in names else "Bvacopse"
        departments, accounts = [], []
        for record in reader:
            departments.append(f"{record[directorate].strip()} {record[service].strip()}")
            accounts.append(record["Purpose Of Spend"].strip())
    return departments, accounts


@pytest.mark.parametrize("name", WAKEFIELD_FILES)
def test_wakefield_quarters_load_under_either_header_and_reconcile(
    warehouse: duckdb.DuckDBPyConnection, name: str
):
    path = _present(WAKEFIELD / name)
    profile = load_profile("uk-wakefield", PROJECT_ROOT)
    result = load_spend_file(warehouse, path, WAKEFIELD_ID, profile, "GB", "GBP")

    loaded_sum = _outcomes(warehouse, path, result)
    print(f"{name}: {result.message}, {loaded_sum} GBP")
    departments, accounts = _wakefield_expected(path)
    lines = warehouse.execute(
        "SELECT source_row, department, account, art, supplier_org_no_raw, currency "
        "FROM raw.spend_lines WHERE delivery_id = ? ORDER BY source_row",
        [result.delivery_id],
    ).fetchall()
    for source_row, department, account, art, number, currency in lines:
        assert department == departments[source_row - 1], source_row
        assert account == accounts[source_row - 1], source_row
        assert art is not None, f"{name} row {source_row}: {account!r} has no art"
        assert number is None and currency == "GBP"


def test_wakefield_art_by_expense_description_and_payee(warehouse: duckdb.DuckDBPyConnection):
    profile = load_profile("uk-wakefield", PROJECT_ROOT)
    for name in WAKEFIELD_FILES:
        path = _present(WAKEFIELD / name)
        assert load_spend_file(warehouse, path, WAKEFIELD_ID, profile, "GB", "GBP").rows_loaded
    arts = dict(
        warehouse.execute(
            "SELECT account || ' / ' || coalesce(supplier_name, ''), list(DISTINCT art) "
            "FROM raw.spend_lines WHERE account IN ('Legal Fees', 'Court Costs') GROUP BY 1"
        ).fetchall()
    )
    assert arts["Legal Fees / LAND REGISTRY"] == ["300"]  # the state, by payee
    assert arts["Legal Fees / WWW.THELAWSOCIETY.ORG"] == ["270"]  # the code's own art
    assert arts["Court Costs / DERBYSHIRE COUNTY COUNCIL"] == ["330"]
    assert arts["Court Costs / HMCTS SALFORD689"] == ["300"]


def test_wakefield_with_a_header_renamed_a_third_time_is_rejected(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
):
    text = (WAKEFIELD / WAKEFIELD_FILES[1]).read_text(encoding="utf-8-sig")
    header, rest = text.split("\n", 1)
    renamed = tmp_path / "2022-Q1.csv"
    renamed.write_text(header.replace("Service,", "Dept,", 1) + "\n" + rest, encoding="utf-8")
    result = load_spend_file(
        warehouse, renamed, WAKEFIELD_ID, load_profile("uk-wakefield", PROJECT_ROOT), "GB", "GBP"
    )
    assert result.status == "rejected"
    assert "missing required column 'Directorate' or 'Service' for department" in result.message


def test_wakefield_with_row_filters_excludes_and_still_reconciles(
    warehouse: duckdb.DuckDBPyConnection, tmp_path: Path
):
    """The same real quarter through the profile plus row filters (an illustration: the
    shipped profile has none): support to clients and zero amounts are excluded with their
    reason, and loaded + excluded still equal the file's own total."""
    shipped = PROJECT_ROOT / "data_contracts" / "profiles" / "uk-wakefield.yaml"
    mapping = shipped.parent / "mappings" / "uk-wakefield-purpose-of-spend.csv"
    text = shipped.read_text(encoding="utf-8").replace(
        "mappings/uk-wakefield-purpose-of-spend.csv", str(mapping)
    )
    text += (
        "exclude_rows:\n"
        "  - column: Purpose Of Spend\n"
        "    matches: '(?i)allowance|section 17|^s17 |personal needs'\n"
        "    reason: support to a client, not procurement\n"
        "  - {column: Net Amount, one_of: ['0.00', '0'], reason: zero amount}\n"
    )
    (tmp_path / "filtered.yaml").write_text(text, encoding="utf-8")
    profile = load_profile("filtered.yaml", tmp_path)
    path = _present(WAKEFIELD / WAKEFIELD_FILES[1])
    result = load_spend_file(warehouse, path, WAKEFIELD_ID, profile, "GB", "GBP")

    _outcomes(warehouse, path, result)
    reasons = dict(
        warehouse.execute(
            "SELECT reason, count(*) FROM raw.excluded_rows GROUP BY reason"
        ).fetchall()
    )
    with open(path, encoding="utf-8-sig", newline="") as handle:
        records = list(csv.DictReader(handle))
    support = [
        r
        for r in records
        if any(
            word in r["Purpose Of Spend"].lower()
            for word in ("allowance", "section 17", "personal needs")
        )
        or r["Purpose Of Spend"].lower().startswith("s17 ")
    ]
    zero = [r for r in records if r not in support and r["Net Amount"] in ("0.00", "0")]
    assert reasons == {
        "support to a client, not procurement": len(support),
        "zero amount": len(zero),
    }
    assert result.rows_excluded == len(support) + len(zero) > 0


def test_mapped_arts_are_kostra_arts():
    with open(
        PROJECT_ROOT / "dbt_project" / "seeds" / "kostra_arts.csv", encoding="utf-8", newline=""
    ) as handle:
        arts = {row["art"] for row in csv.DictReader(handle)}
    for profile_name in [name for name, _ in COUNCILS.values()] + ["uk-wakefield"]:
        mapping = load_profile(profile_name, PROJECT_ROOT).art.account_mapping
        assert mapping, profile_name
        unknown = sorted({row.art for row in mapping} - arts)
        assert not unknown, f"{profile_name}: not KOSTRA arts: {unknown}"


def test_the_example_cooperation_validates():
    for council in COUNCILS:
        _realdata_file(council, MONTHS[0])
    cooperation = load_config(EXAMPLE)
    assert cooperation.country == "GB" and cooperation.currency == "GBP"
    assert cooperation.member_ids == [member for _, member in COUNCILS.values()] + [WAKEFIELD_ID]
    expected_files = {member: [f"{m}.csv" for m in MONTHS] for _, member in COUNCILS.values()} | {
        WAKEFIELD_ID: list(WAKEFIELD_FILES)
    }
    for member in cooperation.members:
        (source,) = member.spend
        assert [p.name for p in source.files()] == expected_files[member.id]
        load_profile(source.profile, cooperation.root)
    (register,) = cooperation.agreements
    assert [p.name for p in register.files()] == ["agreements.csv"]
    assert read_agreements(cooperation).agreements == []  # a header-only register is accepted


def test_the_example_publishes_with_gb_settings_and_matches_the_oracle(tmp_path):
    """`samkjop run` on the shipped example: GB organisation numbers, GBP, the UK's own
    thresholds, catch-all payees and a supplier register; the real files of three councils
    publish, every file reconciles, and the key figures and threshold crossings equal the
    independent implementation's."""
    from tests.test_cli_end_to_end import _check_against_oracle, _rows, samkjop

    example = tmp_path / "uk-councils"
    shutil.copytree(EXAMPLE.parent, example, ignore=shutil.ignore_patterns("warehouse"))
    config = example / "cooperation.yml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "../../../../shared/", f"{PROJECT_ROOT.parent}/shared/"
        ),
        encoding="utf-8",
    )

    result = samkjop("run", "--config", str(config))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "PARTIAL year" in result.stdout  # no member delivered a whole year
    snapshot = example / "warehouse" / "samkjop.snapshot.duckdb"
    deliveries = _rows(snapshot, "SELECT * FROM marts.delivery_reconciliation")
    assert len(deliveries) == 14 and {d["status"] for d in deliveries} == {"loaded"}
    assert all(
        d["rows_read"] == d["rows_loaded"] + d["rows_rejected"] + d["rows_excluded"]
        for d in deliveries
    )
    _check_against_oracle(config)
    flags = _rows(snapshot, "SELECT DISTINCT threshold FROM marts.threshold_flags")
    assert {f["threshold"] for f in flags} <= {214904, 5372609} and flags
    (amazon,) = _rows(
        snapshot,
        "SELECT count(*) AS n FROM marts.fct_spend_lines "
        "WHERE supplier_key = 'register:amazon' AND supplier_identified_by = 'name_pattern'",
    )
    assert amazon["n"] > 4000  # AMZNMktplace, AMAZON, AMZ Amazon.co.uk ... are one supplier
    payees = _rows(snapshot, "SELECT DISTINCT reason FROM marts.possible_duplicate_payees")
    assert "catch-all payee (pattern ^redacted( |-|$))" in {p["reason"] for p in payees}
