# Samkjøp: `make demo` to see it work, `make test` to check it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo
SERVE ?= 1
DEMO_LINES ?= 300000

.PHONY: install install-spark demo test test-system lint spark-parity bench bench-nochange bench-delivery bench-skewed bench-export bench-pages clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

demo: install
	$(BIN)/samkjop demo --out $(DEMO_DIR) --lines $(DEMO_LINES)
	$(BIN)/samkjop run --config $(DEMO_DIR)/cooperation.yml; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 2 ] || exit $$rc
ifeq ($(SERVE),1)
	$(BIN)/samkjop dashboards --config $(DEMO_DIR)/cooperation.yml
endif

# `make test`: everything but the system tests (marker `system`): the control room's test,
# which starts the real Dagster daemon, webserver and dashboards and waits for sensors and
# automation, and the incremental-build test, which runs samkjop four times (about 6
# minutes together); `make test-system` runs them. CI (.ci/run) runs both.
test: lint
	$(BIN)/pytest -n 2 --dist loadgroup -m "not system"

test-system: install
	$(BIN)/pytest -m system

lint: install
	$(BIN)/ruff check pipelines dashboards tests
	$(BIN)/ruff format --check pipelines dashboards tests
	$(BIN)/sqlfluff lint dbt_project/models
	$(BIN)/python -m tests.lint.portable_sql

# The same dbt project on Apache Spark (README "Moving to a Spark cluster"). install-spark
# adds the `spark` extra (dbt-spark, pyspark; pins in constraints-spark.txt); Spark needs
# Java 17 (`apt-get install -y default-jre-headless`). spark-parity: a demo of
# SPARK_PARITY_LINES lines run on DuckDB (`samkjop run`), the same raw tables built on
# Spark with the dbt unit and data tests (`samkjop spark-build`), then every mart of the
# two snapshots compared cell by cell (tests/spark/parity.py); fails on any difference.
SPARK_PARITY_LINES ?= 20000
SPARK_PARITY_DIR ?= /tmp/samkjop-spark-parity
install-spark: $(VENV)/.installed-spark

$(VENV)/.installed-spark: $(VENV)/.installed pyproject.toml constraints-spark.txt
	@command -v java >/dev/null || { echo "java not found: Spark needs Java 17 (apt-get install -y default-jre-headless)"; exit 1; }
	$(BIN)/pip install --quiet -c constraints.txt -c constraints-spark.txt -e '.[dev,spark]'
	touch $@

spark-parity: install-spark
	rm -rf $(SPARK_PARITY_DIR)
	$(BIN)/samkjop demo --out $(SPARK_PARITY_DIR)/cooperation --lines $(SPARK_PARITY_LINES)
	$(BIN)/samkjop run --config $(SPARK_PARITY_DIR)/cooperation/cooperation.yml; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 2 ] || exit $$rc
	$(BIN)/samkjop spark-build --config $(SPARK_PARITY_DIR)/cooperation/cooperation.yml \
		--unit-tests --snapshot $(SPARK_PARITY_DIR)/spark.snapshot.duckdb
	$(BIN)/python -m tests.spark.parity --config $(SPARK_PARITY_DIR)/cooperation/cooperation.yml \
		--spark-snapshot $(SPARK_PARITY_DIR)/spark.snapshot.duckdb

# Benchmarks (tests/benchmarks/bench.py; README "Performance"): `samkjop run` phase by phase
# (wall, CPU, rows/s, peak memory of the process tree) next to a hand-written DuckDB script
# that computes the same municipality_kpis and must agree with the snapshot. Each result is
# appended to BENCH_HISTORY. Making the demo is setup, never counted.
#   make bench                    full refresh of a new demo of BENCH_LINES lines
#   make bench BENCH_LINES=1000000   (or 5000000, the size of a large cooperation)
#   make bench-nochange           `samkjop run` again with nothing new
#   make bench-delivery           one member's extra monthly delivery (BENCH_DELIVERY_LINES)
# bench-nochange and bench-delivery reuse the cooperation `make bench` left in BENCH_DIR
# when it has BENCH_LINES lines (else they make one first, not counted).
BENCH_LINES ?= 300000
BENCH_DIR ?= /tmp/samkjop-bench
BENCH_HISTORY ?= tests/benchmarks/bench-results.jsonl
BENCH_MEMBER ?= 5035
BENCH_DELIVERY_LINES ?= 50000
BENCH := $(BIN)/python -m tests.benchmarks.bench
bench: install
	$(BENCH) full --dir $(BENCH_DIR) --lines $(BENCH_LINES) --history $(BENCH_HISTORY)

bench-nochange: install
	$(BENCH) nochange --dir $(BENCH_DIR) --lines $(BENCH_LINES) --history $(BENCH_HISTORY)

bench-delivery: install
	$(BENCH) delivery --dir $(BENCH_DIR) --lines $(BENCH_LINES) --history $(BENCH_HISTORY) \
		--member $(BENCH_MEMBER) --delivery-lines $(BENCH_DELIVERY_LINES)

# The skewed shape: a small demo (BENCH_SKEWED_LINES lines) in which one member also pays one
# catch-all payee 20 000 times (tests/benchmarks/skewed.py); `samkjop run` on it, measured as
# above. BENCH_SKEWED_ARGS=--redacted-id-share=1 redacts every invoice number.
BENCH_SKEWED_LINES ?= 30000
BENCH_SKEWED_DIR ?= /tmp/samkjop-bench-skewed
BENCH_SKEWED_ARGS ?=
bench-skewed: install
	$(BENCH) skewed --dir $(BENCH_SKEWED_DIR) --lines $(BENCH_SKEWED_LINES) \
		--history $(BENCH_HISTORY) -- $(BENCH_SKEWED_ARGS)

# Each dashboard page's render time (AppTest, no browser; cold, then warm) on the snapshot
# that `make bench` left in BENCH_DIR (tests/benchmarks/bench_pages.py)
BENCH_PAGES_SNAPSHOT ?= $(BENCH_DIR)/warehouse/samkjop.snapshot.duckdb
bench-pages: install
	$(BIN)/python -m tests.benchmarks.bench_pages --snapshot $(BENCH_PAGES_SNAPSHOT)

# The auditors' exports (tests/benchmarks/bench_export.py; README "Exports for auditors"):
# spend_lines as XLSX and Parquet from snapshots of BENCH_EXPORT_ROWS lines (the snapshot of
# a demo of 20 000 lines, made once in BENCH_EXPORT_DIR and not counted, repeated to size)
BENCH_EXPORT_DIR ?= /tmp/samkjop-bench-export
BENCH_EXPORT_ROWS ?= 100000 1000000
bench-export: install
	[ -f $(BENCH_EXPORT_DIR)/warehouse/samkjop.snapshot.duckdb ] || { \
		$(BIN)/samkjop demo --out $(BENCH_EXPORT_DIR) --lines 20000 && \
		$(BIN)/samkjop run --config $(BENCH_EXPORT_DIR)/cooperation.yml; }
	$(BIN)/python -m tests.benchmarks.bench_export \
		--source $(BENCH_EXPORT_DIR)/warehouse/samkjop.snapshot.duckdb --rows $(BENCH_EXPORT_ROWS)

clean:
	rm -rf $(VENV) $(DEMO_DIR) dbt_project/target dbt_project/logs
