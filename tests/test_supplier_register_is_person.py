"""The supplier register's optional is_person column: a supplier marked a private person
(on any of its rows) is loaded with is_person true; a register without the column loads
as before; a value other than true/false/yes/no/1/0 stops naming the row and column."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.register_loader import RegisterError
from pipelines.settings import load_config
from pipelines.supplier_register_loader import load_supplier_register, read_supplier_register
from pipelines.warehouse import create_raw_schema
from tests.conftest import CONFIG, write

HEADER = "supplier_id,supplier_name,org_no,alias_type,alias,municipality_id,is_person"


def _config(innherred: Path, header: str, *rows: str) -> Path:
    write(innherred.parent / "leverandorer.csv", "\n".join([header, *rows]) + "\n")
    return write(
        innherred,
        CONFIG.replace(
            "municipalities:", "supplier_registers:\n  - path: leverandorer.csv\nmunicipalities:", 1
        ),
    )


def test_a_supplier_marked_on_any_row_is_a_person(innherred: Path) -> None:
    config = _config(
        innherred,
        HEADER,
        "S-OLA,Ola Nordmann,,name,Ola Nordmann,,",
        "S-OLA,,,local_id,L-7,5037,yes",
        "S-DATA,Data AS,923609016,name,DATA LIMITED,,false",
    )
    con = duckdb.connect()
    create_raw_schema(con)
    assert load_supplier_register(con, load_config(config)) == 3
    rows = con.execute(
        "SELECT supplier_id, bool_and(is_person), count(*) FROM raw.supplier_register "
        "GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert rows == [("S-DATA", False, 1), ("S-OLA", True, 2)]


def test_a_register_without_the_column_has_no_persons(innherred: Path) -> None:
    config = _config(innherred, HEADER.removesuffix(",is_person"), "S-IKS,Innherred IKS,,,,")
    register = read_supplier_register(load_config(config))
    assert [s.is_person for s in register.suppliers.values()] == [False]


def test_a_bad_value_names_the_row_and_the_column(innherred: Path) -> None:
    config = _config(innherred, HEADER, "S-OLA,Ola Nordmann,,,,,maybe")
    with pytest.raises(RegisterError) as error:
        read_supplier_register(load_config(config))
    assert "leverandorer.csv: row 1, column 'is_person'" in str(error.value)
    assert "'maybe' is not one of true, false, yes, no, 1, 0" in str(error.value)
