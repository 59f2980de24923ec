# Samkjøp: `make demo` to see it work, `make test` to check it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo
SERVE ?= 1
DEMO_LINES ?= 300000

.PHONY: install demo test lint bench bench-skewed clean

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

test: lint
	$(BIN)/pytest -n 2 --dist loadgroup

lint: install
	$(BIN)/ruff check pipelines dashboards tests
	$(BIN)/ruff format --check pipelines dashboards tests
	$(BIN)/sqlfluff lint dbt_project/models

# Wall time and peak memory of the generator and of `samkjop run` at BENCH_LINES lines.
BENCH_LINES ?= 5000000
BENCH_DIR ?= /tmp/samkjop-bench
bench: install
	rm -rf $(BENCH_DIR)
	$(BIN)/python -m tests.benchmarks.measure -- $(BIN)/samkjop demo --out $(BENCH_DIR) --lines $(BENCH_LINES)
	$(BIN)/python -m tests.benchmarks.measure -- $(BIN)/samkjop run --config $(BENCH_DIR)/cooperation.yml

# The skewed shape: a small demo (BENCH_SKEWED_LINES lines) in which one member also pays one
# catch-all payee 20 000 times (tests/benchmarks/skewed.py); wall time and peak memory of
# `samkjop run` on it. BENCH_SKEWED_ARGS=--redacted-id-share=1 redacts every invoice number.
BENCH_SKEWED_LINES ?= 30000
BENCH_SKEWED_DIR ?= /tmp/samkjop-bench-skewed
BENCH_SKEWED_ARGS ?=
bench-skewed: install
	rm -rf $(BENCH_SKEWED_DIR)
	$(BIN)/python -m tests.benchmarks.skewed --out $(BENCH_SKEWED_DIR) --lines $(BENCH_SKEWED_LINES) $(BENCH_SKEWED_ARGS)
	$(BIN)/python -m tests.benchmarks.measure -- $(BIN)/samkjop run --config $(BENCH_SKEWED_DIR)/cooperation.yml

clean:
	rm -rf $(VENV) $(DEMO_DIR) dbt_project/target dbt_project/logs
