"""The control room: what happens on its own while the Dagster daemon runs (`samkjop serve`).

- **Deliveries are picked up.** The sensor `member_deliveries` looks at every member's
  spend paths (`municipalities[].spend[].path`, globs included) and requests one ingestion
  run (`ingest_member_spend`, the member's partition) per member with a new or changed file.
  A file is known by its path, size and modification time (nanoseconds), kept in the
  sensor's cursor, so each version of a file is requested once; the run key (member and
  the fingerprint of its files) keeps a repeated tick from requesting it twice. Files that
  are still being written are left alone: nothing is requested until no file has changed
  for a quiet period (`SAMKJOP_DELIVERY_QUIET_SECONDS`, default 120), and then every member
  that delivered is requested in the same tick. On its first tick the sensor takes the
  files the published snapshot already accounts for as seen; a member whose ingestion
  never materialized is requested once, so that the build is not held up for it.
- **One build per batch.** The dbt models and `published_snapshot` carry
  `AutomationCondition.eager()`: the default automation condition sensor requests them
  once their inputs changed, but not while any ingestion run is queued or in progress.
  The run queue runs one run at a time (`max_concurrent_runs: 1`, and the
  `duckdb_warehouse` pool admits one writing step), so the ingestion runs of one batch
  queue up behind each other and the build follows once, after the last. An ingestion run
  that only met files loaded before records an observation, not a materialization, and
  builds nothing (pipelines/defs/ingest/assets.py). The first build of a cooperation, and
  a changed agreement register or reference file, are `samkjop run`'s (or the UI's
  "Materialize all"): the automation builds what new deliveries change.
- **Freshness per member.** One asset check per member on `raw/deliveries`
  (`delivery_sla_<id>`) fails with severity WARN when the member is overdue against the
  spend contract's SLA (pipelines/freshness.py), evaluated after every publish and daily
  (`SAMKJOP_FRESHNESS_CRON`, default `0 6 * * *`, UTC).
- **Alerts** (when `alerts:` is configured): the runs the daemon launched report their
  rejected deliveries, failed tests and failures, and a member that becomes overdue is
  announced once, through pipelines/alerts.py (`samkjop run` sends its own runs' alerts).

The sensors start running with the daemon (`DefaultSensorStatus.RUNNING`); their intervals
are `SAMKJOP_SENSOR_INTERVAL_SECONDS` (default 30) and `SAMKJOP_AUTOMATION_INTERVAL_SECONDS`
(default 30), read when the code location loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path

import dagster as dg

from pipelines.dagster_runs import RUN_TAG
from pipelines.settings import Cooperation, Member
from pipelines.warehouse import DELIVERY_TABLES

DELIVERY_SENSOR = "member_deliveries"
AUTOMATION_SENSOR = "default_automation_condition_sensor"
FRESHNESS_CHECKS = "member_delivery_sla"
SENSOR_INTERVAL_ENV_VAR = "SAMKJOP_SENSOR_INTERVAL_SECONDS"
AUTOMATION_INTERVAL_ENV_VAR = "SAMKJOP_AUTOMATION_INTERVAL_SECONDS"
QUIET_ENV_VAR = "SAMKJOP_DELIVERY_QUIET_SECONDS"
FRESHNESS_CRON_ENV_VAR = "SAMKJOP_FRESHNESS_CRON"
DEFAULT_SENSOR_INTERVAL = 30
DEFAULT_AUTOMATION_INTERVAL = 30
DEFAULT_QUIET_SECONDS = 120
DEFAULT_FRESHNESS_CRON = "0 6 * * *"
TRIGGER_TAG = "samkjop/trigger"
FILES_TAG = "samkjop/files"
DELIVERIES_KEY = dg.AssetKey(["raw", "deliveries"])
_CURSOR_VERSION = 1
_FUTURE_SLACK_NS = 60 * 10**9  # a modification time further ahead than this is ignored

# The models and the snapshot: built once their inputs changed, never while an input is
# being loaded (the ingestion runs of a batch queue up: the build waits for the last).
BUILD_CONDITION = dg.AutomationCondition.eager()


def _seconds(name: str, default: int, minimum: int = 0) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return max(int(float(value)), minimum)
    except ValueError:
        return default


def sensor_interval() -> int:
    return _seconds(SENSOR_INTERVAL_ENV_VAR, DEFAULT_SENSOR_INTERVAL, minimum=1)


def automation_interval() -> int:
    return _seconds(AUTOMATION_INTERVAL_ENV_VAR, DEFAULT_AUTOMATION_INTERVAL, minimum=1)


def quiet_seconds() -> int:
    return _seconds(QUIET_ENV_VAR, DEFAULT_QUIET_SECONDS)


def freshness_cron() -> str:
    return os.environ.get(FRESHNESS_CRON_ENV_VAR, "").strip() or DEFAULT_FRESHNESS_CRON


# --- deliveries: which files are new ------------------------------------------------------


def _stat(path: Path) -> tuple[str, int]:
    """A file's fingerprint (size and modification time in nanoseconds) and that time; a
    folder of e-invoices is one delivery: its files' count, total size and latest time."""
    try:
        if path.is_dir() and not path.is_symlink():
            stats = [p.lstat() for p in sorted(path.rglob("*")) if not p.is_dir()]
            newest = max((s.st_mtime_ns for s in stats), default=path.stat().st_mtime_ns)
            return f"dir:{len(stats)}:{sum(s.st_size for s in stats)}:{newest}", newest
        stat = path.lstat()  # a link in a member's folder is a delivery too (rejected)
    except OSError:
        return "unreadable", 0
    return f"{stat.st_size}:{stat.st_mtime_ns}", stat.st_mtime_ns


