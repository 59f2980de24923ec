"""The data contracts checked with Great Expectations (GX 1.x) at the ingestion boundary.

One expectation suite per contract is generated from `data_contracts/<dataset>.odcs.yaml`
(through `pipelines.contracts.contract_columns`), so the rule a member reads is the rule that
is checked. Per contract column:

- `required: true`                     -> ExpectColumnValuesToNotBeNull
- `logicalTypeOptions.pattern`         -> ExpectColumnValuesToMatchRegex (mostly=1.0)
- a `validValues` quality rule         -> ExpectColumnValuesToBeInSet (mostly=1.0)
- `logicalType` date/number/integer/boolean -> ExpectColumnValuesToBeInTypeList, with the
  dtypes DuckDB gives pandas for the loaded column (DATE -> datetime64, DECIMAL -> float64,
  BOOLEAN -> bool). The suite checks LOADED, typed data: a frame of raw CSV text would fail
  the type expectations (parsing is the loader's job, and it rejects what it cannot parse).

Expectations are made only for the contract columns a frame actually has (`columns`): the
loaded tables do not carry every contract column (raw.agreements has no `category_ids`, it is
split into raw.agreement_categories), and that is not a data error.

Great Expectations is imported lazily (importing it takes seconds), and one ephemeral data
context with one pandas data source is built per process and reused. Only the columns the
suite's expectations read are fetched from the warehouse.

Why pandas and not GX's SQL execution engine on the warehouse (duckdb-engine, tried with GX
1.24): DuckDB is no SQL dialect GX supports. GX reads a metric's result after it has given
its connection back to the pool, which discards a DuckDB result (every metric fails unless
GX's private list of dialects that keep one connection is patched); GX has no regular
expression for DuckDB ("Regex is not supported for dialect duckdb": both pattern
expectations fail); and the type expectations, written for the dtypes pandas gives, fail on
SQL column types. A temporary SQLite copy has no regular expressions in GX either.

Usage inside a Dagster asset check: see `asset_check_result`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd

from pipelines.contracts import ContractColumn, contract_columns

if TYPE_CHECKING:
    import duckdb
    import great_expectations as gx
    from great_expectations.core.batch_definition import BatchDefinition

# Contract columns whose name exists in a loaded raw table with a different meaning; they are
# skipped when that table is validated. raw.spend_lines.supplier_org_no is the VALIDATED,
# compacted number (NULL when invalid); the contract's supplier_org_no is the text as the ERP
# wrote it, which the loader keeps in supplier_org_no_raw (after cleaning) - so neither loaded
# column means what the contract's column means, and the contract column is not checked.
LOADED_SKIPPED_COLUMNS: dict[str, tuple[str, ...]] = {"spend": ("supplier_org_no",)}
# A frame with one of these columns is a loaded-table frame of that dataset.
_LOADED_MARKERS: dict[str, str] = {"spend": "supplier_org_no_raw"}

DEFAULT_CHUNK_ROWS = 100_000
_DUCKDB_VECTOR_ROWS = 2048  # fetch_df_chunk fetches whole vectors of this many rows
_EXAMPLES = 5  # example values / rows kept per failing expectation
_MAX_MARKDOWN_LINES = 60

# dtype names GX's ExpectColumnValuesToBeInTypeList resolves for pandas (numpy dtype names,
# pandas extension dtype class names, python type names for object columns).
_INTS = [
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "Int8Dtype",
    "Int16Dtype",
    "Int32Dtype",
    "Int64Dtype",
    "int",
]
TYPE_LISTS: dict[str, list[str]] = {
    "date": ["datetime64[s]", "datetime64[ms]", "datetime64[us]", "datetime64[ns]", "Timestamp"],
    "number": _INTS + ["float16", "float32", "float64", "Float32Dtype", "Float64Dtype", "float"],
    "integer": _INTS,
    "boolean": ["bool", "BooleanDtype"],
}
_TYPE_WORDS = {
    "date": "a date",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
}

_NOT_NULL = "expect_column_values_to_not_be_null"
_REGEX = "expect_column_values_to_match_regex"
_IN_SET = "expect_column_values_to_be_in_set"
_TYPE_LIST = "expect_column_values_to_be_in_type_list"


@dataclass(frozen=True)
class ContractCheck:
    """The outcome of one suite over one frame or one delivery.

    `failures` are sentences an analyst can act on, naming the column; `missing_required`
    counts missing values of required columns (in loaded data that is a loader bug).
    """

    success: bool
    evaluated: int  # expectations in the suite
    failures: list[str]
    rows: int
    dataset: str = ""
    subject: str = ""  # what was checked, e.g. "delivery 3fa2…"
    missing_required: int = 0


# --- the suites ------------------------------------------------------------------------------


def build_suite(dataset: str, columns: Iterable[str] | None = None) -> gx.ExpectationSuite:
    """The expectation suite the contract `dataset` implies.

    With `columns`, only expectations on those contract columns are made (the loaded table's
    columns); without, every contract column is covered.
    """
    import great_expectations as gx

    _batch_definition()  # the context must exist before a suite takes expectations
    wanted = None if columns is None else set(columns)
    suite = gx.ExpectationSuite(name=f"samkjop.{dataset}")
    for column in contract_columns(dataset):
        if wanted is None or column.name in wanted:
            for expectation in _expectations(column):
                suite.add_expectation(expectation)
    return suite


def _expectations(column: ContractColumn) -> list[Any]:
    import great_expectations.expectations as gxe

    name = column.name
    made: list[Any] = []
    if column.required:
        made.append(gxe.ExpectColumnValuesToNotBeNull(column=name))
    if column.pattern:
        made.append(
            gxe.ExpectColumnValuesToMatchRegex(column=name, regex=column.pattern, mostly=1.0)
        )
    if column.valid_values:
        made.append(
            gxe.ExpectColumnValuesToBeInSet(
                column=name, value_set=_typed_values(column), mostly=1.0
            )
        )
    if column.logical_type in TYPE_LISTS:
        made.append(
            gxe.ExpectColumnValuesToBeInTypeList(
                column=name, type_list=TYPE_LISTS[column.logical_type]
            )
        )
    return made


def _typed_values(column: ContractColumn) -> list[Any]:
    """Valid values as the loaded column holds them (the contract lists CSV text)."""
    if column.logical_type == "boolean":
        return [value.lower() == "true" for value in column.valid_values]
    return list(column.valid_values)


@cache
def _cached_suite(dataset: str, columns: tuple[str, ...]) -> gx.ExpectationSuite:
    return build_suite(dataset, columns)


def _expected_columns(suite: gx.ExpectationSuite, columns: Iterable[str]) -> list[str]:
    """The columns the suite's expectations read, in `columns`' order: only they are fetched
    and given to GX. A contract column without an expectation (a free text) changes no
    result, but costs time twice: in the conversion to pandas, and in GX, whose batch takes
    the whole frame (on a delivery of 300 000 lines the check takes half as long without
    them)."""
    read = {expectation.configuration.kwargs.get("column") for expectation in suite.expectations}
    return [column for column in columns if column in read]


def _checked_columns(dataset: str, available: Iterable[str], skip: Iterable[str]) -> tuple:
    present, skipped = set(available), set(skip)
    return tuple(
        c.name for c in contract_columns(dataset) if c.name in present and c.name not in skipped
    )


# --- one GX context per process --------------------------------------------------------------

_LOCK = threading.RLock()  # GX is not documented thread-safe: one validation at a time
_BATCH_DEFINITION: BatchDefinition | None = None


def _batch_definition() -> BatchDefinition:
    """The whole-dataframe batch definition of the process's ephemeral context.

    Built once per process. Getting the context also makes it GX's current project, which
    `ExpectationSuite.add_expectation` needs.
    """
    global _BATCH_DEFINITION
    with _LOCK:
        if _BATCH_DEFINITION is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import (
                DataContextConfig,
                InMemoryStoreBackendDefaults,
                ProgressBarsConfig,
            )

            context = gx.get_context(
                mode="ephemeral",
                project_config=DataContextConfig(
                    store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                    analytics_enabled=False,
                    progress_bars=ProgressBarsConfig(globally=False),  # no tqdm in Dagster logs
                ),
            )
            source = context.data_sources.add_pandas(name="samkjop_ingestion")
            asset = source.add_dataframe_asset(name="frame")
            _BATCH_DEFINITION = asset.add_batch_definition_whole_dataframe("whole_frame")
        return _BATCH_DEFINITION


def _run_suite(frame: pd.DataFrame, suite: gx.ExpectationSuite) -> Any:
    with _LOCK:
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
        return batch.validate(
            suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": _EXAMPLES}
        )


# --- combining chunk results -----------------------------------------------------------------


@dataclass
class _Tally:
    """One expectation's results summed over the chunks of a frame or delivery."""

    kind: str
    column: str
    kwargs: dict
    element_count: int = 0
    missing_count: int = 0
    unexpected_count: int = 0
    examples: list = field(default_factory=list)
    example_rows: list = field(default_factory=list)
    observed: list = field(default_factory=list)
    wrong_dtype: bool = False
    errors: list = field(default_factory=list)

    def add(self, result: Any, rows: int) -> None:
        info = result.exception_info or {}
        if info.get("raised_exception"):
            self.errors.append(str(info.get("exception_message")))
            return
        detail = result.result or {}
        if "unexpected_count" not in detail:  # an aggregate result (the column's dtype)
            self.element_count += rows
            if not result.success:
                self.wrong_dtype = True
                _keep(self.observed, detail.get("observed_value"), _EXAMPLES)
            return
        self.element_count += int(detail.get("element_count") or 0)
        self.missing_count += int(detail.get("missing_count") or 0)
        self.unexpected_count += int(detail.get("unexpected_count") or 0)
        if self.kind != _NOT_NULL:
            for value in detail.get("partial_unexpected_list") or []:
                _keep(self.examples, value, _EXAMPLES)
        for row in detail.get("partial_unexpected_index_list") or []:
            if isinstance(row, dict):  # a named index: {column: value, index name: label}
                row = next((v for k, v in row.items() if k != self.column), None)
            _keep(self.example_rows, row, _EXAMPLES)

    @property
    def success(self) -> bool:
        if self.errors or self.wrong_dtype:
            return False  # an exception, or the column's dtype is wrong
        denominator = (
            self.element_count
            if self.kind == _NOT_NULL
            else self.element_count - self.missing_count
        )
        if not denominator:
            return True
        mostly = self.kwargs.get("mostly", 1.0)
        return 1 - self.unexpected_count / denominator >= mostly

    def sentence(self, row_label: str) -> str:
        column = f"column {self.column}"
        if self.errors:
            return f"{column}: {self.kind} could not be evaluated: {self.errors[0]}"
        if self.wrong_dtype:
            observed = ", ".join(map(str, self.observed)) or "unknown"
            return (
                f"{column}: the values are of type {observed}, not {self._type_word()} "
                "(expect type in list)"
            )
        count = f"{self.unexpected_count} of {self.element_count} values"
        if self.kind == _NOT_NULL:
            text = f"{column}: {count} are missing (expect not null)"
        elif self.kind == _REGEX:
            text = f"{column}: {count} do not match {self.kwargs['regex']} (expect match regex)"
        elif self.kind == _IN_SET:
            allowed = ", ".join(map(str, self.kwargs["value_set"]))
            text = f"{column}: {count} are not one of {allowed} (expect in set)"
        elif self.kind == _TYPE_LIST:
            text = f"{column}: {count} are not {self._type_word()} (expect type in list)"
        else:
            text = f"{column}: {count} fail {self.kind}"
        if self.examples:
            text += "; e.g. " + ", ".join(_shown(v) for v in self.examples)
        if self.example_rows:
            more = ", …" if self.unexpected_count > len(self.example_rows) else ""
            text += f"; at {row_label} {', '.join(map(str, self.example_rows))}{more}"
        return text

    def _type_word(self) -> str:
        for logical, type_list in TYPE_LISTS.items():
            if type_list == list(self.kwargs.get("type_list") or []):
                return _TYPE_WORDS[logical]
        return "of type " + ", ".join(self.kwargs.get("type_list") or [])


