"""Shared fixtures: small cooperations written to tmp_path."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
import pytest
from aiosmtpd.controller import Controller

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


def write_innherred_with_supplier_register(tmp_path: Path) -> Path:
    """Innherred with a second member (Verdal, 5038) and a supplier register, for rule 5's
    suppliers without a valid organisation number (all NOK; the base files as above):

    - R1 (Levanger): no number, "Data Norge Ltd": the register's name alias of S-DATA,
      registered with 916750439, a supplier of A1: on-agreement;
    - K1 (Verdal): vendor number V-77, S-KORT's local_id alias for Verdal only: on A3, which
      names S-KORT by its register id; K2 (Levanger) has the same vendor number but is not
      identified (the alias is Verdal's): covered, off-agreement, and its 120 000 crosses
      100 000 under its name key;
    - K3, K4 (Verdal): S-KORT's name pattern; K4's art has no rule, S-KORT's supplier rule
      (by register id) gives it office.supplies; K5 after A3 ended crosses 100 000 under
      S-KORT's register identity;
    - X1 (Verdal): the inter-municipal company S-IKS, excluded by its register id.
    """
    config = write_innherred(tmp_path)
    register = """
        supplier_id,supplier_name,org_no,alias_type,alias,municipality_id
        S-DATA,Data Norge AS,916750439,name,DATA NORGE LIMITED,
        S-KORT,Kortbutikken,,local_id,V-77,5038
        S-KORT,Kortbutikken,,name_pattern,^kort ?butikk,
        S-IKS,Innherred IKS,,name,Innherred IKS,
    """
    write(tmp_path / "supplier_register.csv", register)
    for name, extra in (
        ("classification_rules.csv", "supplier,S-KORT,office.supplies\n"),
        ("excluded_suppliers.csv", "S-IKS,inter-municipal company\n"),
        (
            "agreements.csv",
            "A3,Kontor felles,cooperation,office.supplies,S-KORT,*,2024-01-01,2025-12-31,0.0225\n",
        ),
    ):
        path = tmp_path / name
        path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    header = CANONICAL_HEADER + ",local_supplier_id"
    write(
        tmp_path / "spend_5037_register.csv",
        f"""
        {header}
        5037,R1,1,2024-08-10,,Data Norge Ltd,11500,115,5000.00,NOK,30200000,CPV,PC,,,
        5037,K2,1,2024-09-02,,Butikk 77,11500,115,120000.00,NOK,,,,,,V-77
    """,
    )
    write(
        tmp_path / "spend_5038.csv",
        f"""
        {header}
        5038,K1,1,2024-09-01,,Butikk 77,11500,115,800.00,NOK,,,,,,V-77
        5038,K3,1,2024-09-03,,KORT BUTIKKEN STJØRDAL,11500,115,200.00,NOK,,,,,,
        5038,K4,1,2024-09-04,,Kortbutikken,12000,120,400.00,NOK,,,,,,
        5038,K5,1,2026-01-10,,Kortbutikken,11500,115,110000.00,NOK,,,,,,
        5038,X1,1,2024-10-01,,INNHERRED  IKS,11500,115,150000.00,NOK,,,,,,
    """,
    )
    text = config.read_text(encoding="utf-8").replace(
        "      - path: spend_5037.csv\n        profile: canonical\n",
        "      - path: spend_5037.csv\n        profile: canonical\n"
        "      - path: spend_5037_register.csv\n        profile: canonical\n"
        '  - id: "5038"\n    name: Verdal\n    population: 15000\n    spend:\n'
        "      - path: spend_5038.csv\n        profile: canonical\n",
    )
    text = text.replace(
        "municipalities:",
        "supplier_registers:\n  - path: supplier_register.csv\nmunicipalities:",
        1,
    )
    return write(config, text)


# --- local mail and web servers, for alerts -------------------------------------------


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(
            (envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


@pytest.fixture
def http_server():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the demo, run once per test session (tests in xdist group "demo_run" share it) -------

DEMO_PHASE_LOG = "phases.jsonl"  # the run's phase records (SAMKJOP_PHASE_LOG), for benchmarks


@pytest.fixture(scope="session")  # once per worker, however xdist interleaves modules
def demo_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`samkjop run` on a 20 000-line demo (seed 7), as a user runs it, with the phase log
    on. Tests may read its folder and snapshot; none may change them."""
    from pipelines.demo import generate_demo
    from pipelines.phase_log import ENV_VAR

    out = tmp_path_factory.mktemp("demo")
    config = generate_demo(out, seed=7, lines=20_000)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "samkjop"), "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, ENV_VAR: str(out / DEMO_PHASE_LOG)},
    )
    return config, result


@pytest.fixture
def con():
    """An in-memory warehouse with the raw schema (a test file may define its own `con`)."""
    from pipelines.warehouse import create_raw_schema

    connection = duckdb.connect()
    create_raw_schema(connection)
    yield connection
    connection.close()