def member_files(member: Member) -> dict[str, tuple[str, int]]:
    """Every file (or e-invoice folder) matching the member's spend paths, refused matches
    included (ingestion records them as rejected): path → (fingerprint, modification time)."""
    files: dict[str, tuple[str, int]] = {}
    for source in member.spend:
        for path in source.files():
            files[str(path)] = _stat(path)
        for path, _reason in source.refused():
            files[str(path)] = _stat(path)
    return files


def read_cursor(cursor: str | None) -> dict[str, dict[str, str]] | None:
    """The fingerprints the sensor has seen, per member (None: its first tick, or a cursor
    of another version)."""
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("version") != _CURSOR_VERSION:
        return None
    return {m: dict(files) for m, files in data.get("files", {}).items()}


def write_cursor(seen: Mapping[str, Mapping[str, str]]) -> str:
    files = {m: dict(sorted(f.items())) for m, f in sorted(seen.items())}
    return json.dumps({"version": _CURSOR_VERSION, "files": files}, separators=(",", ":"))


def _accounted_for(snapshot: Path) -> dict[str, datetime]:
    """Per source file, when the published snapshot last recorded it (loaded, replaced or
    rejected); empty when there is no snapshot or it cannot be read."""
    import duckdb

    if not snapshot.is_file():
        return {}
    try:
        con = duckdb.connect(str(snapshot), read_only=True)
    except duckdb.Error:
        return {}
    try:
        rows = con.execute(
            "SELECT source_file, max(loaded_at) FROM marts.delivery_reconciliation "
            "GROUP BY source_file"
        ).fetchall()
    except duckdb.Error:
        return {}
    finally:
        con.close()
    return {source_file: loaded_at for source_file, loaded_at in rows if loaded_at}


def _seen_at_start(
    cooperation: Cooperation, current: Mapping[str, Mapping[str, tuple[str, int]]]
) -> dict[str, dict[str, str]]:
    """On the sensor's first tick: the files the published snapshot already accounts for,
    recorded after they were last modified, count as seen."""
    recorded = _accounted_for(cooperation.snapshot)
    seen: dict[str, dict[str, str]] = {}
    for member_id, files in current.items():
        seen[member_id] = {}
        for path, (fingerprint, modified_ns) in files.items():
            when = recorded.get(path)
            if when is not None and when.timestamp() * 1e9 >= modified_ns:
                seen[member_id][path] = fingerprint
    return seen


def _digest(files: Mapping[str, str]) -> str:
    text = "\n".join(f"{path}\0{fingerprint}" for path, fingerprint in sorted(files.items()))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _names(paths) -> str:
    text = ", ".join(sorted(Path(p).name for p in paths))
    return text if len(text) <= 200 else text[:197] + "..."


