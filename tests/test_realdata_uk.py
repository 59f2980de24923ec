"""Real UK council payments onboarded with a source profile each and no loader change.

Every record of each of the twelve published files (Calderdale and Harrogate, 2021-01..06,
in /work/shared/realdata) is loaded or rejected with a reason, and the loaded amounts plus
the rejected ones equal the file's own sum of its net amount column, to the penny. The
expected counts and sums are computed here, independently of the loader, with the csv
module and Decimal.
"""

from __future__ import annotations

import csv
import json
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
    path = REALDATA / council / f"{month}.csv"
    if not path.is_file():
        pytest.fail(
            f"real data file missing: {path}. The UK council payment files must be present "
            "in shared/realdata/uk-councils (next to the repository, as in CI); this test "
            "does not skip.",
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
    """A rejected row's net amount, when it can be read back from the raw row."""
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


@pytest.mark.parametrize(("council", "month"), CASES, ids=[f"{c}-{m}" for c, m in CASES])
def test_every_row_is_loaded_or_rejected_and_the_sums_reconcile(
    warehouse: duckdb.DuckDBPyConnection, council: str, month: str
):
    path = _realdata_file(council, month)
    profile_name, member_id = COUNCILS[council]
    profile = load_profile(profile_name, PROJECT_ROOT)
    expected_rows, expected_sum = _independent_count_and_sum(path)

    result = load_spend_file(warehouse, path, member_id, profile, "GB", "GBP")

    assert result.status == "loaded", result.message
    assert result.rows_read == result.rows_loaded + result.rows_rejected == expected_rows
    loaded_sum, loaded_rows, without_art, currencies, with_number, verified = warehouse.execute(
        "SELECT coalesce(sum(amount_excl_vat), 0), count(*), count(*) FILTER (art IS NULL), "
        "list(DISTINCT currency), count(supplier_org_no_raw), "
        "count(*) FILTER (is_supplier_org_no_valid OR supplier_org_no IS NOT NULL) "
        "FROM raw.spend_lines WHERE delivery_id = ?",
        [result.delivery_id],
    ).fetchone()
    rejected = warehouse.execute(
        "SELECT source_row, reason, raw_row FROM raw.rejected_rows WHERE delivery_id = ? "
        "ORDER BY source_row",
        [result.delivery_id],
    ).fetchall()
    for source_row, reason, _ in rejected:
        print(f"{path.name} row {source_row} rejected: {reason}")
    assert loaded_rows == result.rows_loaded and len(rejected) == result.rows_rejected
    assert all(reason and reason.strip() for _, reason, _ in rejected)
    rejected_sum = sum((_rejected_amount(raw) for _, _, raw in rejected), Decimal(0))
    assert loaded_sum + rejected_sum == expected_sum, (
        f"{path}: loaded {loaded_sum} + rejected {rejected_sum} != file {expected_sum}"
    )
    assert result.amount_loaded == loaded_sum
    # the profile's mapping covers every expense code / category of the six months
    assert without_art == 0, f"{without_art} loaded rows of {path.name} have no KOSTRA art"
    assert currencies == ["GBP"]
    # UK company numbers are kept as written but never verified (no library validator)
    assert verified == 0
    assert (with_number > 0) == (council == "calderdale")


def test_mapped_arts_are_kostra_arts():
    with open(
        PROJECT_ROOT / "dbt_project" / "seeds" / "kostra_arts.csv", encoding="utf-8", newline=""
    ) as handle:
        arts = {row["art"] for row in csv.DictReader(handle)}
    for profile_name, _ in COUNCILS.values():
        mapping = load_profile(profile_name, PROJECT_ROOT).art.account_mapping
        assert mapping, profile_name
        unknown = sorted({art for _, art in mapping} - arts)
        assert not unknown, f"{profile_name}: not KOSTRA arts: {unknown}"


def test_the_example_cooperation_validates():
    for council in COUNCILS:
        _realdata_file(council, MONTHS[0])
    cooperation = load_config(EXAMPLE)
    assert cooperation.country == "GB" and cooperation.currency == "GBP"
    assert cooperation.member_ids == [member for _, member in COUNCILS.values()]
    for member in cooperation.members:
        (source,) = member.spend
        assert [p.name for p in source.files()] == [f"{m}.csv" for m in MONTHS]
        load_profile(source.profile, cooperation.root)
    (register,) = cooperation.agreements
    assert [p.name for p in register.files()] == ["agreements.csv"]
    assert read_agreements(cooperation).agreements == []  # a header-only register is accepted
