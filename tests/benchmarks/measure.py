"""Run a command and report its wall time, CPU time and peak memory. Used by `make bench`
(tests/benchmarks/bench.py); rerun it to compare.

    python -m tests.benchmarks.measure -- samkjop run --config demo/cooperation.yml

- `cpu_seconds`: user + system CPU of the command and every process below it that ended
  (all of them, once it has ended: `wait4`'s resource usage);
- `peak_rss_mib`: the largest sum of the resident sets of the command and every process
  below it, sampled every 0.2 s from /proc (pipelines/phase_log.py); shared pages count
  once per process, so this is an upper bound of what the tree needs;
- `max_process_rss_mib`: the high-water mark of the largest single process (exact, from
  `wait4`; without /proc, the only memory figure).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from pipelines.phase_log import MIB, Sampler


def measure(command: list[str], env: dict[str, str] | None = None) -> dict:
    """Run `command` to its end; return its exit code and figures."""
    started = time.monotonic()
    process = subprocess.Popen(command, env=env)
    sampler = Sampler(process.pid).start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except KeyboardInterrupt:
        process.wait()
        raise
    finally:
        sampler.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    max_process_kib = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    return {
        "command": " ".join(command),
        "exit_code": process.returncode,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(max(sampler.peak_rss() / MIB, max_process_kib / 1024), 1),
        "max_process_rss_mib": round(max_process_kib / 1024, 1),
    }


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        print(__doc__)
        return 2
    result = measure(args)
    print("BENCHMARK " + json.dumps(result, ensure_ascii=False), flush=True)
    return result["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
