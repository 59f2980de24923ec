"""`samkjop`: the command line of the platform.

Exit codes of `run`: 0 all deliveries loaded, 2 some delivery was rejected as a whole
(the rest is loaded and published), 1 the run failed or was stopped (nothing new is
published).

`samkjop run` takes the cooperation's run lock (pipelines/run_lock.py), then does the work
in a worker process (`run-worker`, not for direct use) in a process group of its own, so
that SIGINT, SIGTERM or Ctrl-C stop the worker and dbt together (pipelines/processes.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path

from pipelines import phase_log
from pipelines.alerts import Alert, alerts_from_run
from pipelines.failures import failure_summary
from pipelines.progress import PROGRESS_ENV_VAR
from pipelines.run_history import last_run, record_run
from pipelines.run_inputs import (
    fingerprint,
    forget_published,
    member_fingerprints,
    record_published,
    snapshot_identity,
    unchanged_members,
    unchanged_since_publish,
)
from pipelines.settings import CONFIG_ENV_VAR, PROJECT_ROOT, ConfigError, Cooperation, load_config

EXIT_OK, EXIT_FAILED, EXIT_REJECTED = 0, 1, 2


class CommandError(Exception):
    """A problem the user is told in one line, without a trace."""


def _say(message: str) -> None:
    _write(sys.stdout, message)


def _error(message: str) -> int:
    _write(sys.stderr, f"samkjop: error: {message}")
    return EXIT_FAILED


def _write(stream, message: str) -> None:
    """Print; when the reader has gone (`samkjop run | head`), go on without it: a run is
    never cut short because nobody reads its summary any more."""
    try:
        print(message, file=stream, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def _load(config: str) -> Cooperation:
    cooperation = load_config(config)
    os.environ[CONFIG_ENV_VAR] = str(cooperation.config_path)
    return cooperation


# --- run ---------------------------------------------------------------------------------

RUN_WORKER = "run-worker"
DEFAULT_WAIT_MINUTES = 60.0


def cmd_run(args: argparse.Namespace) -> int:
    """Take the run lock (waiting for another run if need be), stop what a killed run may
    have left running, then run the worker and stop it, dbt included, on a stop signal."""
    from pipelines.processes import RUN_TOKEN_ENV_VAR, stop_leftovers, supervise
    from pipelines.run_lock import RunBusy, RunLock

    cooperation = _load(args.config)
    unknown = [m for m in args.municipality or [] if m not in cooperation.member_ids]
    if unknown:
        return _error(
            f"--municipality {unknown[0]!r} is not a member listed in "
            f"{cooperation.config_path} ({', '.join(cooperation.member_ids)})"
        )
    with RunLock(cooperation.state_dir) as lock:
        try:
            previous = lock.acquire(args.wait * 60, on_wait=lambda h: _say_waiting(h, args.wait))
        except RunBusy as busy:
            return _error(str(busy))
        except KeyboardInterrupt:
            return _error("stopped while waiting for the other run; nothing was done")
        if stop_leftovers(previous.token):
            _say("Stopped what an earlier, killed run had left running.")
        if not (args.full or args.municipality):
            unchanged = unchanged_since_publish(cooperation)
            if unchanged is not None:
                record_run(cooperation, datetime.now(), unchanged.exit_code, "nothing new")
                return _nothing_new(cooperation, unchanged)
        published = snapshot_identity(cooperation.snapshot)
        started = datetime.now()
        outcome = supervise(
            _worker_command(args, cooperation),
            {**os.environ, RUN_TOKEN_ENV_VAR: lock.token},
            stop_signal=signal.SIGKILL,  # every step is safe to kill; the next run resumes
            pass_fds=(lock.fd,),  # the lock lasts as long as the worker does
            die_with_parent=False,  # the worker watches samkjop and kills its group
            on_stop=lambda name: _say(f"\n{name} received: stopping the run…"),
        )
        if outcome.stopped_by or outcome.killed_by:
            _clean_up_after(cooperation)
            changed = snapshot_identity(cooperation.snapshot) != published
            message = _stopped_message(outcome, changed)
            record_run(cooperation, started, EXIT_FAILED, "stopped", [message])
            return _error(message)
    return outcome.returncode if outcome.returncode in (EXIT_OK, EXIT_REJECTED) else EXIT_FAILED


def _nothing_new(cooperation: Cooperation, published) -> int:
    """No file, setting, model or code changed since the run that published the snapshot:
    nothing is loaded, built or published; the exit code is that run's."""
    rejected = (
        "; its rejected deliveries are still rejected (`samkjop status`)"
        if published.exit_code == EXIT_REJECTED
        else ""
    )
    _say(
        f"Samkjøp: {cooperation.name}: nothing new since the run of {published.started_text} "
        f"(no delivery, setting, model or code changed); the published snapshot "
        f"{cooperation.snapshot} is current{rejected}. `samkjop run --full` runs everything."
    )
    return published.exit_code


def _say_waiting(holder, minutes: float) -> None:
    _say(
        f"{holder.describe()} is running on this cooperation; waiting up to {minutes:g} min "
        "for it to finish (Ctrl-C to give up)…"
    )