def evaluate_deliveries(
    cooperation: Cooperation,
    context: dg.SensorEvaluationContext,
    now: float | None = None,
) -> dg.SensorResult | dg.SkipReason:
    """One tick of `member_deliveries` (see the module's docstring)."""
    now_ns = int((time.time() if now is None else now) * 1e9)
    current = {m.id: member_files(m) for m in cooperation.members}
    seen = read_cursor(context.cursor)
    if seen is None:
        seen = _seen_at_start(cooperation, current)
    changed = {
        member_id: {
            path: fingerprint
            for path, (fingerprint, _) in files.items()
            if seen.get(member_id, {}).get(path) != fingerprint
        }
        for member_id, files in current.items()
    }
    changed = {member_id: files for member_id, files in changed.items() if files}
    never_loaded = _never_materialized(context, cooperation)
    waiting = [m for m in never_loaded if m not in changed]
    if changed:
        modified = [
            modified_ns
            for member_id, files in changed.items()
            for path, (_, modified_ns) in current[member_id].items()
            if path in files and modified_ns <= now_ns + _FUTURE_SLACK_NS
        ]
        newest = max(modified, default=0)
        quiet_ns = quiet_seconds() * 10**9
        age_ns = now_ns - newest
        if quiet_ns and age_ns < quiet_ns:
            count = sum(len(files) for files in changed.values())
            return dg.SkipReason(
                f"{count} new or changed file{'s' if count != 1 else ''} "
                f"({', '.join(sorted(changed))}); the last changed {max(age_ns, 0) / 1e9:.0f} s "
                f"ago: waiting until none has changed for {quiet_ns / 1e9:.0f} s "
                f"({QUIET_ENV_VAR})"
            )
    if not changed and not waiting:
        cursor = write_cursor(_fingerprints(current))
        if cursor != context.cursor:
            return dg.SensorResult(skip_reason="no new or changed delivery", cursor=cursor)
        return dg.SkipReason("no new or changed delivery")
    requests = []
    for member_id in [m.id for m in cooperation.members]:
        if member_id not in changed and member_id not in waiting:
            continue
        files = {path: fingerprint for path, (fingerprint, _) in current[member_id].items()}
        reason = "new delivery" if member_id in changed else "never loaded"
        requests.append(
            dg.RunRequest(
                run_key=f"{member_id}:{_digest(files)}",
                partition_key=member_id,
                tags={
                    TRIGGER_TAG: f"{DELIVERY_SENSOR}: {reason}",
                    FILES_TAG: _names(changed.get(member_id, {})) or "none",
                },
            )
        )
    return dg.SensorResult(run_requests=requests, cursor=write_cursor(_fingerprints(current)))


def _fingerprints(current: Mapping[str, Mapping[str, tuple[str, int]]]) -> dict:
    return {m: {path: fp for path, (fp, _) in files.items()} for m, files in current.items()}


def _never_materialized(context: dg.SensorEvaluationContext, cooperation: Cooperation) -> list:
    """The members whose deliveries were never materialized: the build waits for every
    member, so each is loaded once even without a file."""
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # a test's context without an instance
        return []
    done = instance.get_materialized_partitions(dg.AssetKey(["raw", DELIVERY_TABLES[0]]))
    return [m for m in cooperation.member_ids if m not in done]


def build_delivery_sensor(
    cooperation: Cooperation, ingest_job: dg.UnresolvedAssetJobDefinition
) -> dg.SensorDefinition:
    @dg.sensor(
        name=DELIVERY_SENSOR,
        job=ingest_job,
        minimum_interval_seconds=sensor_interval(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests a member's ingestion run when a new or changed file appears in "
        "its spend paths (after a quiet period, so that a batch of deliveries is loaded "
        "together and built once).",
    )
    def member_deliveries(context: dg.SensorEvaluationContext):
        return evaluate_deliveries(cooperation, context)

    return member_deliveries


def build_automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """The code location's default automation condition sensor, running from the start."""
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=automation_interval(),
        description="Builds the models and publishes once a batch of deliveries is loaded "
        "(eager), and evaluates the members' delivery freshness after each publish and daily.",
    )


# --- freshness per member -----------------------------------------------------------------


def check_name(member_id: str) -> str:
    return "delivery_sla_" + re.sub(r"[^A-Za-z0-9_]", "_", member_id)


