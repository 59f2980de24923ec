"""The cooperation's Dagster instance, and what dead runs left in it.

`samkjop run` executes its Dagster jobs in its own worker process. A worker that is
killed cannot mark its run finished nor give back the pool slot its step held (the
`duckdb_warehouse` pool admits one step at a time), and a slot that is never given back
would make every later run wait forever. While it holds the run lock (pipelines/run_lock.py)
no other `samkjop run` of the cooperation is alive, so every run that `samkjop` executed
and that is still "in progress" then is dead: `release_dead_runs` marks it failed and frees
its slots.
"""

from __future__ import annotations

import os

from pipelines.settings import Cooperation

RUN_TAG = "samkjop/run"  # the run token (pipelines/run_lock.py) of the samkjop run
UNFINISHED = ("NOT_STARTED", "STARTING", "STARTED", "CANCELING")


def open_instance(cooperation: Cooperation):
    """The cooperation's own Dagster instance, the one `samkjop ui` shows."""
    import dagster as dg

    home = cooperation.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists():
        settings.write_text(
            "# One writer at a time: DuckDB allows one writing process.\n"
            "concurrency:\n  pools:\n    default_limit: 1\n"
            "  runs:\n    max_concurrent_runs: 1\n"
            "telemetry:\n  enabled: false\n",
            encoding="utf-8",
        )
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def release_dead_runs(instance, alive_token: str | None, reason: str) -> int:
    """Mark failed every run executed by `samkjop` (not launched from the UI) that is not
    finished and not the live run's (`alive_token`), and free the pool slots of every
    finished run; return how many runs were marked."""
    from dagster import DagsterRunStatus, RunsFilter

    statuses = [DagsterRunStatus[name] for name in UNFINISHED]
    marked = 0
    for run in instance.get_runs(filters=RunsFilter(statuses=statuses)):
        launched_elsewhere = run.remote_job_origin is not None  # from the UI or a daemon
        if launched_elsewhere or (alive_token and run.tags.get(RUN_TAG) == alive_token):
            continue
        instance.report_run_failed(run, reason)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        marked += 1
    _free_slots_of_finished_runs(instance)
    return marked


def _free_slots_of_finished_runs(instance) -> None:
    """What Dagster's daemon does after a run ends; `samkjop run` works without one."""
    from dagster import DagsterRunStatus, RunsFilter

    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    holders = list(storage.get_concurrency_run_ids())
    if not holders:
        return
    finished = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
    for run in instance.get_runs(filters=RunsFilter(run_ids=holders, statuses=finished)):
        storage.free_concurrency_slots_for_run(run.run_id)