def _worker_command(args: argparse.Namespace, cooperation: Cooperation) -> list[str]:
    members = [arg for member in args.municipality or [] for arg in ("--municipality", member)]
    config = str(cooperation.config_path)
    engine = ["--engine", args.engine] if getattr(args, "engine", "duckdb") != "duckdb" else []
    return [
        sys.executable,
        "-m",
        "pipelines.cli",
        RUN_WORKER,
        "--config",
        config,
        *members,
        *(["--full"] if args.full else []),
        *engine,
    ]


def _clean_up_after(cooperation: Cooperation) -> None:
    """What the stopped worker could not do: its Dagster runs marked failed, its half-built
    snapshot removed. Whatever fails here, the next run does it again."""
    from pipelines.dagster_runs import open_instance, release_dead_runs
    from pipelines.publish import remove_stale_builds

    remove_stale_builds(cooperation.snapshot)
    try:
        with _dagster_output_to(cooperation.state_dir / "logs" / "stopped-runs.log"):
            instance = open_instance(cooperation)
            release_dead_runs(instance, None, "samkjop run was stopped before this run finished")
    except Exception as error:  # the next run tries again
        _say(f"Note: the stopped run is marked failed by the next run ({_first_line(error)}).")


def _stopped_message(outcome, snapshot_changed: bool) -> str:
    published = (
        "it had already published its snapshot"
        if snapshot_changed
        else "nothing new was published (the published snapshot is unchanged)"
    )
    if outcome.stopped_by:
        how = f"the run was stopped ({outcome.stopped_by})"
    else:
        memory = " — perhaps for lack of memory" if outcome.killed_by == "SIGKILL" else ""
        how = f"the run was killed ({outcome.killed_by}{memory})"
    return f"{how}; {published}. The next run continues where this one stopped."


def cmd_run_worker(args: argparse.Namespace) -> int:
    """The run itself, in the worker process `samkjop run` started (and holds the lock for):
    one ingestion run per member, then, only if none failed, the build and publish run;
    at the end, whatever happened, the alerts (`alerts:` in cooperation.yml)."""
    from pipelines.processes import watch_parent

    watch_parent()
    os.environ[PROGRESS_ENV_VAR] = "1"  # the dbt build tells the terminal how far it is
    cooperation = _load(args.config)
    started = datetime.now()
    log_path = cooperation.state_dir / "logs" / f"run-{started:%Y%m%d-%H%M%S}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    outbox: list = []  # the alerts of this run's Dagster runs, sent once at the end
    exit_code = EXIT_FAILED
    try:
        exit_code = _run(args, cooperation, outbox, started, log_path)
        return exit_code
    finally:
        _send_alerts(cooperation, outbox)
        problems = [f"{a.event.replace('_', ' ')}: {a.reason}" for a in outbox]
        record_run(cooperation, started, exit_code, OUTCOMES[exit_code], problems, str(log_path))


OUTCOMES = {
    EXIT_OK: "published",
    EXIT_REJECTED: "published; some deliveries were rejected",
    EXIT_FAILED: "failed; nothing new was published",
}


def _run(args, cooperation: Cooperation, outbox: list, started: datetime, log_path: Path) -> int:
    from pipelines.dagster_runs import RUN_TAG, open_instance, release_dead_runs, serve_is_running
    from pipelines.processes import RUN_TOKEN_ENV_VAR
    from pipelines.publish import remove_stale_builds

    token = os.environ.get(RUN_TOKEN_ENV_VAR, "")
    _say(f"Samkjøp: {cooperation.name} ({len(cooperation.members)} members)")
    # before any file is read
    inputs = None if args.municipality else fingerprint(cooperation)
    member_inputs = {} if args.municipality else member_fingerprints(cooperation)
    not_read = set() if args.full else unchanged_members(cooperation, member_inputs)
    forget_published(cooperation)  # until this run has published
    if args.full:
        from pipelines import incremental

        incremental.forget(cooperation.warehouse)  # the spend lines are rebuilt in full too
    with _dagster_output_to(log_path):
        instance = open_instance(cooperation)
        release_dead_runs(
            instance,
            token,
            "the samkjop run that executed it was killed",
            launched_elsewhere=not serve_is_running(cooperation.state_dir),  # no daemon alive
        )
        remove_stale_builds(cooperation.snapshot)
    _say("Loading definitions (dbt parse)…")
    with phase_log.phase("definitions"):
        defs, problem = _definitions(cooperation, log_path)
    if defs is None:
        reason = f"dbt could not read its project: {problem}"
        outbox.append(Alert("failed_run", reason, log=str(log_path)))
        return _error(f"{reason}. Details in {log_path}")
    tags = {RUN_TAG: token} if token else {}
    failures: list[str] = []
    rejections: list[tuple[str, str]] = []
    for member_id in args.municipality or cooperation.member_ids:
        if member_id in not_read:
            member = cooperation.member(member_id)
            _say(f"  {member_id} {member.name}: nothing new since the last run (not read again)")
            continue
        failure, rejected = _ingest(
            cooperation, defs, instance, (log_path, outbox), member_id, started, tags
        )
        failures += [failure] if failure else []
        rejections += [(member_id, message) for message in rejected]
    if failures:
        return _error(
            f"{'; '.join(failures)}. Nothing was built or published: the published snapshot "
            f"is unchanged. Details in {log_path}"
        )
    exit_code = _build_and_publish(
        cooperation, defs, instance, (log_path, outbox), started, tags, rejections, args.engine
    )
    if exit_code != EXIT_FAILED:
        outbox += _newly_overdue(cooperation)
    if inputs is not None and exit_code != EXIT_FAILED:
        record_published(cooperation, inputs, exit_code, started, member_inputs)
    return exit_code


