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

from pipelines.failures import failure_summary
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
        published = _snapshot_identity(cooperation.snapshot)
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
            changed = _snapshot_identity(cooperation.snapshot) != published
            return _error(_stopped_message(outcome, changed))
    return outcome.returncode if outcome.returncode in (EXIT_OK, EXIT_REJECTED) else EXIT_FAILED


def _say_waiting(holder, minutes: float) -> None:
    _say(
        f"{holder.describe()} is running on this cooperation; waiting up to {minutes:g} min "
        "for it to finish (Ctrl-C to give up)…"
    )


def _worker_command(args: argparse.Namespace, cooperation: Cooperation) -> list[str]:
    members = [arg for member in args.municipality or [] for arg in ("--municipality", member)]
    config = str(cooperation.config_path)
    return [sys.executable, "-m", "pipelines.cli", RUN_WORKER, "--config", config, *members]


def _snapshot_identity(snapshot: Path) -> tuple[int, int] | None:
    try:
        stat = snapshot.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


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
    one ingestion run per member, then, only if none failed, the build and publish run."""
    from pipelines.dagster_runs import RUN_TAG, open_instance, release_dead_runs
    from pipelines.processes import RUN_TOKEN_ENV_VAR, watch_parent
    from pipelines.publish import remove_stale_builds

    watch_parent()
    cooperation = _load(args.config)
    token = os.environ.get(RUN_TOKEN_ENV_VAR, "")
    started = datetime.now()
    log_path = cooperation.state_dir / "logs" / f"run-{started:%Y%m%d-%H%M%S}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _say(f"Samkjøp: {cooperation.name} ({len(cooperation.members)} members)")
    with _dagster_output_to(log_path):
        instance = open_instance(cooperation)
        release_dead_runs(instance, token, "the samkjop run that executed it was killed")
        remove_stale_builds(cooperation.snapshot)
    _say("Loading definitions (dbt parse)…")
    defs, problem = _definitions(cooperation, log_path)
    if defs is None:
        return _error(f"dbt could not read its project: {problem}. Details in {log_path}")
    tags = {RUN_TAG: token} if token else {}
    failures: list[str] = []
    rejections: list[tuple[str, str]] = []
    for member_id in args.municipality or cooperation.member_ids:
        failure, rejected = _ingest(cooperation, defs, instance, log_path, member_id, started, tags)
        failures += [failure] if failure else []
        rejections += [(member_id, message) for message in rejected]
    if failures:
        return _error(
            f"{'; '.join(failures)}. Nothing was built or published: the published snapshot "
            f"is unchanged. Details in {log_path}"
        )
    return _build_and_publish(cooperation, defs, instance, log_path, started, tags, rejections)


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


def _ingest(cooperation, defs, instance, log_path, member_id, started, tags):
    """One member's ingestion run; return what failed (or None) and the rejections."""
    from pipelines.definitions import INGEST_JOB

    member = cooperation.member(member_id)
    clock = time.monotonic()
    result = _execute(
        defs.resolve_job_def(INGEST_JOB), instance, log_path, partition_key=member_id, tags=tags
    )
    line = f"  {member_id} {member.name}: {_delivery_line(cooperation, member_id, started)}"
    _say(f"{line} ({time.monotonic() - clock:.1f} s){'' if result.success else '  FAILED'}")
    if result.success:
        return None, _rejection_messages(result)
    _say(failure_summary(result))
    return f"loading the deliveries of {member_id} {member.name} failed", []