def freshness_condition(published_key: dg.AssetKey) -> dg.AutomationCondition:
    """After each publish (in the build's own run) and daily; never twice at once."""
    after_publish = dg.AutomationCondition.any_deps_updated().allow(
        dg.AssetSelection.assets(published_key)
    )
    daily = dg.AutomationCondition.cron_tick_passed(freshness_cron())
    return (after_publish | daily).since_last_handled() & ~dg.AutomationCondition.in_progress()


def build_freshness_checks(
    cooperation: Cooperation, published_key: dg.AssetKey
) -> dg.AssetChecksDefinition:
    from pipelines.freshness import delivery_sla

    sla = delivery_sla()
    condition = freshness_condition(published_key)
    specs = [
        dg.AssetCheckSpec(
            check_name(member.id),
            asset=DELIVERIES_KEY,
            additional_deps=[published_key],
            description=f"{member.name} ({member.id}) delivers on time: {sla.describe()} "
            "(data_contracts/spend.odcs.yaml, slaProperties); judged on the last accepted "
            "delivery in the published snapshot",
            automation_condition=condition,
        )
        for member in cooperation.members
    ]

    @dg.multi_asset_check(
        specs=specs,
        name=FRESHNESS_CHECKS,
        description="Each member's last accepted delivery against the spend contract's SLA",
    )
    def member_delivery_sla(context):
        from pipelines.freshness import member_freshness

        members = member_freshness(cooperation, cooperation.snapshot, date.today(), sla)
        for member in members:
            yield dg.AssetCheckResult(
                check_name=check_name(member.member_id),
                asset_key=DELIVERIES_KEY,
                passed=not member.overdue,
                severity=dg.AssetCheckSeverity.WARN,
                description=member.reason,
                metadata={
                    "last_accepted_delivery": (
                        member.last_accepted.isoformat(sep=" ", timespec="minutes")
                        if member.last_accepted
                        else "none"
                    ),
                    "due_by": member.due.isoformat() if member.due else "now",
                    "days_overdue": max(member.days_overdue or 0, 0),
                    "sla": sla.describe(),
                },
            )
        overdue = {m.member_id: m.reason for m in members if m.overdue}
        for member_id, reason in overdue.items():
            context.log.warning(f"{member_id}: overdue: {reason}")
        if RUN_TAG not in context.run.tags:  # `samkjop run` announces them with its own alerts
            announce_overdue(cooperation, overdue, context.log)

    return member_delivery_sla


# --- alerts (pipelines/alerts.py) ---------------------------------------------------------


def announce_overdue(cooperation: Cooperation, overdue: dict[str, str], log) -> None:
    """Members that became overdue since the last announcement, to the unit's channels."""
    if not cooperation.alerts.configured:
        return
    from pipelines.alerts import newly_overdue

    send_alerts(cooperation, newly_overdue(cooperation, overdue), log)


def send_alerts(cooperation: Cooperation, alerts: list, log) -> None:
    """Hand alerts to pipelines.alerts; a channel that fails is a warning in the log."""
    if not alerts:
        return
    from pipelines.alerts import send_alerts as send

    for problem in send(cooperation, alerts):
        log.warning(problem)


def _alerts_of_finished_run(cooperation: Cooperation, context: dg.RunStatusSensorContext):
    from pipelines.alerts import alerts_from_run

    run = context.dagster_run
    if RUN_TAG in run.tags:  # executed by `samkjop run`, which sends its own alerts
        return
    entries = context.instance.all_logs(run.run_id)
    events = [entry.dagster_event for entry in entries if entry.dagster_event]
    send_alerts(cooperation, alerts_from_run(cooperation, run.run_id, events), context.log)


def build_alert_sensors(cooperation: Cooperation) -> list[dg.SensorDefinition]:
    """Alerts for the runs the daemon (or the UI) launched; `samkjop run` sends its own."""
    if not cooperation.alerts.configured:
        return []
    sensors = []
    for status, name in (
        (dg.DagsterRunStatus.SUCCESS, "alerts_after_run"),
        (dg.DagsterRunStatus.FAILURE, "alerts_after_failed_run"),
    ):

        @dg.run_status_sensor(
            run_status=status,
            name=name,
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=sensor_interval(),
            description="Sends the run's rejected deliveries, failed data tests and failure "
            "to the channels of `alerts:` in cooperation.yml.",
        )
        def alert(context: dg.RunStatusSensorContext):
            _alerts_of_finished_run(cooperation, context)

        sensors.append(alert)
    return sensors
