"""How the last `samkjop run` ended, for `samkjop status`: `<state folder>/last_run.json`.

The worker writes it when it ends (published, rejected deliveries, failed: with what failed,
or nothing new); `samkjop run` writes it when it stopped or killed the worker, which could
not. A run that was killed together with `samkjop` itself leaves the record of the run
before it, and its own `started` in the lock; the next run reports it."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime

from pipelines.settings import Cooperation

RECORD_NAME = "last_run.json"


@dataclass(frozen=True)
class RunOutcome:
    started: str
    finished: str
    exit_code: int
    outcome: str  # published | published, deliveries rejected | failed | stopped | nothing new
    problems: list[str] = field(default_factory=list)  # what failed, one line each
    log: str | None = None

    def describe(self) -> str:
        when = self.started.replace("T", " ")[:16]
        text = f"last run {when}: {self.outcome} (exit code {self.exit_code})"
        return text + "".join(f"\n  {problem}" for problem in self.problems)


def record_run(
    cooperation: Cooperation,
    started: datetime,
    exit_code: int,
    outcome: str,
    problems: list[str] | None = None,
    log: str | None = None,
) -> None:
    record = RunOutcome(
        started.isoformat(timespec="seconds"),
        datetime.now().isoformat(timespec="seconds"),
        exit_code,
        outcome,
        list(problems or []),
        log,
    )
    path = cooperation.state_dir / RECORD_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(asdict(record), ensure_ascii=False), encoding="utf-8")
    temporary.replace(path)


def last_run(cooperation: Cooperation) -> RunOutcome | None:
    try:
        data = json.loads((cooperation.state_dir / RECORD_NAME).read_text(encoding="utf-8"))
        return RunOutcome(**data)
    except (OSError, ValueError, TypeError):
        return None