def _build_and_publish(cooperation, defs, instance, log_path, started, tags, rejections) -> int:
    from pipelines.definitions import BUILD_JOB

    _say("Building reference data, agreements, dbt models and tests, then publishing…")
    clock = time.monotonic()
    result = _execute(defs.resolve_job_def(BUILD_JOB), instance, log_path, tags=tags)
    if not result.success:
        _say(failure_summary(result))
        return _error(
            "the run failed; nothing new was published (the published snapshot is unchanged). "
            f"Details in {log_path} and in `samkjop ui --config {cooperation.config_path}`"
        )
    _say(f"  done in {time.monotonic() - clock:.1f} s; snapshot {cooperation.snapshot}")
    try:
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
    try:
        path, rows = export_table(
            cooperation.snapshot,
            args.table,
            args.format,
            Path(args.out),
            args.municipality,
            args.year,
        )
    except ExportError as error:
        return _error(str(error))
    _say(f"Wrote {rows:,} rows to {path}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    cooperation = _load(args.config)
    if not cooperation.snapshot.is_file():
        _say(
            f"Nothing published yet for {cooperation.name}: run "
            f"`samkjop run --config {args.config}`."
        )
        return EXIT_OK
    ((published,),) = _snapshot_rows(cooperation, "SELECT published_at FROM marts.snapshot_info")
    deliveries = _snapshot_rows(
        cooperation,
        "SELECT municipality_id, source_file, status, rows_read, rows_loaded, rows_rejected, "
        "message, loaded_at, reported_amount_loaded FROM marts.delivery_reconciliation "
        "ORDER BY municipality_id, loaded_at, source_file",
    )
    _say(f"{cooperation.name}: snapshot published {published:%Y-%m-%d %H:%M}")
    for member in cooperation.members:
        _status_of_member(member, [d for d in deliveries if d[0] == member.id])
    _print_notes(cooperation)
    return EXIT_OK


def _status_of_member(member, deliveries: list[tuple]) -> None:
    if not deliveries:
        _say(f"\n{member.id} {member.name}: no delivery yet")
        return
    last = max(d[7] for d in deliveries)
    rejected_rows = sum(d[5] for d in deliveries)
    _say(
        f"\n{member.id} {member.name}: {len(deliveries)} deliveries, last "
        f"{last:%Y-%m-%d %H:%M}, {rejected_rows:,} rows rejected in all"
    )
    for _, source, status, read, loaded, rejected, message, when, _ in deliveries[-3:]:
        _say(
            f"  {when:%Y-%m-%d %H:%M}  {Path(source).name}: {status}, {read:,} read, "
            f"{loaded:,} loaded, {rejected:,} rejected"
            + (f" — {message}" if status != "loaded" else "")
        )
    for _, source, status, _, loaded, _, message, _, amount in deliveries:
        if status == "replaced":
            _say(
                f"  replaced: {Path(source).name}, {loaded:,} rows and {amount or 0:,.2f} "
                f"as delivered left the figures — {message}"
            )


def cmd_dashboards(args: argparse.Namespace) -> int:
    cooperation = _load(args.config)
    env = {**os.environ, "SAMKJOP_SNAPSHOT": str(cooperation.snapshot)}
    _say(f"Dashboards on http://localhost:{args.port} (Ctrl-C to stop)")
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PROJECT_ROOT / "dashboards" / "streamlit_app.py"),
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    return _foreground(command, env)


def cmd_ui(args: argparse.Namespace) -> int:
    from pipelines.dagster_runs import open_instance

    cooperation = _load(args.config)
    open_instance(cooperation)
    _say(f"Dagster UI on http://localhost:{args.port} (Ctrl-C to stop)")
    command = [
        sys.executable,
        "-m",
        "dagster_webserver",
        "-m",
        "pipelines.definitions",
        "-h",
        "127.0.0.1",
        "-p",
        str(args.port),
    ]
    return _foreground(command, dict(os.environ))


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
    from pipelines.export import EXPORT_TABLES, FORMATS

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
    worker = commands.add_parser(RUN_WORKER)  # started by `samkjop run`; not listed
    worker.add_argument("--config", required=True)
    worker.add_argument("--municipality", action="append")
    worker.set_defaults(handler=cmd_run_worker)
    demo = command("demo", cmd_demo, "write a demo cooperation (synthetic data)", config=False)
    demo.add_argument("--out", required=True, metavar="DIR")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--lines", type=int, default=300_000)
    export = command("export", cmd_export, "write a stand-alone table for auditors")
    export.add_argument(
        "table",
        choices=list(EXPORT_TABLES),
        metavar="TABLE",
        help=f"one of: {', '.join(EXPORT_TABLES)}",
    )
    export.add_argument("--format", choices=FORMATS, default="csv")
    export.add_argument("--out", required=True, metavar="DIR")
    export.add_argument("--municipality", metavar="ID")
    export.add_argument("--year", type=int, metavar="YYYY")
    command("status", cmd_status, "what each member last delivered and what was rejected")
    dashboards = command("dashboards", cmd_dashboards, "serve the Streamlit dashboards")
    dashboards.add_argument("--port", type=int, default=8501)
    ui = command("ui", cmd_ui, "serve the Dagster UI for this cooperation")
    ui.add_argument("--port", type=int, default=3000)
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
