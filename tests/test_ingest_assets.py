"""The ingestion asset's own logic: one member's bad profile never stops the others."""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.defs.ingest.assets import load_member_deliveries
from pipelines.settings import load_config
from pipelines.warehouse import connect
from tests.conftest import CONFIG, write


def test_an_unknown_profile_key_rejects_that_members_deliveries_only(innherred: Path):
    folder = innherred.parent
    write(
        folder / "broken.yaml",
        """
        profile: broken
        format: csv
        colour: blue
        fields:
          invoice_id: {column: a}
          invoice_date: {column: b}
          amount_excl_vat: {column: c}
    """,
    )
    (folder / "spend_5038.csv").write_text("a,b,c\n1,2024-01-01,10\n", encoding="utf-8")
    write(
        innherred,
        CONFIG
        + """
  - id: "5038"
    name: Verdal
    spend:
      - path: spend_5038.csv
        profile: broken.yaml
""",
    )
    cooperation = load_config(innherred)
    log = logging.getLogger("test")

    broken = load_member_deliveries(cooperation, "5038", log)
    fine = load_member_deliveries(cooperation, "5037", log)

    assert [r.status for r in broken] == ["rejected"]
    assert "broken.yaml: top level: unknown key 'colour'" in broken[0].message
    assert [r.status for r in fine] == ["loaded"]
    with connect(cooperation.warehouse, read_only=True) as con:
        statuses = dict(
            con.execute("SELECT municipality_id, status FROM raw.deliveries").fetchall()
        )
    assert statuses == {"5038": "rejected", "5037": "loaded"}
    again = load_member_deliveries(cooperation, "5038", log)  # retried, recorded once
    assert [r.status for r in again] == ["rejected"]
    with connect(cooperation.warehouse, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.deliveries").fetchone()[0] == 2
