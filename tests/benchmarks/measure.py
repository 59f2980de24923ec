"""Run a command and report its wall time and peak memory (largest resident set of the
command and its children). Used by `make bench`; rerun it to compare.

    python -m tests.benchmarks.measure -- samkjop run --config demo/cooperation.yml
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def measure(command: list[str]) -> dict:
    started = time.monotonic()
    returncode = subprocess.call(command)
    wall = time.monotonic() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "command": " ".join(command),
        "exit_code": returncode,
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
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