def _newly_overdue(cooperation: Cooperation) -> list:
    """The members that became overdue since the last run, as alerts (once each)."""
    from pipelines.alerts import newly_overdue
    from pipelines.freshness import overdue_members

    return newly_overdue(cooperation, {m.member_id: m.reason for m in overdue_members(cooperation)})


def _send_alerts(cooperation: Cooperation, outbox: list) -> None:
    """Send the run's alerts; a channel that fails is a note, never a failed run."""
    from pipelines.alerts import send_alerts

    for problem in send_alerts(cooperation, outbox):
        _say(f"Note: {problem}")


def _definitions(cooperation: Cooperation, log_path: Path):
    """The Dagster definitions (after `dbt parse`), or None and the last line of the error."""
    from pipelines.definitions import build_definitions

    with _dagster_output_to(log_path):
        try:
            return build_definitions(cooperation), None
        except Exception as error:  # dbt parse: the whole error goes to the log
            if os.environ.get("SAMKJOP_DEBUG"):
                raise
            print(f"dbt parse failed: {error}", flush=True)
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            return None, (lines[-1] if lines else type(error).__name__)[:400]


def _ingest(cooperation, defs, instance, reporting, member_id, started, tags):
    """One member's ingestion run; return what failed (or None) and the rejections.
    `reporting`: the run's log file and the list its alerts are collected in."""
    from pipelines.definitions import INGEST_JOB

    log_path, outbox = reporting
    member = cooperation.member(member_id)
    clock = time.monotonic()
    with phase_log.phase("ingest", member=member_id):
        result = _execute(
            defs.resolve_job_def(INGEST_JOB), instance, log_path, partition_key=member_id, tags=tags
        )
    outbox += alerts_from_run(cooperation, result.run_id, result.all_events, str(log_path))
    line = f"  {member_id} {member.name}: {_delivery_line(cooperation, member_id, started)}"
    _say(f"{line} ({time.monotonic() - clock:.1f} s){'' if result.success else '  FAILED'}")
    if result.success:
        return None, _rejection_messages(result)
    _say(failure_summary(result))
    return f"loading the deliveries of {member_id} {member.name} failed", []


def _build_and_publish(
    cooperation, defs, instance, reporting, started, tags, rejections, engine="duckdb"
) -> int:
    from pipelines.definitions import BUILD_JOB

    log_path, outbox = reporting
    _say("Building reference data, agreements, dbt models and tests, then publishing…")
    clock = time.monotonic()
    job = defs.resolve_job_def(BUILD_JOB)
    # on Spark: only the loaders of raw tables here; the models are built by Spark below
    selection = (
        {"asset_selection": [k for k in job.asset_layer.selected_asset_keys if k.path[0] == "raw"]}
        if engine == "spark"
        else {}
    )
    with phase_log.phase("build"):
        result = _execute(job, instance, log_path, tags=tags, **selection)
    outbox += alerts_from_run(cooperation, result.run_id, result.all_events, str(log_path))
    phase_log.steps(instance, result.run_id, parent="build")
    if not result.success:
        _say(failure_summary(result))
        return _error(
            "the run failed; nothing new was published (the published snapshot is unchanged). "
            f"Details in {log_path} and in `samkjop ui --config {cooperation.config_path}`"
        )
    if engine == "spark":
        from pipelines.spark_engine import SparkBuildError, build_on_spark

        try:
            with phase_log.phase("spark"), _dagster_output_to(log_path):
                build_on_spark(cooperation)
        except SparkBuildError as error:
            return _error(
                f"{error}. Nothing new was published (the published snapshot is unchanged). "
                f"Details in {log_path}"
            )
    _say(f"  done in {time.monotonic() - clock:.1f} s; snapshot {cooperation.snapshot}")
    try:
        with phase_log.phase("summary"):
            _print_summary(cooperation, started, rejections)
    except Exception as error:  # published already: the exit code says so
        if os.environ.get("SAMKJOP_DEBUG"):
            raise
        _say(f"Note: the snapshot is published, but the summary could not be printed: {error}")
    return EXIT_REJECTED if rejections else EXIT_OK


def _print_summary(cooperation: Cooperation, started: datetime, rejections) -> None:
    _print_deliveries(cooperation, started)
    _print_replacements(cooperation, started)
    _print_kpis(cooperation)
    _print_notes(cooperation)
    if rejections:
        _say("Rejected deliveries (the member's earlier data stays published):")
        for member_id, message in rejections:
            _say(f"  {member_id}: {message}")


