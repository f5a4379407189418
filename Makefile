# One entry point for everything: each target builds the project's own
# virtual environment (.venv) from pyproject.toml + constraints.txt first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint typecheck soak crash overlap badinput secrets variants variants-codat variants-nuntiq bench bench-quick sandbox clean downstream

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m lib.cli demo

test: $(STAMP)
	$(BIN)/ruff check adapters connectors lib sandbox tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check adapters connectors lib sandbox tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The long proof suites and the benchmarks (their fast parts run inside `make test`).
soak: $(STAMP)
	$(BIN)/python -m tests.proof soak

crash: $(STAMP)
	$(BIN)/python -m tests.proof crash

overlap: $(STAMP)
	$(BIN)/python -m tests.proof overlap

badinput: $(STAMP)
	$(BIN)/python -m tests.proof badinput

secrets: $(STAMP)
	$(BIN)/python -m tests.proof secrets

# soak, crash and overlap with every Connect listings read going through parallel windows
# (small pages so the suites' data sets are windowed; fast part inside `make test`)
.PHONY: proof-windows
proof-windows: $(STAMP)
	$(BIN)/python -m tests.proof soak --connect-windows --size tiny --runs 6
	$(BIN)/python -m tests.proof crash --connect-windows --size tiny --runs 12
	$(BIN)/python -m tests.proof overlap --connect-windows --size tiny --runs 6

# Every shipped connector across the full cross product of the sandboxes' variants of what
# no reference confirms (`make test` runs a daily-rotating sample of them).
variants: variants-codat variants-nuntiq

variants-codat: $(STAMP)
	CODAT_VARIANTS=all $(BIN)/python -m pytest tests/codat/test_codat_variants.py -q $(PYTEST_ARGS)

# Nuntiq custom-data and source-document shapes: each value alone, then all 1,728 combinations.
variants-nuntiq: $(STAMP)
	$(BIN)/python -m pytest tests/nuntiq/long_variants.py -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

# The package as a user installs it: wheel + pytest in a fresh venv without constraints,
# the sample project in examples/downstream (test kit, cassette), mypy --strict, pip check.
downstream: $(STAMP)
	$(BIN)/ruff check examples
	.ci/downstream

sandbox: $(STAMP)
	$(BIN)/python -m lib.cli sandbox

clean:
	rm -rf $(VENV) .nuntiq

# Connect: the full cross product of the sandbox variants, and ties at 50,000 records
# (one variant at a time and a 3,000-record tie run are inside `make test`).
.PHONY: variants-connect ties-connect
variants-connect: $(STAMP)
	$(BIN)/python -m pytest tests/connect/long_variants.py -q

ties-connect: $(STAMP)
	$(BIN)/python -m pytest tests/connect/long_ties.py -q -s
