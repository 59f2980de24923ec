"""`make bench`: how fast `samkjop run` is, phase by phase, next to a hand-written DuckDB
script that computes the same municipality_kpis (tests/benchmarks/reference_kpis.py).

    python -m tests.benchmarks.bench SCENARIO --dir DIR [--lines N] [--seed 42]
        [--history FILE] [--member 5035] [--delivery-lines 50000] [-- SKEWED_ARGS]

Scenarios:

- `full`: a new demo cooperation of N lines (`samkjop demo`), then `samkjop run` on it;
- `nochange`: `samkjop run` again with nothing new (on the cooperation a previous `full`
  left in DIR when it has N lines, else one made and run first, not counted);
- `delivery`: one member's next monthly delivery (`--delivery-lines`, default 50 000,
  tests/benchmarks/delivery.py) on top of the cooperation in DIR (made first as for
  `nochange`), then `samkjop run`;
- `skewed`: the skewed shape of tests/benchmarks/skewed.py (a small demo in which one
  member pays one catch-all payee 20 000 times; arguments after `--` go to skewed.py).

What is measured: `samkjop run` as a whole (tests/benchmarks/measure.py: wall, CPU of the
whole process tree, peak memory of the tree), and its phases as the run worker logs them
when SAMKJOP_PHASE_LOG is set (pipelines/phase_log.py: dbt parse, each member's ingestion,
the build run's steps: reference data and agreements, dbt build, publish; the summary).
Making the demo (or the extra delivery) is setup: shown, never counted. Then the reference
script runs on the same files and must agree with the published snapshot; the ratios are
Samkjøp's CPU and wall time over the script's.

Each result is appended as one JSON line to the history file (BENCH_HISTORY, default
tests/benchmarks/bench-results.jsonl, not committed): date, commit, machine, scenario,
lines and every figure printed. Exit code 0 when the run succeeded (0 or 2) and the
reference agrees, else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from pipelines import phase_log
from tests.benchmarks.measure import measure
from tests.benchmarks.skewed import PAYEE_FILE

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HISTORY = Path(__file__).resolve().parent / "bench-results.jsonl"
STATE_FILE = ".bench-state.json"  # in DIR: what the cooperation there holds
PHASE_LOG = ".bench-phases.jsonl"  # in DIR: the run worker's phase records
BIN = Path(sys.executable).parent
BUILD_STEPS = {  # step key of the build run -> how the report names it
    "agreement_register": "build: agreements",
    "reference_data": "build: reference data",
    "samkjop_dbt_models": "build: dbt build (models and tests)",
    "published_snapshot": "build: publish snapshot",
}


def _samkjop(*args: str) -> list[str]:
    return [str(BIN / "samkjop"), *args]


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _say(text: str = "") -> None:
    print(text, flush=True)


# --- machine and commit ------------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> dict:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        import duckdb

        duckdb_version = duckdb.__version__
    except ImportError:  # pragma: no cover
        duckdb_version = None
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(memory / 1024**3, 1),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "duckdb": duckdb_version,
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


# --- setup ---------------------------------------------------------------------------------


def _state(out_dir: Path) -> dict | None:
    try:
        return json.loads((out_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_state(out_dir: Path, state: dict) -> None:
    (out_dir / STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")


def _setup_step(label: str, command: list[str], setup: list[dict]) -> None:
    _say(f"setup (not counted): {label}")
    result = measure(command)
    result["step"] = label
    setup.append(result)
    if result["exit_code"] not in (0, 2):
        raise SystemExit(f"setup failed: {' '.join(command)} exited {result['exit_code']}")


def _new_demo(out_dir: Path, lines: int, seed: int, setup: list[dict]) -> dict:
    shutil.rmtree(out_dir, ignore_errors=True)
    _setup_step(
        "samkjop demo",
        _samkjop("demo", "--out", str(out_dir), "--lines", str(lines), "--seed", str(seed)),
        setup,
    )
    return {"base": "demo", "base_lines": lines, "seed": seed, "extra_lines": 0, "runs": 0}


def _base(out_dir: Path, lines: int, seed: int, setup: list[dict]) -> dict:
    """The cooperation a previous `full` run left in DIR (N lines, published), else a new
    one, made and run (setup)."""
    state = _state(out_dir)
    config = out_dir / "cooperation.yml"
    if (
        state
        and state.get("base") == "demo"
        and state.get("base_lines") == lines
        and state.get("seed") == seed
        and state.get("runs", 0) > 0
        and config.exists()
    ):
        _say(f"setup: reusing the cooperation in {out_dir} ({_lines_text(state)})")
        return state
    state = _new_demo(out_dir, lines, seed, setup)
    _setup_step("samkjop run (first run)", _samkjop("run", "--config", str(config)), setup)
    state["runs"] = 1
    _write_state(out_dir, state)
    return state


def _lines_text(state: dict) -> str:
    added = "to the catch-all payee" if state.get("base") == "skewed" else "delivered since"
    extra = f" + {state['extra_lines']:,} {added}" if state.get("extra_lines") else ""
    return f"{state['base_lines']:,} demo lines{extra}"


# --- the measured run ------------------------------------------------------------------------


def _loaded_rows(config: Path, since: datetime) -> dict[str, dict[str, int]]:
    """Per member, the rows read and loaded by deliveries loaded since `since`, from the
    published snapshot's delivery_reconciliation."""
    import duckdb

    from pipelines.settings import load_config

    try:
        con = duckdb.connect(str(load_config(config).snapshot), read_only=True)
    except duckdb.Error:
        return {}
    try:
        rows = con.execute(
            "SELECT municipality_id, sum(rows_read), sum(rows_loaded) "
            "FROM marts.delivery_reconciliation WHERE loaded_at >= ? AND status <> 'rejected' "
            "GROUP BY municipality_id",
            [since],
        ).fetchall()
    finally:
        con.close()
    return {member: {"read": int(read), "loaded": int(loaded)} for member, read, loaded in rows}


