"""Progress of long work, told to the person who typed `samkjop run` while the work's own
output goes to the run's log file. Silent unless the run asked for it (`samkjop run` sets
SAMKJOP_PROGRESS=1 in its worker; runs the daemon launches stay silent)."""

from __future__ import annotations

import os
import sys
import time

PROGRESS_ENV_VAR = "SAMKJOP_PROGRESS"
EVERY_SECONDS = 10.0


def wanted() -> bool:
    return os.environ.get(PROGRESS_ENV_VAR) == "1"


def say(line: str) -> None:
    """One line on the terminal of `samkjop run`, past any redirection of sys.stdout."""
    stream = sys.__stdout__
    if wanted() and stream is not None:
        print(line, file=stream, flush=True)


class DbtProgress:
    """Counts what a `dbt build` has done, from the Dagster events it streams: models and
    seeds built (of all that the build selects), data tests passed, warned and failed, and
    the last node done; a line at most every EVERY_SECONDS."""

    def __init__(self, nodes_to_build: int):
        self.total = nodes_to_build
        self.built = 0
        self.tests = {"passed": 0, "warned": 0, "failed": 0}
        self.last = ""
        self.started = time.monotonic()
        self.said = self.started

    def saw(self, event) -> None:
        name = type(event).__name__
        if name in ("Output", "AssetMaterialization", "MaterializeResult"):
            self.built += 1
            unique_id = (getattr(event, "metadata", None) or {}).get("unique_id")
            text = getattr(unique_id, "value", unique_id)  # model.<project>.<name>
            self.last = str(text).rsplit(".", 1)[-1] if text else self.last
        elif name == "AssetCheckResult":
            outcome = "passed" if event.passed else "failed"
            if not event.passed and event.severity.value == "WARN":
                outcome = "warned"
            self.tests[outcome] += 1
            self.last = event.check_name or self.last
        now = time.monotonic()
        if now - self.said >= EVERY_SECONDS:
            self.said = now
            say(f"    {self.describe()}")

    def describe(self) -> str:
        tests = ", ".join(f"{count} {what}" for what, count in self.tests.items())
        elapsed = time.monotonic() - self.started
        last = f"; last: {self.last}" if self.last else ""
        return (
            f"dbt: {self.built} of {self.total} models and seeds built; data tests: {tests}"
            f"{last} ({elapsed:.0f} s)"
        )