@contextlib.contextmanager
def _dagster_output_to(log_path: Path):
    """Dagster's, dbt's and the libraries' own output (logs, warnings, traces) go to the
    run's log file; the user sees samkjop's summary."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(log_path, "a", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        yield


def _rejection_messages(result) -> list[str]:
    """The rejections one member's ingestion run reported (recorded or not)."""
    from pipelines.defs.ingest.assets import REJECTION_MESSAGES

    messages: list[str] = []
    for materialization in result.asset_materializations_for_node("member_spend"):
        entry = materialization.metadata.get(REJECTION_MESSAGES)
        if entry is not None and materialization.asset_key.path == ["raw", "deliveries"]:
            messages += entry.value
    return messages


def _execute(job, instance, log_path: Path, **kwargs):
    """Run a job of the code location in this process; its own output goes to the log file."""
    logs = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    with _dagster_output_to(log_path):
        return job.execute_in_process(
            instance=instance, raise_on_error=False, run_config=logs, **kwargs
        )


def _delivery_line(cooperation: Cooperation, member_id: str, since: datetime) -> str:
    import duckdb

    from pipelines.warehouse import connect

    try:
        with connect(cooperation.warehouse) as con:
            rows = con.execute(
                "SELECT status, count(*), sum(rows_loaded), sum(rows_rejected) "
                "FROM raw.deliveries WHERE municipality_id = ? AND loaded_at >= ? "
                "GROUP BY status ORDER BY status",
                [member_id, since],
            ).fetchall()
    except duckdb.Error as error:
        return f"the delivery record cannot be read ({_first_line(error)})"
    if not rows:
        return "no new delivery"
    parts = []
    for status, files, loaded, rejected in rows:
        detail = f" ({loaded:,} rows, {rejected:,} rows rejected)" if status == "loaded" else ""
        parts.append(f"{files} {status.replace('_', ' ')}{detail}")
    return "; ".join(parts)


def _snapshot_rows(cooperation: Cooperation, sql: str, parameters=()) -> list[tuple]:
    import duckdb

    try:
        con = duckdb.connect(str(cooperation.snapshot), read_only=True)
    except duckdb.Error as error:
        raise CommandError(
            f"the published snapshot {cooperation.snapshot} cannot be read "
            f"({_first_line(error)}); `samkjop run` publishes it again"
        ) from error
    try:
        return con.execute(sql, list(parameters)).fetchall()
    finally:
        con.close()


def _print_deliveries(cooperation: Cooperation, since: datetime) -> None:
    """Every delivery of this run with all its rows: loaded, rejected (by the loader or for
    a missing exchange rate) and excluded, as the published reconciliation counts them."""
    rows = _snapshot_rows(
        cooperation,
        "SELECT municipality_id, count(*), sum(rows_read), sum(rows_loaded), "
        "sum(rows_rejected), sum(rows_rejected_exchange_rate), "
        "sum(coalesce(rows_excluded, 0)) "
        "FROM marts.delivery_reconciliation WHERE loaded_at >= ? AND status <> 'rejected' "
        "GROUP BY municipality_id ORDER BY municipality_id",
        [since],
    )
    if not rows:
        _say("\nNo new delivery was loaded.")
        return
    _say("\nDeliveries loaded in this run (every row is loaded, rejected or excluded):")
    for member_id, files, read, loaded, rejected, no_rate, excluded in rows:
        extra = f" ({no_rate:,} without an exchange rate)" if no_rate else ""
        _say(
            f"  {member_id}: {files} files, {read:,} rows read: {loaded:,} loaded, "
            f"{rejected:,} rejected{extra}, {excluded:,} excluded"
        )


def _print_replacements(cooperation: Cooperation, since: datetime) -> None:
    from pipelines.warehouse import connect

    with connect(cooperation.warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT new.municipality_id, new.source_file, old.source_file, old.period, "
            "r.rows_replaced, r.amount_replaced FROM raw.delivery_replacements AS r "
            "JOIN raw.deliveries AS old ON old.delivery_id = r.delivery_id "
            "JOIN raw.deliveries AS new ON new.delivery_id = r.replaced_by "
            "WHERE r.replaced_at >= ? ORDER BY 1, 2, 3",
            [since],
        ).fetchall()
    if not rows:
        return
    _say("Re-deliveries (the earlier file's rows left the figures; they stay in raw for audit):")
    for member_id, new, old, period, count, amount in rows:
        _say(
            f"  {member_id}: {Path(new).name} replaced {Path(old).name} (period {period}): "
            f"{count or 0:,} rows, {amount or 0:,.2f} as delivered"
        )