def _member_names(config: Path) -> dict[str, str]:
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    return {str(m["id"]): str(m.get("name", "")) for m in data.get("municipalities") or []}


def _figures(record: dict, name: str, **extra) -> dict:
    return {
        "name": name,
        "wall_s": round(record["wall_s"], 2),
        "cpu_s": round(record["cpu_s"], 2),
        "peak_rss_mib": record.get("peak_rss_mib"),
        **extra,
    }


def phases(records: list[dict], run: dict, rows: dict, names: dict[str, str]) -> list[dict]:
    """The report's rows: each phase the worker logged, ingestion and build totals, what
    is left of the run (start-up, lock, Dagster, waiting) and the run's total."""
    result: list[dict] = []
    top = [r for r in records if r["phase"] != "step"]
    steps = [r for r in records if r["phase"] == "step"]
    for record in top:
        if record["phase"] == "definitions":
            result.append(_figures(record, "definitions (dbt parse)"))
    ingests = [r for r in top if r["phase"] == "ingest"]
    for record in ingests:
        member = record.get("member", "")
        loaded = rows.get(member, {}).get("loaded", 0)
        result.append(
            _figures(
                record,
                f"ingest {member} {names.get(member, '')}".rstrip(),
                member=member,
                rows=loaded,
                rows_per_s=round(loaded / record["wall_s"]) if record["wall_s"] else None,
            )
        )
    if ingests:
        wall = sum(r["wall_s"] for r in ingests)
        loaded = sum(v["loaded"] for v in rows.values())
        result.append(
            {
                "name": "ingestion total",
                "wall_s": round(wall, 2),
                "cpu_s": round(sum(r["cpu_s"] for r in ingests), 2),
                "peak_rss_mib": max((r.get("peak_rss_mib") or 0) for r in ingests),
                "rows": loaded,
                "rows_per_s": round(loaded / wall) if wall else None,
                "total": True,
            }
        )
    for build in (r for r in top if r["phase"] == "build"):
        inside = {"wall_s": 0.0, "cpu_s": 0.0}
        for step in steps:
            name = BUILD_STEPS.get(step["step_key"], f"build: {step['step_key']}")
            result.append(_figures(step, name))
            inside["wall_s"] += step["wall_s"]
            inside["cpu_s"] += step["cpu_s"]
        result.append(
            {
                "name": "build: Dagster between steps",
                "wall_s": round(build["wall_s"] - inside["wall_s"], 2),
                "cpu_s": round(build["cpu_s"] - inside["cpu_s"], 2),
                "peak_rss_mib": None,
            }
        )
        result.append({**_figures(build, "build run total"), "total": True})
    for record in top:
        if record["phase"] == "summary":
            result.append(_figures(record, "summary (printed)"))
    counted = top  # the worker's phases; the run's other time is outside them
    result.append(
        {
            "name": "other (start-up, lock, Dagster instance)",
            "wall_s": round(run["wall_seconds"] - sum(r["wall_s"] for r in counted), 2),
            "cpu_s": round(run["cpu_seconds"] - sum(r["cpu_s"] for r in counted), 2),
            "peak_rss_mib": None,
        }
    )
    loaded = sum(v["loaded"] for v in rows.values())
    result.append(
        {
            "name": "samkjop run total",
            "wall_s": run["wall_seconds"],
            "cpu_s": run["cpu_seconds"],
            "peak_rss_mib": run["peak_rss_mib"],
            "rows": loaded,
            "rows_per_s": round(loaded / run["wall_seconds"]) if run["wall_seconds"] else None,
            "total": True,
        }
    )
    return result