def _keep(values: list, value: Any, limit: int) -> None:
    if len(values) < limit and value not in values and not _is_missing(value):
        values.append(value)


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _key(config: Any) -> str:
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    return config.type + json.dumps(kwargs, sort_keys=True, default=str)


def _validate_chunks(
    chunks: Iterable[pd.DataFrame],
    suite: gx.ExpectationSuite,
    *,
    dataset: str,
    subject: str,
    row_label: str,
) -> ContractCheck:
    tallies: dict[str, _Tally] = {}
    for expectation in suite.expectations:
        config = expectation.configuration
        tallies[_key(config)] = _Tally(
            config.type, config.kwargs.get("column", ""), dict(config.kwargs)
        )
    rows = 0
    for chunk in chunks:
        rows += len(chunk)
        if not tallies or chunk.empty:
            continue
        outcome = _run_suite(chunk, suite)
        for result in outcome.results:
            config = result.expectation_config
            tally = tallies.setdefault(
                _key(config),
                _Tally(config.type, config.kwargs.get("column", ""), dict(config.kwargs)),
            )
            tally.add(result, len(chunk))
    failed = [t for t in tallies.values() if not t.success]
    return ContractCheck(
        success=not failed,
        evaluated=len(tallies),
        failures=[t.sentence(row_label) for t in failed],
        rows=rows,
        dataset=dataset,
        subject=subject,
        missing_required=sum(t.unexpected_count for t in failed if t.kind == _NOT_NULL),
    )


