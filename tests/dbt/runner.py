"""Run the dbt CLI on the project against one warehouse file, as the tests need it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"


def run_dbt(args: list[str], warehouse: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """`dbt <args>` with the in-repo profile on `warehouse`; target and logs in `tmp_path`."""
    env = {
        **os.environ,
        "SAMKJOP_WAREHOUSE": str(warehouse),
        "DBT_LOG_PATH": str(tmp_path / "dbt_logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            *args,
            "--project-dir",
            str(DBT_PROJECT),
            "--profiles-dir",
            str(DBT_PROJECT),
            "--target-path",
            str(tmp_path / "dbt_target"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
