"""Shared fixtures: small cooperations written to tmp_path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

CANONICAL_HEADER = (
    "municipality_id,invoice_id,line_no,invoice_date,supplier_org_no,"
    "supplier_name,account,art,amount_excl_vat,currency,item_code,"
    "item_code_scheme,description,order_ref,contract_ref"
)
AGREEMENTS_HEADER = (
    "agreement_id,agreement_name,scope,category_ids,supplier_org_nos,"
    "participants,valid_from,valid_to,provision_rate"
)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding=encoding)
    return path


CONFIG = """
cooperation:
  name: Innherred innkjøp
  country: NO
  currency: NOK
  host: "5037"
  targets:
    loyalty: 0.8
warehouse: warehouse/samkjop.duckdb
reference:            # every entry optional; defaults ship with the project
  taxonomy: taxonomy.csv
  classification_rules: classification_rules.csv
  exchange_rates: exchange_rates.csv
  excluded_suppliers: excluded_suppliers.csv
agreements:
  - path: agreements.csv
    profile: canonical
municipalities:
  - id: "5037"
    name: Levanger
    population: 20500
    spend:
      - path: spend_5037.csv
        profile: canonical
"""


@pytest.fixture
def innherred(tmp_path: Path) -> Path:
    return write_innherred(tmp_path)


def write_innherred(tmp_path: Path) -> Path:
    """The issue's example cooperation.yml, exactly as written, with its files.

    Invoices F1-F4 (2024) are the issue's example. G1-G8 (2025-26) add rule 9's cases:
    a supplier without a valid number (keyed by its normalised name) whose trailing
    12-month spend crosses 100 000 three times (after a credit note, and after spend
    leaves the window), a covered but off-agreement purchase that crosses 100 000 and
    1 300 000 at once, and large purchases that never count (an excluded supplier, rent).
    """
    write(
        tmp_path / "taxonomy.csv",
        """
        category_id,category_name,parent_id
        it,IT,
        it.hardware,IT-utstyr,it
        office,Kontor,
        office.supplies,Kontorrekvisita,office
    """,
    )
    write(
        tmp_path / "classification_rules.csv",
        """
        rule_type,pattern,category_id
        item_code,302,it.hardware
        art,115,office.supplies
        supplier,923609016,it.hardware
    """,
    )
    write(
        tmp_path / "exchange_rates.csv",
        """
        currency,month,rate_to_base
        EUR,2024-03,11.50
    """,
    )
    write(
        tmp_path / "excluded_suppliers.csv",
        """
        supplier_org_no,reason
        938587418,municipality
    """,
    )
    write(
        tmp_path / "agreements.csv",
        f"""
        {AGREEMENTS_HEADER}
        A1,IT hardware,cooperation,it.hardware,923609016;NO 916 750 439 MVA,*,2024-01-01,2024-12-31,0.0225
        A2,Office,local,office.supplies,974760673,5037,2024-06-01,2025-05-31,
    """,
    )
    write(
        tmp_path / "spend_5037.csv",
        f"""
        {CANONICAL_HEADER}
        5037,F1,1,2024-03-05,923609016,Data AS,11500,115,1000.00,NOK,30213000-5,CPV,PC,,
        5037,F1,2,2024-03-05,923609016,Data AS,11500,115,-100.00,NOK,,,,,
        5037,F2,1,2024-03-10,NO 974 760 673 MVA,Kontor AS,11500,115,200.50,EUR,,,,,
        5037,F3,1,2024-07-01,974760673,Kontor AS,11500,115,300.00,NOK,,,,,
        5037,F4,1,2024-07-02,,Ukjent,10100,010,5000.00,NOK,,,,,
        5037,G1,1,2025-01-15,,Rørlegger  Hansen,12000,120,60000.00,NOK,,,,,
        5037,G2,1,2025-02-14,916750439,Data Norge AS,11500,115,1400000.00,NOK,,,,,
        5037,G3,1,2025-03-10,, RØRLEGGER HANSEN,12000,120,45000.00,NOK,,,,,
        5037,G4,1,2025-03-12,938587418,Levanger kommune,11500,115,200000.00,NOK,,,,,
        5037,G5,1,2025-03-20,974760673,Kontor AS,19000,190,500000.00,NOK,,,,,
        5037,G6,1,2025-04-02,123456789,rørlegger hansen,12000,120,-20000.00,NOK,,,,,
        5037,G7,1,2025-06-20,,Rørlegger Hansen,12000,120,30000.00,NOK,,,,,
        5037,G8,1,2026-02-05,,Rørlegger Hansen,12000,120,50000.00,NOK,,,,,
    """,
    )
    return write(tmp_path / "cooperation.yml", CONFIG)
