"""How a failed Dagster run is told to a user: each failed step by the work it does, with
the last line of its innermost error (for dbt: the first model or test that failed and
why). The whole error is in the run's log file; SAMKJOP_DEBUG=1 prints it too."""

from __future__ import annotations

import os
import re

STEP_NAMES = {  # Dagster step keys as a user knows the work
    "member_spend": "loading the deliveries",
    "agreement_register": "loading the agreements, price lists and supplier register",
    "reference_data": "loading the reference data",
    "samkjop_dbt_models": "building the dbt models and their tests",
    "published_snapshot": "publishing the snapshot",
}


def failure_summary(result) -> str:
    """Each failed step as the user knows it, with the last line of its innermost error."""
    lines = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            step = STEP_NAMES.get(event.step_key, f"step {event.step_key}")
            error = event.step_failure_data.error
            lines.append(f"    {step} failed: {error_line(error)}")
            if error and os.environ.get("SAMKJOP_DEBUG"):
                lines.append(error.to_string())
        elif event.is_run_failure and not lines:
            data = event.event_specific_data
            error = getattr(data, "error", None)
            lines.append(f"    the run failed: {error_line(error) if error else event.message}")
    return "\n".join(lines) or "    the run failed"


def error_line(error) -> str:
    """The last line of the innermost cause of a Dagster error; for dbt, what failed."""
    if error is None:
        return "unknown error"
    while error.cause is not None:
        error = error.cause
    message = re.sub(r"\x1b\[[0-9;]*m", "", error.message or "")  # no terminal colours
    if DBT_ERRORS in message:
        return dbt_error_line(message.split(DBT_ERRORS, 1)[1])
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    last = lines[-1] if lines else error.cls_name or "unknown error"
    return re.sub(r"^[\w.]*\.(\w+:)", r"\1", last)[:500]  # _duckdb.IOException: -> IOException:


DBT_ERRORS = "Errors parsed from dbt logs:"  # how dagster-dbt lists dbt's own errors
DBT_RESULT = re.compile(r"^\d+ of \d+ (ERROR|FAIL)\b\s*(.*?)[\s.]*(\[.*)?$")
DBT_HEADING = re.compile(r"^(Failure|Error|Compilation Error|Runtime Error|Database Error) in ")


def dbt_error_line(errors: str) -> str:
    """dbt's first failed model or test, and the first line that says why."""
    lines = [line.strip() for line in errors.splitlines() if line.strip()]
    failed = next((m for m in map(DBT_RESULT.match, lines) if m), None)
    reason = next(
        (
            line
            for line in lines
            if not DBT_RESULT.match(line)
            and not DBT_HEADING.match(line)
            and not line.startswith(">")
        ),
        "",
    )
    what = f"dbt: {failed.group(1)} {failed.group(2)}" if failed else "dbt failed"
    return f"{what}: {reason}"[:500] if reason else what[:500]
