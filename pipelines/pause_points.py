"""Pause points for the kill-safety tests (tests/test_kill_safety.py).

Inert unless the environment variable SAMKJOP_TEST_PAUSE_AT names the phase: then the
process that reaches `pause_point(phase)` says so on its standard error and sleeps there,
in the middle of its work, until the test kills it. Phases: `ingest` (after a member's
first file is loaded, the warehouse open for writing) and `publish` (after the first
table is copied into the snapshot being built).
"""

from __future__ import annotations

import os
import sys
import time

PAUSE_ENV_VAR = "SAMKJOP_TEST_PAUSE_AT"
PAUSED = "samkjop-test: paused at"


def pause_point(phase: str) -> None:
    if os.environ.get(PAUSE_ENV_VAR) != phase:
        return
    # the real standard error: a run sends Dagster's own output to its log file
    print(f"{PAUSED} {phase} (pid {os.getpid()})", file=sys.__stderr__, flush=True)
    while True:
        time.sleep(60)
