"""The control room's parts, without a daemon: the delivery sensor's cursor (each new or
changed file requested once, after the quiet period), the members' freshness against the
spend contract's SLA, an ingestion that only meets known files records an observation,
and `samkjop serve` refuses a port in use or a second control room with one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster import DagsterEventType

from pipelines.defs.automation import (
    DELIVERY_SENSOR,
    FILES_TAG,
    QUIET_ENV_VAR,
    build_alert_sensors,
    build_delivery_sensor,
    build_freshness_checks,
    evaluate_deliveries,
    read_cursor,
)
from pipelines.defs.ingest.assets import build_ingest_assets
from pipelines.freshness import DeliverySla, delivery_sla, member_freshness, overdue_members
from pipelines.serve import ServeLock
from pipelines.settings import load_config
from tests.conftest import CANONICAL_HEADER, write, write_innherred

SAMKJOP = str(Path(sys.executable).parent / "samkjop")
NOW = time.time()
HOUR = 3600


def _cooperation_with_globs(folder: Path) -> Path:
    """Innherred with two members delivering into folders (spend/<id>/*.csv)."""
    config = write_innherred(folder)
    text = config.read_text(encoding="utf-8")
    text = text.replace("path: spend_5037.csv", "path: spend/5037/*.csv")
    text += """
  - id: "5038"
    name: Verdal
    population: 15000
    spend:
      - path: spend/5038/*.csv
        profile: canonical
        optional: true
"""
    config.write_text(text, encoding="utf-8")
    (folder / "spend" / "5037").mkdir(parents=True)
    (folder / "spend" / "5038").mkdir(parents=True)
    (folder / "spend_5037.csv").rename(folder / "spend" / "5037" / "2025.csv")
    return config


def _delivery(path: Path, member: str, invoice: str, modified: float) -> Path:
    write(
        path,
        f"{CANONICAL_HEADER}\n{member},{invoice},1,2025-05-02,,Ukjent,11500,115,10.00,NOK,,,,,\n",
    )
    os.utime(path, (modified, modified))
    return path


@pytest.fixture
def coop(tmp_path, monkeypatch):
    monkeypatch.setenv(QUIET_ENV_VAR, "120")
    config = _cooperation_with_globs(tmp_path)
    os.utime(tmp_path / "spend" / "5037" / "2025.csv", (NOW - HOUR, NOW - HOUR))
    return load_config(config)


def _tick(cooperation, cursor=None, now=NOW, instance=None):
    """One evaluation of the sensor's logic with its clock at `now`: the run requests, the
    cursor it leaves (unchanged when it skips) and why it skipped."""
    context = dg.build_sensor_context(cursor=cursor, instance=instance)
    result = evaluate_deliveries(cooperation, context, now=now)
    if isinstance(result, dg.SkipReason):
        return [], cursor, result.skip_message
    requests = list(result.run_requests or [])
    skip = result.skip_reason.skip_message if result.skip_reason else None
    return requests, result.cursor or cursor, skip


# --- the delivery sensor's cursor ---------------------------------------------------------


def test_the_sensor_is_a_dagster_sensor_of_the_ingestion_job(coop):
    job = dg.define_asset_job("ingest_member_spend", selection=[dg.AssetKey(["raw", "x"])])
    sensor = build_delivery_sensor(coop, job)
    assert sensor.name == DELIVERY_SENSOR
    assert sensor.job_name == "ingest_member_spend"
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    # invoked as Dagster invokes it: the first tick requests the member with a file
    result = sensor(dg.build_sensor_context())
    assert [r.partition_key for r in result.run_requests] == ["5037"]


def test_each_new_or_changed_file_is_requested_once(coop):
    folder = coop.root / "spend"
    requests, cursor, _ = _tick(coop)  # first tick, nothing published: everything is new
    assert [(r.partition_key, r.tags[FILES_TAG]) for r in requests] == [("5037", "2025.csv")]
    first_key = requests[0].run_key
    assert first_key.startswith("5037:")
    seen = read_cursor(cursor)
    assert set(seen) == {"5037", "5038"}
    assert list(seen["5037"]) == [str(folder / "5037" / "2025.csv")]

    again, cursor_again, skip = _tick(coop, cursor)  # nothing new: nothing requested
    assert again == [] and skip == "no new or changed delivery"
    assert cursor_again == cursor

    # a repeated tick from the same cursor (the last one was not stored) asks again under
    # the same run key, which Dagster does not launch twice
    repeated, _, _ = _tick(coop, None)
    assert [r.run_key for r in repeated] == [first_key]

    # one member delivers: only that member is requested, with a new run key
    _delivery(folder / "5038" / "2026-01.csv", "5038", "V1", NOW - HOUR)
    requests, cursor, _ = _tick(coop, cursor)
    assert [(r.partition_key, r.tags[FILES_TAG]) for r in requests] == [("5038", "2026-01.csv")]
    assert requests[0].run_key.startswith("5038:")

    # a file rewritten (other size and time) is a new version: requested again
    path = _delivery(folder / "5037" / "2025.csv", "5037", "F1-corrected", NOW - 2 * HOUR)
    requests, cursor, _ = _tick(coop, cursor)
    assert [r.partition_key for r in requests] == ["5037"]
    assert requests[0].run_key != first_key

    # touched only (same size, new time): requested too (ingestion then skips it)
    os.utime(path, (NOW - HOUR // 2, NOW - HOUR // 2))
    requests, cursor, _ = _tick(coop, cursor)
    assert [r.partition_key for r in requests] == ["5037"]

    # a file removed is forgotten, nothing is requested
    path.unlink()
    requests, cursor, skip = _tick(coop, cursor)
    assert requests == [] and "no new" in skip
    assert read_cursor(cursor)["5037"] == {}


def test_nothing_is_requested_until_no_file_changed_for_the_quiet_period(coop):
    folder = coop.root / "spend"
    _, cursor, _ = _tick(coop)
    _delivery(folder / "5037" / "2026-01.csv", "5037", "N1", NOW - 30)  # 30 s ago
    requests, still, skip = _tick(coop, cursor)
    assert requests == [] and still == cursor  # the cursor waits too
    assert "waiting until none has changed for 120 s" in skip and "5037" in skip

    # a second member delivers a minute later: both still wait (one batch)
    _delivery(folder / "5038" / "2026-01.csv", "5038", "V1", NOW + 60)
    requests, _, skip = _tick(coop, cursor, now=NOW + 100)
    assert requests == [] and "5037, 5038" in skip

    # quiet for the whole period: both members are requested in the same tick
    requests, cursor, _ = _tick(coop, cursor, now=NOW + 181)
    assert sorted(r.partition_key for r in requests) == ["5037", "5038"]
    assert _tick(coop, cursor, now=NOW + 200)[0] == []


def test_quiet_period_zero_requests_at_once(coop, monkeypatch):
    monkeypatch.setenv(QUIET_ENV_VAR, "0")
    _, cursor, _ = _tick(coop)
    _delivery(coop.root / "spend" / "5038" / "now.csv", "5038", "V1", NOW)
    requests, _, _ = _tick(coop, cursor)
    assert [r.partition_key for r in requests] == ["5038"]


def test_first_tick_takes_what_the_snapshot_accounts_for_as_seen(coop):
    loaded = coop.root / "spend" / "5037" / "2025.csv"
    later = _delivery(coop.root / "spend" / "5038" / "2026-01.csv", "5038", "V1", NOW - HOUR)
    coop.snapshot.parent.mkdir(parents=True)
    with duckdb.connect(str(coop.snapshot)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute(
            "CREATE TABLE marts.delivery_reconciliation (municipality_id VARCHAR, "
            "source_file VARCHAR, status VARCHAR, loaded_at TIMESTAMP)"
        )
        con.execute(
            "INSERT INTO marts.delivery_reconciliation VALUES "
            "('5037', ?, 'loaded', ?), ('5038', ?, 'loaded', ?)",
            [
                str(loaded),
                datetime.fromtimestamp(NOW - HOUR // 2),  # after its last change: seen
                str(later),
                datetime.fromtimestamp(NOW - 2 * HOUR),  # changed since it was loaded: new
            ],
        )
    requests, cursor, _ = _tick(coop)
    assert [r.partition_key for r in requests] == ["5038"]
    assert set(read_cursor(cursor)["5037"]) == {str(loaded)}


def test_a_member_never_loaded_is_requested_once_without_a_file(coop):
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(["raw", "spend_lines"], partition="5037")
        )
        requests, cursor, _ = _tick(coop, instance=instance)
        assert sorted((r.partition_key, r.tags["samkjop/trigger"]) for r in requests) == [
            ("5037", f"{DELIVERY_SENSOR}: new delivery"),
            ("5038", f"{DELIVERY_SENSOR}: never loaded"),
        ]
        never = next(r for r in requests if r.partition_key == "5038")
        # while it is not loaded, every tick asks again under the same run key
        assert [r.run_key for r in _tick(coop, cursor, instance=instance)[0]] == [never.run_key]
        instance.report_runless_asset_event(
            dg.AssetMaterialization(["raw", "spend_lines"], partition="5038")
        )
        assert _tick(coop, cursor, instance=instance)[0] == []


def test_a_cursor_of_another_version_starts_over():
    assert read_cursor(None) is None
    assert read_cursor("not json") is None
    assert read_cursor(json.dumps({"version": 0, "files": {}})) is None


# --- ingestion: known files only → an observation -----------------------------------------


def test_a_run_that_only_skips_known_files_records_an_observation(tmp_path):
    cooperation = load_config(write_innherred(tmp_path))
    member_spend = build_ingest_assets(cooperation)[0]
    deliveries = dg.AssetKey(["raw", "deliveries"])
    with dg.instance_for_test() as instance:
        for _ in range(2):
            result = dg.materialize(
                [member_spend], partition_key="5037", instance=instance, raise_on_error=True
            )
        assert result.success
        materialized = instance.fetch_materializations(deliveries, limit=10).records
        observed = instance.fetch_observations(deliveries, limit=10).records
        assert len(materialized) == 1  # the first run loaded the file
        assert len(observed) == 1 and observed[0].partition_key == "5037"
        metadata = observed[0].event_log_entry.asset_observation.metadata
        assert metadata["skipped_duplicate"].value == 1 and metadata["loaded"].value == 0


# --- freshness against the spend contract's SLA -------------------------------------------


def test_the_sla_is_read_from_the_spend_contract():
    sla = delivery_sla()
    assert (sla.every, sla.unit) == (1, "month")
    assert sla.describe() == "one delivery per member per month"
    assert sla.due(date(2024, 1, 31)) == date(2024, 2, 29)  # a shorter month: its last day
    assert sla.due(date(2025, 12, 15)) == date(2026, 1, 15)
    assert DeliverySla(2, "week").due(date(2025, 1, 1)) == date(2025, 1, 15)
    assert DeliverySla(1, "quarter").describe() == "one delivery per member every quarter"


def _deliveries_table(con, schema: str, table: str, rows) -> None:
    con.execute(f"CREATE SCHEMA {schema}")
    con.execute(
        f"CREATE TABLE {schema}.{table} (municipality_id VARCHAR, source_file VARCHAR, "
        "status VARCHAR, loaded_at TIMESTAMP)"
    )
    con.executemany(f"INSERT INTO {schema}.{table} VALUES (?, 'f.csv', ?, ?)", rows)


@pytest.fixture
def two_members(tmp_path):
    return load_config(_cooperation_with_globs(tmp_path))


def test_overdue_members_on_the_warehouse(two_members):
    con = duckdb.connect()
    _deliveries_table(
        con,
        "raw",
        "deliveries",
        [
            ("5037", "loaded", datetime(2025, 3, 5, 14, 0)),
            ("5037", "rejected", datetime(2025, 5, 1)),  # never counts
            ("5038", "rejected", datetime(2025, 5, 1)),
        ],
    )
    on_time = overdue_members(two_members, con, date(2025, 4, 5))
    assert [(m.member_id, m.reason) for m in on_time] == [
        ("5038", "no delivery accepted yet (one delivery per member per month)")
    ]
    late = overdue_members(two_members, con, datetime(2025, 4, 8, 9, 0))
    assert [m.member_id for m in late] == ["5037", "5038"]
    assert late[0].days_overdue == 3 and late[0].due == date(2025, 4, 5)
    assert late[0].reason == (
        "last accepted delivery 2025-03-05, due by 2025-04-05: 3 days overdue "
        "(one delivery per member per month)"
    )
    assert late[1].last_accepted is None and late[1].days_overdue is None


def test_overdue_members_on_a_published_snapshot(two_members, tmp_path):
    snapshot = tmp_path / "published.duckdb"
    with duckdb.connect(str(snapshot)) as con:
        _deliveries_table(
            con,
            "marts",
            "delivery_reconciliation",
            [
                ("5037", "replaced", datetime(2025, 3, 1)),  # accepted, later replaced
                ("5038", "loaded", datetime(2025, 2, 1)),
            ],
        )
    overdue = overdue_members(two_members, snapshot, date(2025, 3, 20))
    assert [m.member_id for m in overdue] == ["5038"]
    everyone = member_freshness(two_members, str(snapshot), date(2025, 3, 20))
    assert [(m.member_id, m.overdue) for m in everyone] == [("5037", False), ("5038", True)]
    assert everyone[0].reason.startswith(
        "last accepted delivery 2025-03-01; next due by 2025-04-01"
    )
    # no snapshot at all: nobody has an accepted delivery
    nothing = overdue_members(two_members, tmp_path / "missing.duckdb", date(2025, 3, 20))
    assert [m.member_id for m in nothing] == ["5037", "5038"]


def _check_run(cooperation) -> dict[str, tuple[bool, str]]:
    """Execute the members' freshness checks as Dagster does; check name → (passed, why)."""
    checks = build_freshness_checks(cooperation, dg.AssetKey("published_snapshot"))
    job = dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(checks))
    defs = dg.Definitions(
        assets=[dg.AssetSpec(["raw", "deliveries"]), dg.AssetSpec("published_snapshot")],
        asset_checks=[checks],
        jobs=[job],
    )
    result = defs.resolve_job_def("freshness").execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )
    return {e.check_name: (e.passed, e.description) for e in result.get_asset_check_evaluations()}


def test_the_freshness_checks_fail_for_overdue_members_and_alert_once(tmp_path, http_server):
    port, received = http_server
    config = _cooperation_with_globs(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8")
        + f"alerts:\n  webhook: {{url: 'http://127.0.0.1:{port}/hook'}}\n",
        encoding="utf-8",
    )
    cooperation = load_config(config)
    cooperation.snapshot.parent.mkdir(parents=True)
    with duckdb.connect(str(cooperation.snapshot)) as con:
        _deliveries_table(
            con, "marts", "delivery_reconciliation", [("5037", "loaded", datetime.now())]
        )

    outcome = _check_run(cooperation)

    assert outcome == {
        "delivery_sla_5037": (True, outcome["delivery_sla_5037"][1]),
        "delivery_sla_5038": (
            False,
            "no delivery accepted yet (one delivery per member per month)",
        ),
    }
    assert "next due by" in outcome["delivery_sla_5037"][1]
    ((_, body),) = received  # the unit hears of Verdal once ...
    assert [(a["event"], a["member_id"]) for a in body["alerts"]] == [("overdue_member", "5038")]
    _check_run(cooperation)
    assert len(received) == 1  # ... not at every check


def test_a_run_the_daemon_launched_that_fails_is_an_alert(tmp_path, http_server):
    port, received = http_server
    config = write_innherred(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8")
        + f"alerts:\n  webhook: {{url: 'http://127.0.0.1:{port}/hook'}}\n",
        encoding="utf-8",
    )
    sensors = {s.name: s for s in build_alert_sensors(load_config(config))}
    assert set(sensors) == {"alerts_after_run", "alerts_after_failed_run"}
    assert build_alert_sensors(load_config(write_innherred(tmp_path / "quiet"))) == []

    @dg.op
    def load():
        raise RuntimeError("the warehouse is locked by another process")

    @dg.job
    def ingest():
        load()

    with dg.instance_for_test() as instance:
        result = ingest.execute_in_process(instance=instance, raise_on_error=False)
        run = instance.get_run_by_id(result.run_id)
        failure = next(
            entry.dagster_event
            for entry in instance.all_logs(run.run_id)
            if entry.dagster_event
            and entry.dagster_event.event_type == DagsterEventType.RUN_FAILURE
        )
        sensors["alerts_after_failed_run"](
            dg.build_run_status_sensor_context(
                "alerts_after_failed_run",
                dagster_event=failure,
                dagster_instance=instance,
                dagster_run=run,
            )
        )
    ((_, body),) = received
    ((alert,),) = [body["alerts"]]
    assert alert["event"] == "failed_run"
    assert "the warehouse is locked by another process" in alert["reason"]


# --- samkjop serve: refused before anything starts ----------------------------------------


def _serve(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SAMKJOP, "serve", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("busy_option", ["--ui-port", "--dashboards-port"])
def test_serve_with_a_port_in_use_says_so_and_exits_1(tmp_path, busy_option):
    config = write_innherred(tmp_path)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        ports = {"--ui-port": _free_port(), "--dashboards-port": _free_port(), busy_option: busy}
        done = _serve(config, *(str(x) for item in ports.items() for x in item))
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"samkjop: error: port {busy} on 127.0.0.1 (")
    assert (
        f"is in use by another program; stop it or choose another port with {busy_option}"
        in (lines[0])
    )
    assert not (tmp_path / "warehouse" / "logs" / "serve").exists()  # nothing was started


def test_a_second_control_room_is_refused(tmp_path):
    cooperation = load_config(write_innherred(tmp_path))
    lock = ServeLock(cooperation.state_dir)
    lock.acquire()
    try:
        done = _serve(
            cooperation.config_path,
            "--ui-port",
            str(_free_port()),
            "--dashboards-port",
            str(_free_port()),
        )
    finally:
        lock.release()
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"samkjop: error: samkjop serve or samkjop ui (pid {os.getpid()}) is already serving "
        f"this cooperation ({cooperation.state_dir}); stop it first"
    )
