"""Price lists (price_lists: in cooperation.yml): loaded after the agreement register and
checked against it; a bad row stops the run naming the file, row and column."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.price_list_loader import load_price_lists
from pipelines.register_loader import RegisterError, load_agreements
from pipelines.settings import load_config
from pipelines.warehouse import connect, create_raw_schema
from tests.conftest import CONFIG, write

HEADER = "agreement_id,supplier_org_no,item_id,unit_price,currency,valid_from,valid_to"
GOOD = [
    "A1,923609016,JB007,1273.50,NOK,2024-01-01,2024-06-30",
    "A1,923 609 016,JB007,1300,NOK,2024-07-01,2024-12-31",  # the next period of the item
    "A1,NO 916 750 439 MVA,JB007,99.9,eur,2024-01-01,2024-12-31",  # another supplier
]


def _load(innherred: Path, *rows: str) -> list[tuple]:
    return _load_text(innherred, "\n".join([HEADER, *rows]) + "\n")


def _load_text(innherred: Path, text: str) -> list[tuple]:
    write(innherred.parent / "prices.csv", text)
    write(
        innherred,
        CONFIG.replace("municipalities:", "price_lists:\n  - path: prices.csv\nmunicipalities:", 1),
    )
    cooperation = load_config(innherred)
    with connect(cooperation.warehouse) as con:
        create_raw_schema(con)
        load_agreements(con, cooperation)
        load_price_lists(con, cooperation)
        return con.execute(
            "SELECT * EXCLUDE (source_file) FROM raw.price_list ORDER BY source_row"
        ).fetchall()


def test_a_price_list_loads_with_validated_numbers(innherred: Path):
    rows = _load(innherred, *GOOD)
    assert rows == [
        (
            "A1",
            "923609016",
            "923609016",
            "JB007",
            Decimal("1273.5"),
            "NOK",
            date(2024, 1, 1),
            date(2024, 6, 30),
            1,
        ),
        (
            "A1",
            "923 609 016",
            "923609016",
            "JB007",
            Decimal("1300"),
            "NOK",
            date(2024, 7, 1),
            date(2024, 12, 31),
            2,
        ),
        (
            "A1",
            "NO 916 750 439 MVA",
            "916750439",
            "JB007",
            Decimal("99.9"),
            "EUR",
            date(2024, 1, 1),
            date(2024, 12, 31),
            3,
        ),
    ]


def test_without_price_lists_the_table_is_empty(innherred: Path):
    cooperation = load_config(innherred)
    with connect(cooperation.warehouse) as con:
        create_raw_schema(con)
        con.execute(
            "INSERT INTO raw.price_list VALUES ('A1', '1', '1', 'X', 1, 'NOK', "
            "'2024-01-01', '2024-01-02', 'old.csv', 1)"
        )
        load_agreements(con, cooperation)
        assert load_price_lists(con, cooperation) == 0
        assert con.execute("SELECT count(*) FROM raw.price_list").fetchone() == (0,)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "A9,923609016,JB007,10,NOK,2024-01-01,2024-12-31",
            "row 2, column 'agreement_id': 'A9' is not in the agreement register",
        ),
        (
            "A1,923609017,JB007,10,NOK,2024-01-01,2024-12-31",
            "row 2, column 'supplier_org_no': '923609017' is not a valid organisation number",
        ),
        (
            "A1,974760673,JB007,10,NOK,2024-01-01,2024-12-31",
            "row 2, column 'supplier_org_no': 974760673 is not a supplier of agreement 'A1'",
        ),
        (
            "A1,923609016,,10,NOK,2024-01-01,2024-12-31",
            "row 2, column 'item_id': a value is required",
        ),
        (
            'A1,923609016,JB008,"10,5",NOK,2024-01-01,2024-12-31',
            "row 2, column 'unit_price': '10,5' is not a number",
        ),
        (
            "A1,923609016,JB008,0,NOK,2024-01-01,2024-12-31",
            "row 2, column 'unit_price': 0 must be greater than 0",
        ),
        (
            "A1,923609016,JB008,NaN,NOK,2024-01-01,2024-12-31",
            "row 2, column 'unit_price': NaN must be greater than 0",
        ),
        (
            "A1,923609016,JB008,10,kroner,2024-01-01,2024-12-31",
            "row 2, column 'currency': 'KRONER' is not a 3-letter currency code",
        ),
        (
            "A1,923609016,JB008,10,NOK,01.01.2024,2024-12-31",
            "row 2, column 'valid_from': '01.01.2024' is not a date",
        ),
        (
            "A1,923609016,JB008,10,NOK,2024-12-31,2024-01-01",
            "row 2, column 'valid_to': 2024-01-01 is before valid_from 2024-12-31",
        ),
        (
            "A1,923609016,JB007,10,NOK,2024-06-30,2024-07-15",
            "row 2, column 'valid_from': item 'JB007' of 923609016 on agreement 'A1' already has "
            "a price for 2024-01-01 .. 2024-06-30",
        ),
    ],
)
def test_a_bad_row_stops_the_run_naming_file_row_and_column(
    innherred: Path, row: str, message: str
):
    with pytest.raises(RegisterError) as error:
        _load(innherred, GOOD[0], row)
    assert message in str(error.value)
    assert str(innherred.parent / "prices.csv") in str(error.value)


def test_a_missing_column_is_named(innherred: Path):
    with pytest.raises(RegisterError, match="prices.csv: missing column 'supplier_org_no'"):
        _load_text(innherred, "agreement_id,item_id\nA1,JB007\n")
