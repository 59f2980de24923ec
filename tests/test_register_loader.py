"""The agreement register's optional estimated_annual_volume column (agreement_followup)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.register_loader import RegisterError, load_agreements, read_agreements
from pipelines.settings import load_config
from pipelines.warehouse import create_raw_schema
from tests.conftest import AGREEMENTS_HEADER, write

ROWS = """
    A1,IT hardware,cooperation,it.hardware,923609016,*,2024-01-01,2024-12-31,0.0225,{a1}
    A2,Office,local,office.supplies,974760673,5037,2024-06-01,2025-05-31,,{a2}
"""


def _register(config: Path, a1: str, a2: str = "") -> Path:
    write(
        config.parent / "agreements.csv",
        AGREEMENTS_HEADER + ",estimated_annual_volume\n" + ROWS.format(a1=a1, a2=a2),
    )
    return config


def test_volume_is_loaded_into_the_last_column(innherred: Path) -> None:
    cooperation = load_config(_register(innherred, "2500000.50"))
    con = duckdb.connect()
    create_raw_schema(con)
    load_agreements(con, cooperation)
    rows = con.execute(
        "SELECT agreement_id, provision_rate, estimated_annual_volume "
        "FROM raw.agreements ORDER BY agreement_id"
    ).fetchall()
    assert rows == [("A1", Decimal("0.022500"), Decimal("2500000.5000")), ("A2", None, None)]


def test_register_without_the_column_still_loads(innherred: Path) -> None:
    # conftest's register has the columns of the first version of the format only
    tables = read_agreements(load_config(innherred))
    assert [row[0] for row in tables.agreements] == ["A1", "A2"]
    assert [row[-1] for row in tables.agreements] == [None, None]


@pytest.mark.parametrize(
    "value, problem",
    [
        ("2 500 000 kr", "is not a number"),
        ("-1000", "is not an amount from 0"),
        ("NaN", "is not an amount from 0"),
        ("1e20", "is not an amount from 0"),
    ],
)
def test_bad_volume_stops_the_run_naming_row_and_column(
    innherred: Path, value: str, problem: str
) -> None:
    cooperation = load_config(_register(innherred, "1000", value))
    with pytest.raises(RegisterError) as error:
        read_agreements(cooperation)
    message = str(error.value)
    assert "row 2, column 'estimated_annual_volume'" in message
    assert problem in message


def test_an_agreement_without_suppliers_loads_and_is_reported(innherred: Path) -> None:
    """supplier_org_nos is optional in the contract: a framework not yet awarded loads (its
    lines are covered, never on-agreement) and the run names it."""
    write(
        innherred.parent / "agreements.csv",
        AGREEMENTS_HEADER + "\nA9,Transport,local,office,,5037,2024-01-01,2024-12-31,\n",
    )
    con = duckdb.connect()
    create_raw_schema(con)
    tables = load_agreements(con, load_config(innherred))
    assert tables.without_suppliers == ["A9"]
    assert con.execute("SELECT agreement_id FROM raw.agreements").fetchall() == [("A9",)]
    assert con.execute("SELECT count(*) FROM raw.agreement_suppliers").fetchone() == (0,)
