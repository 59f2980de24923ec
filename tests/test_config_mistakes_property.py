"""A mistaken configuration never corrupts delivery state: whatever sequence of good and
broken configurations (and new files) came before, a run of the corrected configuration
ends in exactly the warehouse that a clean run of that configuration gives."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.defs.ingest.assets import load_member_deliveries
from pipelines.settings import ConfigError, load_config
from tests.conftest import CANONICAL_HEADER, write

LOG = logging.getLogger("test")
MEMBERS = ("5037", "5038")
GOOD_PROFILE = "canonical"
# what a careless day does to the configuration
BROKEN = {
    "profile name typo": {"profile": "canonicl"},
    "profile with an unknown key": {"profile": "broken.yaml"},
    "profile mapping a column the files lack": {"profile": "wrong-column.yaml"},
    "path to no file": {"path": "spend/{member}/nothing-*.csv"},
}
CONFIG = """
cooperation: {{name: Test, country: NO, currency: NOK, host: "5037"}}
agreements: [{{path: agreements.csv, profile: canonical}}]
municipalities:
{members}
"""
MEMBER = """  - id: "{member}"
    name: Member {member}
    spend:
      - path: {path}
        profile: {profile}
        period: {{from_name: '(?P<year>\\d{{4}})-(?P<month>\\d{{2}})'}}
"""
# (member, file name, rows of (invoice, date, amount)); a later file re-delivers a month
FILES = [
    ("5037", "2024-01.csv", [("A1", "2024-01-05", "100.00"), ("A2", "2024-01-20", "-20.00")]),
    ("5037", "2024-02.csv", [("A3", "2024-02-03", "55.50"), ("A4", "2023-12-30", "1.00")]),
    ("5038", "2024-01.csv", [("B1", "2024-01-09", "300.00"), ("B1", "2024-01-09", "7.25")]),
    ("5037", "2024-01-corrected.csv", [("A1", "2024-01-05", "110.00")]),
    ("5038", "2024-02.csv", [("B2", "2024-02-28", "12.00"), ("B3", "not a date", "1")]),
]


def _write_static(root: Path) -> None:
    write(root / "agreements.csv", "agreement_id\n")
    write(root / "broken.yaml", "profile: broken\nformat: csv\nfeilds: {}\n")
    canonical = (Path(__file__).parents[1] / "data_contracts/profiles/canonical.yaml").read_text()
    write(
        root / "wrong-column.yaml",
        canonical.replace("profile: canonical", "profile: wrong-column").replace(
            "{column: invoice_id}", "{column: faktura_id}"
        ),
    )


def _deliver(root: Path, index: int) -> None:
    member, name, rows = FILES[index]
    body = "".join(
        f"{member},{invoice},1,{day},974760673,Kontor AS,11500,115,{amount},NOK,,,,,\n"
        for invoice, day, amount in rows
    )
    path = write(root / "spend" / member / name, CANONICAL_HEADER + "\n" + body)
    stamp = 1_700_000_000 + index  # delivered in this order, whatever the names
    os.utime(path, (stamp, stamp))


def _config(root: Path, broken: dict[str, dict[str, str]]) -> Path:
    members = "".join(
        MEMBER.format(
            member=member,
            path=broken.get(member, {}).get("path", "spend/{member}/*.csv").format(member=member),
            profile=broken.get(member, {}).get("profile", GOOD_PROFILE),
        )
        for member in MEMBERS
    )
    return write(root / "cooperation.yml", CONFIG.format(members=members))


def _run(root: Path, broken: dict[str, dict[str, str]]) -> None:
    try:
        cooperation = load_config(_config(root, broken))
    except ConfigError:
        return  # the run stops before it touches the warehouse
    for member in MEMBERS:
        load_member_deliveries(cooperation, member, LOG)


def _state(root: Path) -> dict[str, list[tuple]] | None:
    """The warehouse with the cooperation's folder written as <root> and without what only
    says when something happened (a delivery is named by its member, file and checksum)."""
    warehouse = root / "warehouse" / "samkjop.duckdb"
    if not warehouse.exists():
        return None
    queries = {
        # spend_line_key: a delivery's number is drawn from a sequence that a rolled-back
        # attempt consumes too (numbers are never reused); the line's identity is its lineage
        "spend_lines": (
            "SELECT * EXCLUDE (delivery_id, loaded_at, spend_line_key) FROM raw.spend_lines"
        ),
        "rejected_rows": "SELECT * EXCLUDE (delivery_id, rejected_at) FROM raw.rejected_rows",
        "excluded_rows": "SELECT * EXCLUDE (delivery_id, excluded_at) FROM raw.excluded_rows",
        "deliveries": "SELECT * EXCLUDE (delivery_id, loaded_at, message) FROM raw.deliveries",
        "delivery_replacements": """
            SELECT old.source_file, new.source_file, r.rows_replaced, r.amount_replaced
            FROM raw.delivery_replacements AS r
            JOIN raw.deliveries AS old ON old.delivery_id = r.delivery_id
            JOIN raw.deliveries AS new ON new.delivery_id = r.replaced_by
        """,
    }
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            name: sorted(
                (tuple(_relative(value, str(root)) for value in row) for row in rows), key=repr
            )
            for name, rows in ((n, con.execute(sql).fetchall()) for n, sql in queries.items())
        }
    finally:
        con.close()


def _relative(value, root: str):
    return value.replace(root, "<root>") if isinstance(value, str) else value


# a step delivers one more file, or runs with each member's configuration good or broken
steps = st.lists(
    st.one_of(
        st.tuples(st.just("deliver"), st.integers(0, len(FILES) - 1)),
        st.tuples(
            st.just("run"),
            st.fixed_dictionaries(
                {member: st.sampled_from([None, *sorted(BROKEN)]) for member in MEMBERS}
            ),
        ),
    ),
    min_size=2,
    max_size=8,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(history=steps)
def test_any_history_of_broken_configs_ends_like_a_clean_run(tmp_path_factory, history):
    root = tmp_path_factory.mktemp("history")
    _write_static(root)
    for step, argument in history:
        if step == "deliver":
            _deliver(root, argument)
        else:
            _run(root, {member: BROKEN[m] for member, m in argument.items() if m is not None})
    _run(root, {})  # the corrected configuration

    clean = tmp_path_factory.mktemp("clean")
    _write_static(clean)
    if (root / "spend").exists():
        shutil.copytree(root / "spend", clean / "spend")  # copy2 keeps the delivery times
    _run(clean, {})
    assert _state(root) == _state(clean)
