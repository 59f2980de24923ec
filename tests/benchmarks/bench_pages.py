"""How long each dashboard page takes to render on a published snapshot (`make bench-pages`).

    python -m tests.benchmarks.bench_pages --snapshot PATH [--language nb] [--repeat 3]

Each page runs through the app in Streamlit's AppTest (navigation and sidebar included; the
app opens on Overview, then switches to the page, so every time but Overview's includes an
Overview run): its queries against the read-only snapshot and every element it draws, no
browser. Each page in a new process, so that no cache of an earlier page helps it: the
first run is the cold one a reader gets after a publish, the runs after it are served partly
from Streamlit's caches. Prints per page the cold time and the median of the warm ones;
exit code 1 when a page fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from dashboards import SNAPSHOT_ENV

PAGES = ("overview", "compare", "ehandel", "categories", "member", "suppliers", "deliveries")
_ONE_PAGE = """
import json, sys, time
from tests.dashboards.pages import open_page
page, language, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []
for _ in range(repeat):
    clock = time.perf_counter()
    open_page(page, language)
    times.append(time.perf_counter() - clock)
print(json.dumps(times))
"""


def time_page(snapshot: Path, page: str, language: str, repeat: int) -> list[float]:
    result = subprocess.run(
        [sys.executable, "-c", _ONE_PAGE, page, language, str(repeat)],
        capture_output=True,
        text=True,
        env={**os.environ, SNAPSHOT_ENV: str(snapshot)},
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"page {page}: {result.stderr.strip().splitlines()[-1:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", required=True, type=Path)
    parser.add_argument("--language", default="nb", choices=("nb", "da", "en"))
    parser.add_argument("--repeat", type=int, default=3, help="runs per page (first: cold)")
    args = parser.parse_args(argv)
    failed = False
    print(f"page render times on {args.snapshot} ({args.language}), seconds")
    print(f"  {'page':<12} {'cold':>6} {'warm (median)':>14}")
    for page in PAGES:
        try:
            times = time_page(args.snapshot, page, args.language, args.repeat)
        except RuntimeError as error:
            print(f"  {page:<12} failed: {error}")
            failed = True
            continue
        warm = f"{statistics.median(times[1:]):.2f}" if len(times) > 1 else ""
        print(f"  {page:<12} {times[0]:>6.2f} {warm:>14}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