def _print_notes(cooperation: Cooperation) -> None:
    """What an empty or partial table would otherwise leave unsaid."""
    from pipelines.mapping_report import unmapped_code_warnings

    for warning in unmapped_code_warnings(cooperation.snapshot, cooperation.unmapped_warning_share):
        _say(f"Warning: {warning}")
    if not cooperation.thresholds:
        why = (
            "cooperation.thresholds is an empty list"
            if cooperation.thresholds_configured
            else f"cooperation.thresholds is not set and there is no official default for "
            f"country {cooperation.country}"
        )
        _say(f"Note: threshold_flags is empty: {why}.")
    without = _agreements_without_suppliers(cooperation)
    if without:
        agreements = "1 agreement names" if len(without) == 1 else f"{len(without)} agreements name"
        _say(
            f"Note: {agreements} no supplier yet ({', '.join(without)}): the spend they "
            "cover counts as covered, never as on-agreement."
        )


def _agreements_without_suppliers(cooperation: Cooperation) -> list[str]:
    rows = _snapshot_rows(
        cooperation,
        "SELECT agreement_id FROM marts.dim_agreements WHERE supplier_count = 0 "
        "ORDER BY agreement_id",
    )
    return [agreement_id for (agreement_id,) in rows]


def _percent(value) -> str:
    return "n/a" if value is None else f"{value * 100:5.1f} %"


def _print_kpis(cooperation: Cooperation) -> None:
    """Key figures of the default year: the latest year in which every member delivered
    all twelve months (marts.data_completeness), else the latest year, marked partial."""
    years = _snapshot_rows(
        cooperation,
        "SELECT year, is_complete_year, delivering_member_count, complete_member_count, "
        "member_count FROM marts.data_completeness "
        "WHERE municipality_id = 'ALL' AND is_default_year",
    )
    if not years:
        _say("No spend loaded yet.")
        return
    ((year, complete, delivering, complete_members, members),) = years
    rows = _snapshot_rows(
        cooperation,
        "SELECT municipality_id, municipality_name, influenceable_spend, coverage, "
        "loyalty, shared_coverage, shared_loyalty, off_agreement_spend "
        "FROM marts.municipality_kpis WHERE year = ? "
        "ORDER BY municipality_id = 'ALL', municipality_id",
        [year],
    )
    partial = (
        ""
        if complete
        else f"; PARTIAL year: {delivering} of {members} members have spend in it, "
        f"{complete_members} all 12 months"
    )
    _say(
        f"\nKey figures {year} ({cooperation.currency}; loyalty target "
        f"{_percent(cooperation.loyalty_target).strip()}{partial}):"
    )
    _say(
        f"  {'member':<24}{'influenceable':>16}{'coverage':>10}{'loyalty':>10}"
        f"{'shared cov.':>13}{'shared loy.':>13}{'off-agreement':>16}"
    )
    for member_id, name, spend, coverage, loyalty, s_cov, s_loy, off in rows:
        label = f"{member_id} {name or ''}"[:23]
        _say(
            f"  {label:<24}{spend or 0:>16,.0f}{_percent(coverage):>10}{_percent(loyalty):>10}"
            f"{_percent(s_cov):>13}{_percent(s_loy):>13}{off or 0:>16,.0f}"
        )


