# Samkjøp: `make demo` to see it work, `make test` to check it.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo
SERVE ?= 1
DEMO_LINES ?= 300000

.PHONY: install demo test test-system lint bench bench-nochange bench-delivery bench-skewed clean

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

# `make test`: everything but the control room's system test, which starts the real Dagster
# daemon, webserver and dashboards and waits for sensors and automation (about 3 minutes
# alone); `make test-system` runs it. CI (.ci/run) runs both.
test: lint
	$(BIN)/pytest -n 2 --dist loadgroup -m "not system"

test-system: install
	$(BIN)/pytest -m system

lint: install
	$(BIN)/ruff check pipelines dashboards tests
	$(BIN)/ruff format --check pipelines dashboards tests
	$(BIN)/sqlfluff lint dbt_project/models

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

clean:
	rm -rf $(VENV) $(DEMO_DIR) dbt_project/target dbt_project/logs
