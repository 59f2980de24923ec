"""Phase timings of `samkjop run`, for the benchmark (`make bench`, tests/benchmarks/bench.py).

Does nothing unless the environment variable `SAMKJOP_PHASE_LOG` names a file. Then the
run worker appends one JSON line per phase to it:

    {"phase": "ingest", "member": "5035", "start": 1796056503.3, "end": 1796056506.8,
     "wall_s": 3.42, "cpu_s": 4.10, "peak_rss_mib": 512.3, "pid": 4242}

- `phase`: `definitions` (dbt parse), `ingest` (one member's ingestion run, `member`),
  `build` (the build-and-publish run) and `summary` (the printed summary); the steps of the
  build run follow as `step` records with `step_key` (`agreement_register`,
  `reference_data`, `samkjop_dbt_models`, `published_snapshot`) and `parent: "build"`;
- `start`, `end`: seconds since the epoch (`time.time()`);
- `cpu_s`: user + system CPU seconds of the worker process *and* every process below it
  (dbt), finished or still running: `getrusage` of the worker and of its reaped children,
  plus the CPU times `/proc` gives for the live ones;
- `peak_rss_mib`: the largest sum of resident sets of the worker and the processes below it,
  sampled every `SAMPLE_SECONDS` (and at each phase's start and end); a step shorter than
  that takes the samples just before and after it.

A phase's figures are exact at its own start and end (measured there). A step's start and
end are Dagster's event timestamps, between two samples: its CPU is interpolated from the
samples around them, to within about `SAMPLE_SECONDS` x the number of cores.

Without `/proc` (not Linux) the processes still running below the worker are not seen:
their CPU counts when they end, and the peak is the worker's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from pathlib import Path

ENV_VAR = "SAMKJOP_PHASE_LOG"
SAMPLE_SECONDS = 0.2
MIB = 1024 * 1024
_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


# --- the process tree, from /proc ------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The direct children of `pid` (every thread's), from /proc; [] without /proc."""
    found: list[int] = []
    try:
        tasks = list((_PROC / str(pid) / "task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every process below `pid`."""
    found, todo = [], children(pid)
    while todo:
        child = todo.pop()
        found.append(child)
        todo += children(child)
    return found


def cpu_and_rss(pid: int) -> tuple[float, int]:
    """(user + system CPU seconds of `pid` and of its reaped children, resident bytes);
    (0, 0) when the process is gone."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0, 0
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (name) "
    # fields[11:15]: utime, stime, cutime, cstime; fields[21]: rss in pages
    cpu = sum(int(value) for value in fields[11:15]) / _TICKS
    return cpu, int(fields[21]) * _PAGE


def tree_usage(pid: int | None = None) -> tuple[float, int]:
    """(CPU seconds, resident bytes) of process `pid` (None: this one) and every process
    below it, finished ones included: a process's reaped children count in its own figures
    (getrusage for this process, cutime and cstime in /proc for another)."""
    if pid is None or pid == os.getpid():
        pid = os.getpid()
        own = resource.getrusage(resource.RUSAGE_SELF)
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime
        rss = cpu_and_rss(pid)[1] or own.ru_maxrss * 1024  # no /proc: the high-water mark
    else:
        cpu, rss = cpu_and_rss(pid)
    for child in descendants(pid):
        child_cpu, child_rss = cpu_and_rss(child)
        cpu += child_cpu
        rss += child_rss
    return cpu, rss


# --- sampling --------------------------------------------------------------------------------


class Sampler:
    """Samples (time, CPU, RSS) of a process tree in a daemon thread; the CPU is cumulative,
    so the CPU between two moments is the difference of two samples."""

    def __init__(self, pid: int | None = None, interval: float = SAMPLE_SECONDS):
        self.pid = pid
        self.interval = interval
        self.times: list[float] = []
        self.cpu: list[float] = []
        self.rss: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="phase-log-sampler", daemon=True)

    def start(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> tuple[float, float, int]:
        cpu, rss = tree_usage(self.pid)
        now = time.time()
        with self._lock:
            if self.cpu and cpu < self.cpu[-1]:
                cpu = self.cpu[-1]  # a grandchild reaped by no one we watch: keep it monotone
            self.times.append(now)
            self.cpu.append(cpu)
            self.rss.append(rss)
        return now, cpu, rss

    def cpu_at(self, moment: float) -> float:
        """The tree's cumulative CPU at `moment`, interpolated between the samples around it."""
        with self._lock:
            times, cpu = list(self.times), list(self.cpu)
        if not times:
            return 0.0
        index = bisect_left(times, moment)
        if index == 0:
            return cpu[0]
        if index == len(times):
            return cpu[-1]
        before, after = times[index - 1], times[index]
        share = (moment - before) / (after - before) if after > before else 1.0
        return cpu[index - 1] + share * (cpu[index] - cpu[index - 1])

    def peak_rss(self, start: float | None = None, end: float | None = None) -> int:
        """The largest sampled RSS from the last sample at or before `start` to the first at
        or after `end` (all samples without them): a window shorter than the sampling
        interval still has the samples around it."""
        with self._lock:
            times, rss = list(self.times), list(self.rss)
        first = 0 if start is None else max(bisect_right(times, start) - 1, 0)
        last = len(times) if end is None else bisect_left(times, end) + 1
        return max(rss[first:last], default=0)


# --- the phase log ---------------------------------------------------------------------------

_sampler: Sampler | None = None


def path() -> Path | None:
    value = os.environ.get(ENV_VAR)
    return Path(value) if value else None


def _running_sampler() -> Sampler:
    global _sampler
    if _sampler is None:
        _sampler = Sampler().start()
    return _sampler


def _append(record: dict) -> None:
    target = path()
    if target is None:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def phase(name: str, **fields) -> Iterator[dict]:
    """Time the block as phase `name` (with `fields`, e.g. member=...). The dict yielded
    can take more fields. Nothing happens when SAMKJOP_PHASE_LOG is not set."""
    record = dict(fields)
    if path() is None:
        yield record
        return
    sampler = _running_sampler()
    start, cpu_start, _ = sampler.sample()
    try:
        yield record
    finally:
        end, cpu_end, _ = sampler.sample()
        _append(
            {
                "phase": name,
                **record,
                "start": round(start, 3),
                "end": round(end, 3),
                "wall_s": round(end - start, 3),
                "cpu_s": round(cpu_end - cpu_start, 3),
                "peak_rss_mib": round(sampler.peak_rss(start, end) / MIB, 1),
                "pid": os.getpid(),
            }
        )


def steps(instance, run_id: str, parent: str) -> None:
    """One `step` record per step of the Dagster run `run_id` (already finished), from its
    step start and end events. Nothing happens when SAMKJOP_PHASE_LOG is not set."""
    if path() is None or _sampler is None:
        return
    import dagster as dg

    ends = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    started: dict[str, float] = {}
    finished: dict[str, tuple[float, bool]] = {}
    for entry in instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_START, *ends}):
        event_type = entry.dagster_event.event_type
        if event_type == dg.DagsterEventType.STEP_START:
            started.setdefault(entry.step_key, entry.timestamp)
        else:
            finished[entry.step_key] = (
                entry.timestamp,
                event_type == dg.DagsterEventType.STEP_SUCCESS,
            )
    for step_key, start in sorted(started.items(), key=lambda item: item[1]):
        end, success = finished.get(step_key, (start, False))
        _append(
            {
                "phase": "step",
                "parent": parent,
                "step_key": step_key,
                "success": success,
                "start": round(start, 3),
                "end": round(end, 3),
                "wall_s": round(end - start, 3),
                "cpu_s": round(_sampler.cpu_at(end) - _sampler.cpu_at(start), 3),
                "peak_rss_mib": round(_sampler.peak_rss(start, end) / MIB, 1),
                "pid": os.getpid(),
            }
        )


def read(log: Path) -> list[dict]:
    """The records of a phase log, in the order written; [] when there is none."""
    try:
        text = log.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]