def _print_table(title: str, rows: list[dict]) -> None:
    _say(f"\n{title:<44}{'wall s':>9}{'CPU s':>9}{'rows':>11}{'rows/s':>9}{'peak RSS MiB':>14}")
    for row in rows:
        count = f"{row['rows']:,}" if row.get("rows") is not None else ""
        rate = f"{row['rows_per_s']:,}" if row.get("rows_per_s") is not None else ""
        peak = f"{row['peak_rss_mib']:,.0f}" if row.get("peak_rss_mib") is not None else ""
        name = row["name"] if row.get("total") else f"  {row['name']}"
        _say(f"{name:<44}{row['wall_s']:>9.1f}{row['cpu_s']:>9.1f}{count:>11}{rate:>9}{peak:>14}")


# --- the scenarios ---------------------------------------------------------------------------


def run_scenario(args: argparse.Namespace) -> int:
    out_dir = args.dir.resolve()
    config = out_dir / "cooperation.yml"
    setup: list[dict] = []
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    if args.scenario == "full":
        state = _new_demo(out_dir, args.lines, args.seed, setup)
    elif args.scenario in ("nochange", "delivery"):
        state = _base(out_dir, args.lines, args.seed, setup)
    else:  # skewed
        shutil.rmtree(out_dir, ignore_errors=True)
        _setup_step(
            "skewed cooperation (tests/benchmarks/skewed.py)",
            _python(
                "-m", "tests.benchmarks.skewed", "--out", str(out_dir), "--lines", str(args.lines)
            )
            + list(args.skewed_args),
            setup,
        )
        with (out_dir / PAYEE_FILE).open(encoding="utf-8") as handle:
            payments = sum(1 for _ in handle) - 1  # the catch-all payee's lines
        state = {"base": "skewed", "base_lines": args.lines, "seed": 42, "extra_lines": payments}
        state["skewed_args"] = list(args.skewed_args)
        state["runs"] = 0
    delivered = 0
    if args.scenario == "delivery":
        _setup_step(
            f"next monthly delivery of {args.member} ({args.delivery_lines:,} lines)",
            _python(
                "-m",
                "tests.benchmarks.delivery",
                "--out",
                str(out_dir),
                "--member",
                args.member,
                "--lines",
                str(args.delivery_lines),
            ),
            setup,
        )
        delivered = args.delivery_lines
        state["extra_lines"] = state.get("extra_lines", 0) + delivered
    _write_state(out_dir, {**state, "runs": 0})  # until the measured run has published

    log = out_dir / PHASE_LOG
    log.unlink(missing_ok=True)
    _say(f"\nmeasured: samkjop run --config {config}")
    since = datetime.now()
    run = measure(
        _samkjop("run", "--config", str(config)), env={**os.environ, phase_log.ENV_VAR: str(log)}
    )
    run_ok = run["exit_code"] in (0, 2)
    if run_ok:
        state["runs"] = state.get("runs", 0) + 1
    _write_state(out_dir, state)
    records = phase_log.read(log)
    rows = _loaded_rows(config, since) if run_ok else {}
    table = phases(records, run, rows, _member_names(config))

    _say("\nmeasured: the reference script (tests/benchmarks/reference_kpis.py)")
    reference = measure(_python("-m", "tests.benchmarks.reference_kpis", "--config", str(config)))
    agrees = reference["exit_code"] == 0
    ratio = {
        "cpu": round(run["cpu_seconds"] / reference["cpu_seconds"], 1)
        if reference["cpu_seconds"]
        else None,
        "wall": round(run["wall_seconds"] / reference["wall_seconds"], 1)
        if reference["wall_seconds"]
        else None,
    }

    info = machine()
    commit = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    lines = state["base_lines"] + state.get("extra_lines", 0)
    _say(
        f"\n=== Samkjøp benchmark: {args.scenario}, {lines:,} lines in the cooperation "
        f"({_lines_text(state)}; this run loaded {sum(v['loaded'] for v in rows.values()):,})"
    )
    _say(
        f"commit {commit[:10]}{' + uncommitted changes' if dirty else ''}; {info['cores']} cores"
        f" ({info['cpu']}), {info['ram_gib']} GiB RAM; load average at start "
        f"{' '.join(f'{v:.1f}' for v in load) if load else 'n/a'}"
    )
    for step in setup:
        _say(
            f"setup, not counted: {step['step']}: {step['wall_seconds']:.1f} s wall, "
            f"{step['cpu_seconds']:.1f} s CPU, peak {step['peak_rss_mib']:,.0f} MiB"
        )
    _print_table(f"samkjop run (exit code {run['exit_code']})", table)
    _say(
        f"  peak RSS: the whole process tree {run['peak_rss_mib']:,.0f} MiB (sampled sum), "
        f"largest single process {run['max_process_rss_mib']:,.0f} MiB"
    )
    if not records and run_ok:
        _say("  (no phases logged: the run did no work, e.g. nothing new since the last one)")
    _say(
        f"\nreference script (DuckDB SQL, no dbt): {reference['wall_seconds']:.1f} s wall, "
        f"{reference['cpu_seconds']:.1f} s CPU, peak {reference['peak_rss_mib']:,.0f} MiB; "
        + ("municipality_kpis agrees" if agrees else "municipality_kpis DISAGREES (above)")
    )
    _say(
        f"Samkjøp / reference: CPU {ratio['cpu']}x, wall {ratio['wall']}x"
        if ratio["cpu"]
        else "Samkjøp / reference: n/a"
    )

    history = args.history or Path(os.environ.get("BENCH_HISTORY") or DEFAULT_HISTORY)
    entry = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "uncommitted_changes": dirty,
        "machine": info,
        "load_average_at_start": [round(v, 2) for v in load] if load else None,
        "scenario": args.scenario,
        "lines": lines,
        "base_lines": state["base_lines"],
        "delivered_lines": delivered,
        "lines_loaded": sum(v["loaded"] for v in rows.values()),
        "seed": state.get("seed"),
        "member": args.member if args.scenario == "delivery" else None,
        "skewed_args": state.get("skewed_args"),
        "dir": str(out_dir),
        "setup": setup,
        "run": run,
        "phases": table,
        "reference": {**reference, "agrees": agrees},
        "ratio_samkjop_to_reference": ratio,
    }
    history.parent.mkdir(parents=True, exist_ok=True)
    with history.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    _say(f"appended to {history}")
    return 0 if run_ok and agrees else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=("full", "nochange", "delivery", "skewed"))
    parser.add_argument("--dir", type=Path, default=Path("/tmp/samkjop-bench"))
    parser.add_argument("--lines", type=int, default=300_000, help="demo lines")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--history", type=Path, help="default: BENCH_HISTORY or " + str(DEFAULT_HISTORY)
    )
    parser.add_argument("--member", default="5035", help="delivery: whose delivery")
    parser.add_argument("--delivery-lines", type=int, default=50_000)
    argv = list(sys.argv[1:] if argv is None else argv)
    skewed_args = argv[argv.index("--") + 1 :] if "--" in argv else []  # for skewed.py
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.skewed_args = skewed_args
    return run_scenario(args)


if __name__ == "__main__":
    sys.exit(main())