# --- other commands ----------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.demo import generate_demo

    out = Path(args.out)
    clock = time.monotonic()
    _say(f"Writing a demo cooperation ({args.lines:,} spend lines, seed {args.seed}) to {out}…")

    def progress(done: int) -> None:
        _say(f"  {done:,} lines ({time.monotonic() - clock:.0f} s)")

    config = generate_demo(out, seed=args.seed, lines=args.lines, progress=progress)
    _say(f"Done in {time.monotonic() - clock:.1f} s: {config}")
    _say(f"Next: samkjop run --config {config}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from pipelines.export import ExportError, export_table

    cooperation = _load(args.config)
    if args.municipality and args.municipality not in [*cooperation.member_ids, "ALL"]:
        return _error(
            f"--municipality {args.municipality!r} is not a member "
            f"({', '.join(cooperation.member_ids)}, or ALL)"
        )
    language = args.language or cooperation.language or None
    if args.bundle:
        return _export_bundle(args, cooperation, language)
    if not args.table or not args.out:
        return _error("give a TABLE and --out DIR (or --bundle FILE.zip --year YYYY)")
    try:
        path, rows = export_table(
            cooperation.snapshot,
            args.table,
            args.format,
            Path(args.out),
            args.municipality,
            args.year,
            language=language,
            allow_empty=args.allow_empty,
        )
    except ExportError as error:
        return _error(str(error))
    _say(f"Wrote {rows:,} rows to {path}")
    if args.format != "xlsx":
        _say(f"Provenance: {path.with_name(f'{args.table}.manifest.json')}")
    return EXIT_OK


def _export_bundle(args: argparse.Namespace, cooperation, language: str | None) -> int:
    from pipelines.audit_bundle import write_bundle
    from pipelines.export import ExportError

    if args.table or args.out:
        return _error("--bundle writes every audit table: give no TABLE and no --out")
    if args.year is None:
        return _error("--bundle needs --year YYYY (the year the auditors check)")
    target = Path(args.bundle)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = write_bundle(
            cooperation.snapshot,
            target,
            args.year,
            args.municipality,
            language=language,
            allow_empty=args.allow_empty,
        )
    except ExportError as error:
        return _error(str(error))
    _say(
        f"Wrote {result.files} files to {target}: "
        + ", ".join(f"{table} {rows:,}" for table, rows in result.rows.items())
    )
    for note in result.skipped:
        _say(f"  {note}")
    _say(f"Check it with: samkjop verify-bundle {target}")
    return EXIT_OK


def cmd_verify_bundle(args: argparse.Namespace) -> int:
    from pipelines.audit_bundle import verify_bundle

    outcome = verify_bundle(Path(args.file))
    for problem in outcome.problems:
        _error(problem)
    for what, names in (
        ("changed", outcome.changed),
        ("missing", outcome.missing),
        ("not in the manifest", outcome.extra),
    ):
        for name in names:
            _error(f"{args.file}: {name}: {what}")
    if not outcome.ok:
        return EXIT_FAILED
    _say(
        f"{args.file}: all {outcome.checked} files match their SHA-256 in manifest.json "
        f"(manifest SHA-256 {outcome.manifest_sha256}: compare it with the one you were given)"
    )
    return EXIT_OK


def cmd_spark_build(args: argparse.Namespace) -> int:
    """The dbt project built on Apache Spark from the raw tables `samkjop run` loaded, its
    marts published as the read-only snapshot (pipelines/spark_engine.py)."""
    from pipelines.run_lock import RunBusy, RunLock
    from pipelines.spark_engine import SparkBuildError, build_on_spark

    cooperation = _load(args.config)
    snapshot = Path(args.snapshot).resolve() if args.snapshot else cooperation.snapshot
    with RunLock(cooperation.state_dir) as lock:
        try:
            lock.acquire(args.wait * 60, on_wait=lambda h: _say_waiting(h, args.wait))
        except RunBusy as busy:
            return _error(str(busy))
        _say(f"Samkjøp: {cooperation.name}: building the dbt project on Spark…")
        clock = time.monotonic()
        try:
            counts = build_on_spark(cooperation, snapshot, unit_tests=args.unit_tests)
        except SparkBuildError as error:
            return _error(f"{error}. Nothing was published ({snapshot} is unchanged).")
    _say(
        f"  done in {time.monotonic() - clock:.1f} s: {len(counts)} marts, "
        f"{sum(counts.values()):,} rows; snapshot {snapshot}"
    )
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """The annual report of --year for the council, from the published snapshot
    (pipelines/report): in --language (default the cooperation's), as PDF or HTML."""
    from dashboards.i18n import default_language
    from pipelines.report import ReportError, build_report

    cooperation = _load(args.config)
    language = args.language or cooperation.language or default_language(cooperation.country)
    try:
        report = build_report(
            cooperation.snapshot, args.year, language, args.format, Path(args.out)
        )
    except ReportError as error:
        return _error(f"{cooperation.name}: {error}")
    partial = "" if report.is_complete_year else f" ({args.year} is an incomplete year: marked)"
    _say(f"Wrote the annual report {args.year} ({language}) to {report.path}{partial}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    cooperation = _load(args.config)
    run = last_run(cooperation)
    if not cooperation.snapshot.is_file():
        _say(
            f"Nothing published yet for {cooperation.name}: run "
            f"`samkjop run --config {args.config}`."
        )
        if run is not None:
            _say(run.describe())
        return EXIT_OK
    ((published,),) = _snapshot_rows(cooperation, "SELECT published_at FROM marts.snapshot_info")
    deliveries = _snapshot_rows(
        cooperation,
        "SELECT municipality_id, source_file, status, rows_read, rows_loaded, rows_rejected, "
        "message, loaded_at, reported_amount_loaded, delivery_period "
        "FROM marts.delivery_reconciliation ORDER BY municipality_id, loaded_at, source_file",
    )
    _say(f"{cooperation.name}: snapshot published {published:%Y-%m-%d %H:%M}")
    if run is not None:
        _say(run.describe())
    from pipelines.freshness import member_freshness

    freshness = member_freshness(cooperation)
    overdue = [m for m in freshness if m.overdue]
    _say(
        "Overdue: " + ", ".join(f"{m.member_id} {m.member_name}" for m in overdue)
        if overdue
        else f"Every member is on time ({freshness[0].sla.describe()})."
    )
    year = datetime.now().year
    months = _months_with_spend(cooperation, year)
    for member, fresh in zip(cooperation.members, freshness, strict=True):
        _status_of_member(member, [d for d in deliveries if d[0] == member.id])
        _say(f"  {'OVERDUE: ' if fresh.overdue else ''}{fresh.reason}")
        _say(_missing_months(year, months.get(member.id, set())))
    _print_notes(cooperation)
    return EXIT_OK


def _months_with_spend(cooperation: Cooperation, year: int) -> dict[str, set[int]]:
    rows = _snapshot_rows(
        cooperation,
        "SELECT DISTINCT municipality_id, month(month_start) FROM marts.fct_spend_lines "
        "WHERE year = ?",
        [year],
    )
    months: dict[str, set[int]] = {}
    for member_id, month in rows:
        months.setdefault(member_id, set()).add(month)
    return months


def _missing_months(year: int, months: set[int]) -> str:
    """The months of this year up to the last full one in which the member has no spend."""
    last_full = datetime.now().month - 1
    missing = [m for m in range(1, last_full + 1) if m not in months]
    if not last_full:
        return f"  {year}: no full month yet"
    if not missing:
        return f"  {year}: spend in every month up to {year}-{last_full:02d}"
    listed = ", ".join(f"{year}-{m:02d}" for m in missing)
    return f"  {year}: no spend in {len(missing)} of {last_full} months so far: {listed}"


def _status_of_member(member, deliveries: list[tuple]) -> None:
    if not deliveries:
        _say(f"\n{member.id} {member.name}: no delivery yet")
        return
    from pipelines.freshness import ACCEPTED_STATUSES

    accepted = [d for d in deliveries if d[2] in ACCEPTED_STATUSES]
    rejected_files = [d for d in deliveries if d[2] == "rejected"]
    rejected_rows = sum(d[5] for d in deliveries)
    last = max(accepted, key=lambda d: d[7]) if accepted else None
    last_text = (
        f"last accepted {last[7]:%Y-%m-%d %H:%M} ({Path(last[1]).name}"
        + (f", period {last[9]}" if last[9] else "")
        + ")"
        if last
        else "no accepted delivery"
    )
    _say(
        f"\n{member.id} {member.name}: {len(deliveries)} deliveries, {last_text}; "
        f"{len(rejected_files)} rejected whole, {rejected_rows:,} rows rejected in all"
    )
    shown = [d for d in deliveries[:-3] if d[2] == "rejected"] + deliveries[-3:]
    for _, source, status, read, loaded, rejected, message, when, *_ in shown:
        _say(
            f"  {when:%Y-%m-%d %H:%M}  {Path(source).name}: {status}, {read:,} read, "
            f"{loaded:,} loaded, {rejected:,} rejected"
            + (f" — {message}" if status != "loaded" else "")
        )
    for _, source, status, _, loaded, _, message, _, amount, _ in deliveries:
        if status == "replaced":
            _say(
                f"  replaced: {Path(source).name}, {loaded:,} rows and {amount or 0:,.2f} "
                f"as delivered left the figures — {message}"
            )


def cmd_dashboards(args: argparse.Namespace) -> int:
    cooperation = _load(args.config)
    env = {
        **os.environ,
        "SAMKJOP_SNAPSHOT": str(cooperation.snapshot),
        "SAMKJOP_LANGUAGE": cooperation.language,  # the dashboards' default language
    }
    shown = "localhost" if args.host in ("127.0.0.1", "::1", "localhost") else args.host
    _say(f"Dashboards on http://{shown}:{args.port} (Ctrl-C to stop)")
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PROJECT_ROOT / "dashboards" / "streamlit_app.py"),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",  # readers get no "Deploy" button or developer menu
        "viewer",
    ]
    return _foreground(command, env)


