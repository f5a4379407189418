# One entry point for everything: each target builds the project's own
# virtual environment (.venv) from pyproject.toml + constraints.txt first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint typecheck soak crash overlap badinput secrets bench bench-quick sandbox clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m sandbox.cli demo

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
	$(BIN)/python -m sandbox.proof soak

crash: $(STAMP)
	$(BIN)/python -m sandbox.proof crash

overlap: $(STAMP)
	$(BIN)/python -m sandbox.proof overlap

badinput: $(STAMP)
	$(BIN)/python -m sandbox.proof badinput

secrets: $(STAMP)
	$(BIN)/python -m sandbox.proof secrets

bench: $(STAMP)
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick

sandbox: $(STAMP)
	$(BIN)/python -m sandbox.cli sandbox

clean:
	rm -rf $(VENV) .nuntiq
