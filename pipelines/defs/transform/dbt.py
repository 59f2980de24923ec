"""The dbt project as Dagster assets: one asset per model, dbt tests as asset checks."""

import json
import os
import shutil
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from pipelines import incremental
from pipelines.defs.automation import BUILD_CONDITION
from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.processes import is_running
from pipelines.progress import DbtProgress, say
from pipelines.settings import DBT_PROJECT_DIR, Cooperation

WAREHOUSE_ENV_VAR = "SAMKJOP_WAREHOUSE"  # read by dbt_project/profiles.yml
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")  # the venv's dbt, PATH or not


PARSED_WITH = "parsed_with.json"  # written last by a finished parse: the vars it used
PARSE_ARTIFACTS = ("manifest.json", "partial_parse.msgpack")
BUILD_TARGET = "build"


def dbt_project_for(cooperation: Cooperation) -> tuple[DbtProject, DbtCliResource]:
    """The dbt project with this cooperation's warehouse and target folder, parsed."""
    os.environ[WAREHOUSE_ENV_VAR] = str(cooperation.warehouse)
    project = DbtProject(project_dir=DBT_PROJECT_DIR, target_path=cooperation.dbt_target_dir)
    dbt = DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)
    parse_vars = json.dumps(dbt_vars(cooperation), sort_keys=True)
    if _manifest_is_stale(Path(project.target_path), parse_vars):
        _parse(dbt, Path(project.target_path), parse_vars)
    return project, dbt


def _manifest_is_stale(target: Path, parse_vars: str) -> bool:
    """Parse again only when the last parse did not finish, used other vars, or a file of
    the dbt project changed since."""
    marker = target / PARSED_WITH
    if not marker.exists() or not (target / "manifest.json").exists():
        return True
    if marker.read_text(encoding="utf-8") != parse_vars:
        return True
    built = marker.stat().st_mtime
    sources = (
        p
        for p in DBT_PROJECT_DIR.rglob("*")
        if p.suffix in (".sql", ".yml", ".csv")
        and "target" not in p.parts
        and "logs" not in p.parts
    )
    return any(p.stat().st_mtime > built for p in sources)


def _parse(dbt: DbtCliResource, target: Path, parse_vars: str) -> None:
    """`dbt parse` into a folder of its own, then its manifest moved into place: a parse
    that is killed halfway never leaves a half-written manifest for the next run. With the
    build's vars, so that the build parses only what changed (dbt's partial parsing)."""
    target.mkdir(parents=True, exist_ok=True)
    for leftover in target.glob(".parse-*"):
        pid = leftover.name.removeprefix(".parse-")
        if not pid.isdigit() or not is_running(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)
    (target / PARSED_WITH).unlink(missing_ok=True)
    scratch = target / f".parse-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    if (target / "partial_parse.msgpack").exists():
        shutil.copyfile(target / "partial_parse.msgpack", scratch / "partial_parse.msgpack")
    dbt.cli(
        ["parse", "--quiet", "--vars", parse_vars], target_path=scratch, raise_on_error=True
    ).wait()
    for name in PARSE_ARTIFACTS:
        os.replace(scratch / name, target / name)
    shutil.rmtree(scratch, ignore_errors=True)
    (target / PARSED_WITH).write_text(parse_vars, encoding="utf-8")


def _build_target(cooperation: Cooperation) -> Path:
    """The build's own target folder, seeded with the parse's state so that dbt parses
    only what changed since."""
    build = cooperation.dbt_target_dir / BUILD_TARGET
    build.mkdir(parents=True, exist_ok=True)
    parsed = cooperation.dbt_target_dir / "partial_parse.msgpack"
    if parsed.exists():
        shutil.copyfile(parsed, build / "partial_parse.msgpack")
    return build


def dbt_vars(cooperation: Cooperation) -> dict:
    """The cooperation's configuration that the dbt models read as vars."""
    return {
        "thresholds": list(cooperation.thresholds),
        "price_tolerance": cooperation.price_tolerance,  # price_deviations
        # possible_duplicate_invoices
        "duplicate_window_days": cooperation.duplicate_window_days,
        "duplicate_min_amount": cooperation.duplicate_min_amount,
        "duplicate_max_pairs_per_supplier": cooperation.duplicate_max_pairs_per_supplier,
        "catch_all_payees": list(cooperation.catch_all_payees),
        # seeded reference datasets replaced by a configured file (macro reference_data)
        "reference_overrides": cooperation.reference_overrides,
    }


def _line_model_plan(cooperation: Cooperation) -> tuple[str, bool]:
    """The fingerprint of what fct_spend_lines' rows depend on besides the deliveries, and
    whether this build must rebuild it in full (pipelines/incremental.py). Before a full
    rebuild the old record goes: a rebuild that fails leaves none, so the next is full too."""
    line_inputs = incremental.line_model_inputs(cooperation.warehouse, dbt_vars(cooperation))
    last = incremental.recorded(cooperation.warehouse)
    if last == line_inputs:
        return line_inputs, False
    reason = "first build" if last is None else "rules, reference data, settings or code changed"
    say(f"    spend lines rebuilt in full ({reason})")
    incremental.forget(cooperation.warehouse)
    return line_inputs, True


def _nodes_to_build(manifest_path: Path) -> int:
    """The models, seeds and snapshots a `dbt build` of the whole project builds."""
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    built = ("model", "seed", "snapshot")
    return sum(
        1
        for node in manifest["nodes"].values()
        if node["resource_type"] in built and node.get("config", {}).get("enabled", True)
    )


class _Translator(DagsterDbtTranslator):
    """dagster-dbt's asset keys and checks; every model, seed and snapshot is built on its
    own once its inputs changed (pipelines/defs/automation.py)."""

    def get_automation_condition(self, dbt_resource_props):
        return BUILD_CONDITION


def build_dbt_assets(cooperation: Cooperation) -> tuple[dg.AssetsDefinition, DbtCliResource]:
    project, dbt_resource = dbt_project_for(cooperation)
    # The unit tests pin the metric rules with vars of their own; they run in `make test`,
    # never against a cooperation's data and settings.
    build_args = [
        "build",
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        json.dumps(dbt_vars(cooperation), sort_keys=True),  # as parsed: partial parsing
    ]

    to_build = _nodes_to_build(project.manifest_path)

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        pool=WAREHOUSE_POOL,
        dagster_dbt_translator=_Translator(),
    )
    def samkjop_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        target = _build_target(cooperation)
        progress = DbtProgress(to_build)
        line_inputs, full_refresh = _line_model_plan(cooperation)
        (target / "run_results.json").unlink(missing_ok=True)
        try:
            args = build_args + (["--full-refresh"] if full_refresh else [])
            for event in dbt.cli(args, target_path=target, context=context).stream():
                progress.saw(event)
                yield event
        finally:
            if incremental.line_model_outcome(target / "run_results.json") == "success":
                incremental.record(cooperation.warehouse, line_inputs)
        say(f"    {progress.describe()}")

    return samkjop_dbt_models, dbt_resource
