"""How long each dashboard page takes to render on a published snapshot (`make bench-pages`).

    python -m tests.benchmarks.bench_pages --snapshot PATH [--language nb] [--repeat 3]

Each page runs through the app in Streamlit's AppTest (navigation and sidebar included),
opened directly as a link to it opens it: its queries against the read-only snapshot and
every element it draws, no browser. Each page in a new process, so that no cache of an
earlier page helps it. Three times are printed per page:

- *new server*: the first render in a new process, Python's imports of Streamlit, pandas
  and Altair included (what the first reader after `samkjop dashboards` starts waits for);
- *after publish*: a render with every Streamlit cache emptied, in a process that has run
  the page before (what a reader waits for after a new snapshot is published: the caches
  are keyed by the snapshot's modification time, the imports are done);
- *warm*: the median of the renders after that (served partly from the caches).

Exit code 1 when a page fails.
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
import streamlit as st
from tests.dashboards.pages import open_page
page, language, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])

def timed():
    clock = time.perf_counter()
    open_page(page, language, direct=True)
    return time.perf_counter() - clock

first = timed()
st.cache_data.clear()
st.cache_resource.clear()
after_publish = timed()
warm = [timed() for _ in range(repeat)]
print(json.dumps({"new_server": first, "after_publish": after_publish, "warm": warm}))
"""


def time_page(snapshot: Path, page: str, language: str, repeat: int) -> dict:
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
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per page")
    args = parser.parse_args(argv)
    failed = False
    print(f"page render times on {args.snapshot} ({args.language}), seconds")
    print(f"  {'page':<12} {'new server':>10} {'after publish':>14} {'warm (median)':>14}")
    for page in PAGES:
        try:
            times = time_page(args.snapshot, page, args.language, args.repeat)
        except RuntimeError as error:
            print(f"  {page:<12} failed: {error}")
            failed = True
            continue
        warm = statistics.median(times["warm"])
        print(
            f"  {page:<12} {times['new_server']:>10.2f} {times['after_publish']:>14.2f} "
            f"{warm:>14.2f}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
