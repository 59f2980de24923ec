"""`samkjop serve` end to end, with the real Dagster daemon, webserver and dashboards: a
cooperation published once by `samkjop run`, then two members deliver a file each into
their folders and nobody types a command. The delivery sensor requests one ingestion run
per member, the automation builds and publishes once for both, and the published snapshot
has the new invoices. SIGTERM stops every process of the control room, and neither the
run nor the control room writes into the source tree.

Slow (a few minutes on two busy cores): the intervals are shortened through the
environment (SAMKJOP_SENSOR_INTERVAL_SECONDS, SAMKJOP_AUTOMATION_INTERVAL_SECONDS,
SAMKJOP_DELIVERY_QUIET_SECONDS).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from pipelines.defs.automation import (
    AUTOMATION_INTERVAL_ENV_VAR,
    DELIVERY_SENSOR,
    QUIET_ENV_VAR,
    SENSOR_INTERVAL_ENV_VAR,
    TRIGGER_TAG,
    check_name,
)
from pipelines.processes import is_running
from pipelines.settings import PROJECT_ROOT, load_config
from tests.test_control_room import _cooperation_with_globs, _delivery

DELIVERIES_PAGE = PROJECT_ROOT / "dashboards" / "app_pages" / "deliveries.py"

SAMKJOP = str(Path(sys.executable).parent / "samkjop")
READY_TIMEOUT = 240  # the UI loads the code location (dbt manifest) first
PUBLISHED_TIMEOUT = 600  # two ingestion runs and one build; each run worker loads the
# definitions (dbt manifest) first, which takes a minute on two busy shared cores
STOP_TIMEOUT = 60
# files a developer may be writing in the tree while the test runs; anything else new in
# `git status` was written by the platform
_SOURCE_SUFFIXES = (".py", ".sql", ".md", ".yml", ".yaml", ".csv", ".toml", ".txt", ".jsonl")


class Serve:
    """`samkjop serve` in the background, in a session of its own as a service runs."""

    def __init__(self, config: Path, ui_port: int, dashboards_port: int):
        env = {
            **os.environ,
            SENSOR_INTERVAL_ENV_VAR: "2",
            AUTOMATION_INTERVAL_ENV_VAR: "2",
            QUIET_ENV_VAR: "3",
        }
        self.process = subprocess.Popen(
            [
                SAMKJOP,
                "serve",
                "--config",
                str(config),
                "--ui-port",
                str(ui_port),
                "--dashboards-port",
                str(dashboards_port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert self.process.poll() is None, f"serve ended early:\n{self.output}"
            assert time.monotonic() < deadline, f"no {text!r} after {timeout} s:\n{self.output}"
            time.sleep(0.5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _processes() -> dict[int, tuple[int, int]]:
    """Every process: pid → (parent pid, process group)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            found[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return found


def _control_room(root: int) -> set[int]:
    """`samkjop serve` and every process descended from it or in its process groups."""
    table = _processes()
    members = {root}
    groups = {table.get(root, (0, root))[1]}
    changed = True
    while changed:
        changed = False
        for pid, (parent, group) in table.items():
            if pid not in members and (parent in members or group in groups):
                members.add(pid)
                groups.add(group)
                changed = True
    return members


def _carrying(config: Path) -> list[int]:
    """Processes whose environment names this cooperation (the control room's children)."""
    marker = f"SAMKJOP_CONFIG={config}".encode()
    found = []
    for pid in _processes():
        with contextlib.suppress(OSError):
            if pid != os.getpid() and marker in Path(f"/proc/{pid}/environ").read_bytes():
                found.append(pid)
    return found


def _snapshot_files(snapshot: Path) -> set[str]:
    try:
        with duckdb.connect(str(snapshot), read_only=True) as con:
            rows = con.execute(
                "SELECT source_file FROM marts.delivery_reconciliation WHERE status = 'loaded'"
            ).fetchall()
    except duckdb.Error:  # being replaced right now
        return set()
    return {Path(source).name for (source,) in rows}


def _untracked() -> set[str]:
    """What `git status` lists as untracked or ignored, but source files."""
    done = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    entries = {line[3:] for line in done.stdout.splitlines() if line[:2] in ("??", "!!")}
    skipped = (".venv/", ".ruff_cache/", ".pytest_cache/", ".hypothesis/", "samkjop.egg-info/")
    return {
        e
        for e in entries
        if not e.startswith(skipped) and "__pycache__" not in e and not e.endswith(_SOURCE_SUFFIXES)
    }


@pytest.mark.slow
@pytest.mark.system  # `make test-system`, run by CI after `make test`
def test_deliveries_are_loaded_built_and_published_with_no_command_typed(tmp_path, monkeypatch):
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc (Linux)")
    before = _untracked()
    config = _cooperation_with_globs(tmp_path)
    cooperation = load_config(config)
    run = subprocess.run(
        [SAMKJOP, "run", "--config", str(config)], capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert _snapshot_files(cooperation.snapshot) == {"2025.csv"}

    ui_port, dashboards_port = _free_port(), _free_port()
    serve = Serve(config, ui_port, dashboards_port)
    try:
        serve.wait_for(f"Dagster UI:     http://localhost:{ui_port}", 60)
        assert f"dashboards:     http://localhost:{dashboards_port}" in serve.output
        # two members deliver within seconds of each other; nobody types a command
        dropped = time.time()
        _delivery(tmp_path / "spend" / "5037" / "2026-03.csv", "5037", "H1", dropped)
        _delivery(tmp_path / "spend" / "5038" / "2026-03.csv", "5038", "V1", dropped)
        deadline = time.monotonic() + PUBLISHED_TIMEOUT
        while _snapshot_files(cooperation.snapshot) != {"2025.csv", "2026-03.csv"}:
            assert serve.process.poll() is None, f"serve ended early:\n{serve.output}"
            assert time.monotonic() < deadline, (
                f"not published after {PUBLISHED_TIMEOUT} s:\n{serve.output}\n"
                + _tail(cooperation.state_dir / "logs" / "serve" / "daemon.log")
            )
            time.sleep(2)
        with duckdb.connect(str(cooperation.snapshot), read_only=True) as con:
            invoices = con.execute(
                "SELECT municipality_id, invoice_id FROM marts.fct_spend_lines "
                "WHERE invoice_id IN ('H1', 'V1') ORDER BY 1"
            ).fetchall()
        assert invoices == [("5037", "H1"), ("5038", "V1")]
        _assert_the_dashboards_show_it(cooperation.snapshot, monkeypatch)
        serve.wait_for("Dagster UI is ready", READY_TIMEOUT)
        serve.wait_for("dashboards is ready", 10)
        _assert_one_build_for_both(cooperation, dropped)
        group = _control_room(serve.process.pid)
        assert len(group) >= 6  # samkjop, its leader, daemon, webserver, streamlit, code servers
    finally:
        with contextlib.suppress(ProcessLookupError):
            serve.process.send_signal(signal.SIGTERM)
        try:
            code = serve.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(serve.process.pid, signal.SIGKILL)
            raise
    assert code == 0, serve.output
    assert "SIGTERM received: stopping the control room" in serve.output
    assert "Stopped: the daemon, the UI and the dashboards." in serve.output
    left = [pid for pid in group if is_running(pid)]
    assert left == [], f"still running after serve stopped: {left}"
    assert _carrying(config) == []
    assert _untracked() - before == set()  # nothing written into the source tree


def _assert_the_dashboards_show_it(snapshot: Path, monkeypatch) -> None:
    """The dashboards' Deliveries page, on the snapshot the control room published, shows
    both members' new file as their last accepted delivery."""
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(snapshot))
    app = AppTest.from_file(str(DELIVERIES_PAGE), default_timeout=60)
    app.query_params["lang"] = "en"
    app.run()
    assert not app.exception, [error.value for error in app.exception]
    table = app.dataframe[0].value
    assert set(table["File"]) == {"2026-03.csv"}, table


def _assert_one_build_for_both(cooperation, dropped: float) -> None:
    """One ingestion run per member requested by the sensor, one build that published."""
    with dg.DagsterInstance.from_config(str(cooperation.dagster_home)) as instance:
        runs = [
            record.dagster_run
            for record in instance.get_run_records()
            if record.create_timestamp.timestamp() >= dropped - 1
        ]
        ingested = sorted(
            run.tags.get("dagster/partition")
            for run in runs
            if run.tags.get(TRIGGER_TAG, "").startswith(DELIVERY_SENSOR)
        )
        assert ingested == ["5037", "5038"]
        publish = dg.AssetKey("published_snapshot")
        builds = [run for run in runs if run.asset_selection and publish in run.asset_selection]
        assert len(builds) == 1, [(r.run_id, r.status, r.tags) for r in runs]
        assert builds[0].tags.get("dagster/from_automation_condition") == "true"
        # after the publish, the freshness of both members is checked: both on time
        published = instance.fetch_materializations(publish, limit=1).records[0].timestamp
        keys = [
            dg.AssetCheckKey(dg.AssetKey(["raw", "deliveries"]), check_name(member_id))
            for member_id in ("5037", "5038")
        ]
        deadline = time.monotonic() + 180
        while True:
            latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
            evaluated = {
                key.name: record.event.dagster_event.event_specific_data
                for key, record in latest.items()
                if record.status.value != "PLANNED" and record.event.timestamp > published
            }
            if len(evaluated) == len(keys):
                break
            assert time.monotonic() < deadline, f"freshness not checked after the publish: {latest}"
            time.sleep(1)
        assert {name: e.passed for name, e in evaluated.items()} == {
            "delivery_sla_5037": True,
            "delivery_sla_5038": True,
        }, {name: e.description for name, e in evaluated.items()}


def _tail(path: Path, lines: int = 40) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""
