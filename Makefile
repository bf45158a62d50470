# The two commands of the quick start: `make demo` and `make test`.
# Each sets itself up from nothing: Debian packages when missing, then .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck pytest setup system-deps clean

# The narrated run, then the dashboard at http://127.0.0.1:8000 while the shops trade on
# (Ctrl-C stops it).
demo: setup
	$(BIN)/salesync demo

test: setup lint typecheck pytest

setup: system-deps $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

lint:
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck:
	$(BIN)/mypy

# Two workers (CI has two cores); a file's tests stay together on one worker, so the
# servers and sandboxes a module starts once serve all of its tests.
pytest:
	$(BIN)/pytest -n 2 --dist loadfile

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache var demo-out