def cmd_ui(args: argparse.Namespace) -> int:
    """The Dagster UI and its daemon (sensors, automation): `samkjop serve` without the
    dashboards (pipelines/serve.py)."""
    return _serve(args.config, args.port, None, "127.0.0.1")


def cmd_serve(args: argparse.Namespace) -> int:
    return _serve(args.config, args.ui_port, args.dashboards_port, args.host)


def _serve(config: str, ui_port: int, dashboards_port: int | None, host: str) -> int:
    from pipelines.serve import ServeError, serve

    try:
        return serve(_load(config), ui_port, dashboards_port, host, say=_say)
    except ServeError as error:
        return _error(str(error))


def _foreground(command: list[str], env: dict) -> int:
    """Serve until the server ends or samkjop is told to stop (Ctrl-C, SIGTERM): then the
    server and everything it started stop too."""
    from pipelines.processes import supervise

    outcome = supervise(command, env, on_stop=lambda name: _say(f"\n{name} received: stopping…"))
    if outcome.stopped_by:
        return EXIT_OK
    if outcome.returncode != 0:
        return _error(f"{Path(command[2]).name} stopped with exit code {outcome.returncode}")
    return EXIT_OK


# --- parser ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    from dashboards.i18n import LANGUAGES
    from pipelines.export import EXPORT_TABLES, FORMATS
    from pipelines.report import FORMATS as REPORT_FORMATS

    parser = argparse.ArgumentParser(
        prog="samkjop",
        description="Samkjøp: spend, agreements, coverage and loyalty for a procurement "
        "cooperation.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_text: str, config: bool = True):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if config:
            sub.add_argument("--config", required=True, metavar="PATH", help="the cooperation.yml")
        sub.set_defaults(handler=handler)
        return sub

    run = command("run", cmd_run, "load every delivery, build the models, publish")
    run.add_argument(
        "--municipality",
        action="append",
        metavar="ID",
        help="load only this member's deliveries (repeatable)",
    )
    run.add_argument(
        "--wait",
        type=_minutes,
        default=DEFAULT_WAIT_MINUTES,
        metavar="MINUTES",
        help="while another run of this cooperation is running, wait up to MINUTES for it "
        f"(default {DEFAULT_WAIT_MINUTES:g}; 0: stop at once with exit code 1)",
    )
    run.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="where the dbt models are built: duckdb (default) or spark (the spark extra and "
        "Java 17; README 'Moving to a Spark cluster'); the snapshot is the same either way",
    )
    run.add_argument(
        "--full",
        action="store_true",
        help="run everything even when no delivery, setting, model or code changed since the "
        "last run that published (without it such a run does nothing and says so), and "
        "rebuild the spend lines in full rather than delivery by delivery",
    )
    worker = commands.add_parser(RUN_WORKER)  # started by `samkjop run`; not listed
    worker.add_argument("--config", required=True)
    worker.add_argument("--municipality", action="append")
    worker.add_argument("--full", action="store_true")
    worker.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    worker.set_defaults(handler=cmd_run_worker)
    demo = command("demo", cmd_demo, "write a demo cooperation (synthetic data)", config=False)
    demo.add_argument("--out", required=True, metavar="DIR")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--lines", type=int, default=300_000)
    export = command("export", cmd_export, "write a stand-alone table for auditors")
    export.add_argument(
        "table",
        nargs="?",
        choices=list(EXPORT_TABLES),
        metavar="TABLE",
        help=f"one of: {', '.join(EXPORT_TABLES)}",
    )
    export.add_argument("--format", choices=FORMATS, default="csv")
    export.add_argument("--out", metavar="DIR")
    export.add_argument("--municipality", metavar="ID")
    export.add_argument("--year", type=int, metavar="YYYY")
    export.add_argument(
        "--language",
        choices=LANGUAGES,
        help="the workbooks' headers and sheets (default: cooperation.language)",
    )
    export.add_argument(
        "--allow-empty",
        action="store_true",
        help="write the file even when no row matches (otherwise: a message and exit code 1)",
    )
    export.add_argument(
        "--bundle",
        metavar="FILE.zip",
        help="every audit table of --year (and --municipality) as XLSX and Parquet in one "
        "zip, with a manifest of each file's SHA-256 (check it with verify-bundle)",
    )
    verify = command(
        "verify-bundle",
        cmd_verify_bundle,
        "check an audit bundle's files against its manifest's SHA-256",
        config=False,
    )
    verify.add_argument("file", metavar="FILE.zip")
    spark = command(
        "spark-build",
        cmd_spark_build,
        "build the dbt project on Apache Spark from the raw tables `samkjop run` loaded and "
        "publish its marts as the snapshot (needs the spark extra and Java 17)",
    )
    spark.add_argument(
        "--snapshot", metavar="PATH", help="publish to this file instead of the cooperation's"
    )
    spark.add_argument("--unit-tests", action="store_true", help="run the dbt unit tests too")
    spark.add_argument(
        "--wait",
        type=_minutes,
        default=DEFAULT_WAIT_MINUTES,
        metavar="MINUTES",
        help="wait up to MINUTES for another run of this cooperation",
    )
    report = command("report", cmd_report, "write the annual report for the council (PDF or HTML)")
    report.add_argument("--year", type=int, required=True, metavar="YYYY")
    report.add_argument(
        "--language",
        choices=LANGUAGES,
        help="the report's language (default: cooperation.language, else the country's)",
    )
    report.add_argument("--format", choices=REPORT_FORMATS, default="pdf")
    report.add_argument("--out", required=True, metavar="DIR")
    command("status", cmd_status, "what each member last delivered and what was rejected")
    dashboards = command("dashboards", cmd_dashboards, "serve the Streamlit dashboards")
    dashboards.add_argument("--port", type=int, default=8501)
    dashboards.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address the dashboards listen on (default 127.0.0.1: this machine only; "
        "0.0.0.0: every interface, e.g. behind a reverse proxy with sign-in)",
    )
    ui = command("ui", cmd_ui, "serve the Dagster UI (and its daemon) for this cooperation")
    ui.add_argument("--port", type=int, default=3000)
    serve = command(
        "serve",
        cmd_serve,
        "the control room: the Dagster daemon (new deliveries loaded, built and published on "
        "their own), the Dagster UI and the dashboards, until Ctrl-C or SIGTERM",
    )
    serve.add_argument("--ui-port", type=int, default=3000, metavar="PORT")
    serve.add_argument("--dashboards-port", type=int, default=8501, metavar="PORT")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address both listen on (default 127.0.0.1; 0.0.0.0: every interface)",
    )
    return parser


def _minutes(text: str) -> float:
    try:
        minutes = float(text)
    except ValueError:
        minutes = -1.0
    if not 0 <= minutes < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of minutes (0 or more): {text!r}")
    return minutes


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:400]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ConfigError, CommandError) as error:
        return _error(str(error))
    except KeyboardInterrupt:
        return _error("interrupted; nothing more was done")
    except BrokenPipeError:  # `samkjop export ... | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as error:  # an unexpected failure: one line, the trace only on request
        if os.environ.get("SAMKJOP_DEBUG"):
            raise
        return _error(f"{_first_line(error)} (set SAMKJOP_DEBUG=1 for the details)")


if __name__ == "__main__":
    sys.exit(main())
