"""Property: whatever damage a delivery carries, rows read = loaded + rejected, and the
loaded amount is exactly the sum of the rows that loaded; a delivery of which no row loads
is rejected. (tests/test_csv_lines_property.py follows every physical line.)"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.profiles import load_profile
from pipelines.spend_loader import load_spend_file
from pipelines.warehouse import create_raw_schema
from tests.conftest import CANONICAL_HEADER

GOOD = "5035,F{n},1,2024-03-05,923609016,Data AS,11500,115,{amount},NOK,,,,,"
DAMAGE = [
    "5035,F{n},1,2024-02-30,923609016,Data AS,11500,115,10.00,NOK,,,,,",  # impossible date
    "5035,F{n},1,2024-03-05,923609016,Data AS,11500,115,ti,NOK,,,,,",  # not a number
    "5035,,1,2024-03-05,923609016,Data AS,11500,115,10.00,NOK,,,,,",  # missing invoice id
    "5035,F{n},1,2024-03-05",  # too few fields
    "5035,F{n},1,2024-03-05,1,2,3,4,5,6,7,8,9,10,11,12",  # too many fields
    "5032,F{n},1,2024-03-05,923609016,Data AS,11500,115,10.00,NOK,,,,,",  # another member
    '5035,F{n},1,2024-03-05,923609016,"Quoted, ""name""\nwith newline",11500,115,1.5,NOK,,,,,',
    "5035,F{n},1,2024-03-05,12345,Bad orgno,11500,999,7.25,NOK,,,,,",  # loads, unverified
    "5035,F{n},1,2024-03-05,923609016,Data AS,11500,115,10.00,kroner,,,,,",  # bad currency
    "5035,F{n},1,2024-03-05,923609016,Data AS,11500,115,1e+15,NOK,,,,,",  # beyond max_amount
    "5035,F{n},1,2100-12-31,923609016,Data AS,11500,115,10.00,NOK,,,,,",  # a far-off date
    '5035,F{n},1,2024-03-05,923609016,"Data AS,11500,115,10.00,NOK,,,,,',  # a stray quote
]
rows = st.lists(
    st.one_of(
        st.tuples(
            st.just("good"),
            st.decimals(
                min_value=-(10**6), max_value=10**6, places=2, allow_nan=False, allow_infinity=False
            ),
        ),
        st.tuples(st.just("damage"), st.integers(0, len(DAMAGE) - 1)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_reconciliation_holds_on_damaged_deliveries(generated):
    with tempfile.TemporaryDirectory() as folder:
        folder_path = Path(folder)
        lines, expected_amount = [], Decimal(0)
        for n, (kind, value) in enumerate(generated):
            if kind == "good":
                lines.append(GOOD.format(n=n, amount=value))
                expected_amount += value
            else:
                lines.append(DAMAGE[value].format(n=n))
                if value in (6, 7):
                    expected_amount += Decimal("1.5") if value == 6 else Decimal("7.25")
        path = folder_path / "delivery.csv"
        path.write_text(CANONICAL_HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
        con = duckdb.connect()  # in memory: fast
        try:
            create_raw_schema(con)
            result = load_spend_file(
                con, path, "5035", load_profile("canonical", folder_path), "NO", "NOK"
            )
            loaded = con.execute(
                "SELECT count(*), coalesce(sum(amount_excl_vat), 0) FROM raw.spend_lines"
            ).fetchone()
            rejected = con.execute(
                "SELECT count(*), count(reason) FROM raw.rejected_rows"
            ).fetchone()
        finally:
            con.close()
    assert result.status == ("loaded" if loaded[0] else "rejected")
    assert result.rows_read == len(generated)
    assert result.rows_read == result.rows_loaded + result.rows_rejected
    assert (result.rows_loaded, result.rows_rejected) == (loaded[0], rejected[0])
    assert rejected[0] == rejected[1]  # every rejected row has its reason
    assert loaded[1] == expected_amount
