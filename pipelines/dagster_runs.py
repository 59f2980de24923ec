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

import fcntl
import os
from pathlib import Path

from pipelines.settings import Cooperation

RUN_TAG = "samkjop/run"  # the run token (pipelines/run_lock.py) of the samkjop run
UNFINISHED = ("NOT_STARTED", "STARTING", "STARTED", "CANCELING")
SERVE_LOCK = "serve.lock"  # held while `samkjop serve` or `samkjop ui` serves (pipelines/serve.py)
LAUNCHED_RUN_DIED = "the control room (samkjop serve / ui) that ran it stopped before it ended"


def serve_is_running(state_dir: Path) -> bool:
    """Whether a control room holds the cooperation's serve lock (its daemon and UI may be
    running runs)."""
    path = state_dir / SERVE_LOCK
    if not path.exists():
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock taken here
    return False


_SETTINGS_HEADER = "# One writer at a time: DuckDB allows one writing process.\n"
# the UI's newsletter sign-up (an e-mail form) is not for a cooperation's control room
_NO_NEWSLETTER = "nux:\n  enabled: false\n"
_SETTINGS = (
    "concurrency:\n  pools:\n    default_limit: 1\n"
    "  runs:\n    max_concurrent_runs: 1\n"
    "telemetry:\n  enabled: false\n" + _NO_NEWSLETTER
)


def open_instance(cooperation: Cooperation):
    """The cooperation's own Dagster instance, the one `samkjop ui` shows."""
    import dagster as dg

    home = cooperation.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists():
        settings.write_text(_SETTINGS_HEADER + _SETTINGS, encoding="utf-8")
    else:  # written by an earlier version: what it lacks, added
        text = settings.read_text(encoding="utf-8")
        if text.startswith(_SETTINGS_HEADER) and "\nnux:" not in text:
            settings.write_text(text.rstrip("\n") + "\n" + _NO_NEWSLETTER, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def release_dead_runs(
    instance,
    alive_token: str | None,
    reason: str,
    executed_here: bool = True,
    launched_elsewhere: bool = False,
) -> int:
    """Mark failed every run executed by `samkjop` (not launched from the UI) that is not
    finished and not the live run's (`alive_token`), and free the pool slots of every
    finished run; return how many runs were marked. `launched_elsewhere`: the unfinished
    runs the daemon or the UI launched too, for a caller that knows no control room
    (`samkjop serve`, `samkjop ui`) is serving (`serve_is_running`); `executed_here=False`:
    only those."""
    from dagster import DagsterRunStatus, RunsFilter

    statuses = [DagsterRunStatus[name] for name in UNFINISHED]
    marked = 0
    for run in instance.get_runs(filters=RunsFilter(statuses=statuses)):
        launched = run.remote_job_origin is not None  # from the UI or the daemon
        if launched and not launched_elsewhere:
            continue
        if not launched and (
            not executed_here or (alive_token and run.tags.get(RUN_TAG) == alive_token)
        ):
            continue
        instance.report_run_failed(run, LAUNCHED_RUN_DIED if launched else reason)
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
