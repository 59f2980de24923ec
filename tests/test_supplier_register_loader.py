"""The supplier register (supplier_registers: in cooperation.yml): loaded before the agreement
register; a bad row stops the run naming the file, the row and the column, and two rows that
contradict each other are both named."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.price_list_loader import load_price_lists
from pipelines.register_loader import (
    RegisterError,
    load_agreements,
    read_agreements,
    read_reference,
)
from pipelines.settings import load_config
from pipelines.supplier_register_loader import (
    load_supplier_register,
    normalize_supplier_name_sql,
    read_supplier_register,
)
from pipelines.warehouse import create_raw_schema
from tests.conftest import AGREEMENTS_HEADER, CONFIG, write

HEADER = "supplier_id,supplier_name,org_no,alias_type,alias,municipality_id"
GOOD = [
    "S-DATA,Data AS,923609016,name,DATA LIMITED,",
    "S-DATA,,,local_id,L-10442,5037",
    "S-CARD,Kortbutikken,,name_pattern,^kort ?(shop|butikk),",
    "S-CARD,Kortbutikken,,local_id,L-10442,",  # the same number for every other member
    "S-IKS,Innherred IKS,,,,",  # no aliases: named by its id only
]


def _config(innherred: Path, *rows: str) -> Path:
    write(innherred.parent / "leverandorer.csv", "\n".join([HEADER, *rows]) + "\n")
    return write(
        innherred,
        CONFIG.replace(
            "municipalities:", "supplier_registers:\n  - path: leverandorer.csv\nmunicipalities:", 1
        ),
    )


def _error(innherred: Path, *rows: str) -> str:
    with pytest.raises(RegisterError) as error:
        read_supplier_register(load_config(_config(innherred, *rows)))
    return str(error.value)


def test_the_register_loads_one_row_per_alias_with_its_suppliers_name_and_number(innherred):
    cooperation = load_config(_config(innherred, *GOOD))
    con = duckdb.connect()
    create_raw_schema(con)
    assert load_supplier_register(con, cooperation) == 5
    rows = con.execute(
        "SELECT * EXCLUDE (source_file, is_person) FROM raw.supplier_register ORDER BY source_row"
    ).fetchall()
    assert rows == [
        ("S-DATA", "Data AS", "923609016", "923609016", True, "name", "DATA LIMITED", None, 1),
        ("S-DATA", "Data AS", "923609016", "923609016", True, "local_id", "L-10442", "5037", 2),
        (
            "S-CARD",
            "Kortbutikken",
            None,
            None,
            False,
            "name_pattern",
            "^kort ?(shop|butikk)",
            None,
            3,
        ),
        ("S-CARD", "Kortbutikken", None, None, False, "local_id", "L-10442", None, 4),
        ("S-IKS", "Innherred IKS", None, None, False, None, None, None, 5),
    ]


def test_no_register_configured_loads_nothing(innherred):
    cooperation = load_config(innherred)
    con = duckdb.connect()
    create_raw_schema(con)
    assert load_supplier_register(con, cooperation) == 0


@pytest.mark.parametrize(
    "row, where, problem",
    [
        (",Acme,,,,", "column 'supplier_id'", "a value is required"),
        ("S-1;S-2,Acme,,,,", "column 'supplier_id'", "contains ';'"),
        ("923609016,Acme,,,,", "column 'supplier_id'", "is a valid organisation number"),
        ("S-1,Acme,123456789,,,", "column 'org_no'", "not a valid organisation number for NO"),
        ("S-1,Acme,,nickname,Acme,", "column 'alias_type'", "is not one of name, local_id"),
        ("S-1,Acme,,name,,", "column 'alias'", "a value is required"),
        ("S-1,Acme,,,Acme,", "column 'alias_type'", "a value is required"),
        ("S-1,Acme,,name,Acme,5037", "column 'municipality_id'", "only a local_id alias"),
        ("S-1,Acme,,local_id,L-1,9999", "column 'municipality_id'", "not a member"),
        ("S-1,Acme,,name,./-,", "column 'alias'", "has no letters or digits"),
        ("S-1,Acme,,name_pattern,^acme (ltd,", "column 'alias'", "DuckDB can run: missing )"),
        ("S-1,Acme,,name_pattern,.*,", "column 'alias'", "matches an empty name"),
    ],
)
def test_a_bad_row_stops_the_run_naming_file_row_and_column(innherred, row, where, problem):
    message = _error(innherred, GOOD[0], row)
    assert "leverandorer.csv: row 2, " + where in message
    assert problem in message


def test_a_pattern_duckdb_cannot_run_is_refused_though_python_accepts_it(innherred):
    # a look-behind is fine for Python's re but not for RE2, the engine that runs the models
    assert "DuckDB can run" in _error(innherred, "S-1,Acme,,name_pattern,(?<=x)acme,")


@pytest.mark.parametrize(
    "first, second, problem",
    [
        # one supplier, two names or numbers
        ("S-1,Acme,,,,", "S-1,Acme Ltd,,,,", "'Acme Ltd' differs from 'Acme'"),
        ("S-1,,923609016,,,", "S-1,,974760673,,,", "974760673 differs from 923609016"),
        # one number, two suppliers
        ("S-1,,923609016,,,", "S-2,,NO 923 609 016 MVA,,,", "already the number of supplier 'S-1'"),
        # one alias, two suppliers: the same normalised name (the dbt macro's rule)
        ("S-1,,,name,ACME LTD,", "S-2,,,name,Acme Limited,", "names supplier 'S-2' here and 'S-1'"),
        ("S-1,,,name,A&J Keith,", "S-2,,,name,A & J KEITH,", "normalised 'a and j keith'"),
        # the same vendor number for the same member, or for every member
        ("S-1,,,local_id,L-1,5037", "S-2,,,local_id,L-1,5037", "'L-1' of member 5037"),
        ("S-1,,,local_id,L-1,", "S-2,,,local_id,L-1,", "the local_id alias 'L-1' names"),
        ("S-1,,,name_pattern,^acme,", "S-2,,,name_pattern,^acme,", "the name_pattern alias"),
    ],
)
def test_contradicting_rows_are_an_error_naming_both(innherred, first, second, problem):
    message = _error(innherred, first, second)
    assert "leverandorer.csv: row 2" in message and "leverandorer.csv: row 1" in message
    assert problem in message


def test_one_supplier_may_repeat_an_alias_and_a_member_may_have_its_own_number(innherred):
    register = read_supplier_register(
        load_config(
            _config(
                innherred,
                "S-1,Acme,,name,Acme Ltd,",
                "S-1,,,name,ACME LIMITED,",  # the same supplier again: no conflict
                "S-1,,,local_id,L-1,5037",
                "S-2,Beta,,local_id,L-1,",  # all other members: the member's own wins
            )
        )
    )
    assert sorted(register.supplier_ids) == ["S-1", "S-2"]
    assert register.suppliers["S-1"].supplier_name == "Acme"


def test_name_keys_are_the_dbt_macros(innherred):
    """The loader compares names with the very SQL the models run (normalize_supplier_name)."""
    con = duckdb.connect()
    sql = f"SELECT {normalize_supplier_name_sql('n')} FROM (SELECT CAST(? AS VARCHAR) AS n)"
    keys = {name: con.execute(sql, [name]).fetchone()[0] for name in ("ACME LTD", "Oy Nokia Oyj")}
    assert keys == {"ACME LTD": "acme", "Oy Nokia Oyj": "nokia"}
    macro = (Path(__file__).parents[1] / "dbt_project/macros/supplier_names.sql").read_text()
    assert (
        "normalize_supplier_name" in macro and "as|asa|a s|aps|ab|oy|oyj|ltd|limited|plc" in macro
    )


# --- agreements, rules, exclusions and price lists may name a supplier_id -----------------


def _register_with_agreements(innherred: Path, suppliers: str) -> Path:
    config = _config(innherred, *GOOD)
    write(
        innherred.parent / "agreements.csv",
        f"{AGREEMENTS_HEADER}\n"
        f"A1,IT hardware,cooperation,it.hardware,{suppliers},*,2024-01-01,2024-12-31,0.0225\n",
    )
    return config


def test_an_agreement_may_name_a_register_supplier_id(innherred):
    tables = read_agreements(load_config(_register_with_agreements(innherred, "S-CARD;923609016")))
    assert tables.suppliers == [
        ("A1", "S-CARD", None, False),
        ("A1", "923609016", "923609016", True),
    ]
    assert tables.invalid_supplier_numbers == []


def test_an_agreement_supplier_that_is_neither_is_reported_as_before(innherred):
    tables = read_agreements(load_config(_register_with_agreements(innherred, "S-UNKNOWN;123")))
    assert tables.invalid_supplier_numbers == ["A1: S-UNKNOWN", "A1: 123"]


def test_rules_and_exclusions_may_name_a_register_supplier_id(innherred):
    cooperation = load_config(_config(innherred, *GOOD))
    rules = write(
        innherred.parent / "rules.csv",
        "rule_type,pattern,category_id\nsupplier,S-CARD,office\nsupplier,NO 923 609 016,it\n",
    )
    assert read_reference(rules, "classification_rules", cooperation) == [
        ("supplier", "S-CARD", "office"),
        ("supplier", "923609016", "it"),
    ]
    excluded = write(innherred.parent / "excluded.csv", "supplier_org_no,reason\nS-IKS,IKS\n")
    assert read_reference(excluded, "excluded_suppliers", cooperation) == [("S-IKS", None, "IKS")]
    unknown = write(
        innherred.parent / "bad.csv", "rule_type,pattern,category_id\nsupplier,S-X,it\n"
    )
    with pytest.raises(RegisterError, match="row 1, column 'pattern': 'S-X' is neither"):
        read_reference(unknown, "classification_rules", cooperation)


def test_a_price_list_may_name_a_register_supplier_with_a_number(innherred):
    config = _register_with_agreements(innherred, "S-DATA")  # Data AS, 923609016
    write(
        innherred.parent / "prices.csv",
        "agreement_id,supplier_org_no,item_id,unit_price,currency,valid_from,valid_to\n"
        "A1,S-DATA,JB007,100,NOK,2024-01-01,2024-06-30\n"
        "A1,923609016,JB008,200,NOK,2024-01-01,2024-06-30\n",
    )
    write(
        config,
        config.read_text().replace(
            "municipalities:", "price_lists:\n  - path: prices.csv\nmunicipalities:", 1
        ),
    )
    cooperation = load_config(config)
    con = duckdb.connect()
    create_raw_schema(con)
    load_supplier_register(con, cooperation)
    load_agreements(con, cooperation)
    assert load_price_lists(con, cooperation) == 2
    assert con.execute(
        "SELECT supplier_org_no_raw, supplier_org_no FROM raw.price_list ORDER BY item_id"
    ).fetchall() == [("S-DATA", "923609016"), ("923609016", "923609016")]