# --- public entry points ---------------------------------------------------------------------


def validate_frame(
    frame: pd.DataFrame, dataset: str, *, skip: Iterable[str] = (), subject: str | None = None
) -> ContractCheck:
    """Check one in-memory frame against the contract `dataset`.

    The frame's columns carry the contract's names; only the contract columns it has are
    checked, minus `skip`. A frame of loaded spend lines (it has `supplier_org_no_raw`) skips
    the contract's `supplier_org_no` automatically: in raw.spend_lines that name is the
    validated number, not the ERP text the contract describes (see LOADED_SKIPPED_COLUMNS).
    Failures name rows by the frame's index labels.
    """
    skipped = set(skip)
    marker = _LOADED_MARKERS.get(dataset)
    if marker and marker in frame.columns:
        skipped |= set(LOADED_SKIPPED_COLUMNS.get(dataset, ()))
    columns = _checked_columns(dataset, frame.columns, skipped)
    suite = _cached_suite(dataset, columns)
    return _validate_chunks(
        [frame.loc[:, _expected_columns(suite, columns)]],
        suite,
        dataset=dataset,
        subject=subject or f"{dataset} frame",
        row_label="row",
    )


def validate_delivery(
    con: duckdb.DuckDBPyConnection, delivery_id: str, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> ContractCheck:
    """Check one loaded spend delivery (all rows of raw.spend_lines with `delivery_id`)."""
    return validate_deliveries(
        con, [delivery_id], chunk_rows=chunk_rows, subject=f"delivery {delivery_id}"
    )


def validate_deliveries(
    con: duckdb.DuckDBPyConnection,
    delivery_ids: Sequence[str],
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    subject: str | None = None,
) -> ContractCheck:
    """Check loaded spend deliveries in one pass (GX's per-validation overhead is paid once).

    Rows are streamed in file and source_row order, about `chunk_rows` at a time (whole DuckDB
    vectors of 2048 rows), and the unexpected counts of the chunks are summed per expectation,
    so deliveries of any size are checked completely with bounded memory. The loaded table
    uses the spend contract's column names; `supplier_org_no` is skipped (different meaning,
    see LOADED_SKIPPED_COLUMNS), the lineage columns (delivery_id, source_row, ...) are not in
    the contract. Failures name rows as `<file>:<source_row>` (the row in the delivered file).
    """
    table_columns = [
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'spend_lines'"
        ).fetchall()
    ]
    columns = _checked_columns("spend", table_columns, LOADED_SKIPPED_COLUMNS["spend"])
    suite = _cached_suite("spend", columns)
    vectors = max(1, chunk_rows // _DUCKDB_VECTOR_ROWS)
    single = len(delivery_ids) == 1
    row_ref = (
        "source_row" if single else ("regexp_extract(source_file, '[^/]+$') || ':' || source_row")
    )
    selected = ", ".join(
        [f"{row_ref} AS row_ref"] + [f'"{c}"' for c in _expected_columns(suite, columns)]
    )

    def chunks() -> Iterator[pd.DataFrame]:
        # On `con` itself, so the caller's open transaction is seen; nothing else runs on
        # `con` until the result is exhausted.
        result = con.execute(
            f"SELECT {selected} FROM raw.spend_lines "
            "WHERE list_contains(?, delivery_id) ORDER BY source_file, source_row",
            [list(delivery_ids)],
        )
        while not (frame := result.fetch_df_chunk(vectors)).empty:
            yield frame.set_index("row_ref")

    return _validate_chunks(
        chunks(),
        suite,
        dataset="spend",
        subject=subject or f"{len(delivery_ids)} deliveries",
        row_label="source_row" if single else "file:row",
    )


def asset_check_result(
    checks: Sequence[ContractCheck],
    *,
    asset_key: dg.AssetKey | str | Sequence[str] | None = None,
    check_name: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dg.AssetCheckResult:
    """One Dagster AssetCheckResult for one or more contract checks (e.g. one per delivery).

    passed when every check passed. Severity ERROR when a required value is missing (loaded
    data: the loader rejects such rows, so it is a loader bug), WARN for everything else
    (values outside the contract that the loader lets through, e.g. an unknown art).

    Inside the (partitioned) member_spend multi-asset, declared with
    `check_specs=[dg.AssetCheckSpec("spend_contract", asset=["raw", "spend_lines"])]`, after
    its MaterializeResults (a loaded delivery's delivery_id is its file_sha256)::

        with connect(cooperation.warehouse) as con:
            checks = [validate_delivery(con, r.file_sha256) for r in results
                      if r.status == "loaded"]
        yield asset_check_result(checks, asset_key=["raw", "spend_lines"],
                                 check_name="spend_contract")

    Or return it from an `@dg.asset_check(asset=...)` function (asset_key/check_name may then
    be omitted).
    """
    failing = [c for c in checks if not c.success]
    missing = sum(c.missing_required for c in checks)
    lines: list[str] = []
    for check in failing:
        lines.append(f"**{check.subject or check.dataset}** ({check.rows} rows)")
        lines += [f"- {failure}" for failure in check.failures]
    if len(lines) > _MAX_MARKDOWN_LINES:
        lines = lines[:_MAX_MARKDOWN_LINES] + [f"- … {len(lines) - _MAX_MARKDOWN_LINES} more"]
    datasets = sorted({c.dataset for c in checks if c.dataset})
    return dg.AssetCheckResult(
        passed=not failing,
        asset_key=asset_key,
        check_name=check_name,
        severity=dg.AssetCheckSeverity.ERROR if missing else dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "contract": ", ".join(datasets) or "none",
            "checked": len(checks),
            "failed": len(failing),
            "rows": sum(c.rows for c in checks),
            "expectations_evaluated": sum(c.evaluated for c in checks),
            "missing_required_values": missing,
            "failures": dg.MetadataValue.md("\n".join(lines) if lines else "none"),
            **(metadata or {}),
        },
    )
