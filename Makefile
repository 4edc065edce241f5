# LineSight — one entry point for the common tasks. `make test` works on a fresh machine.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
PYTEST_ARGS ?=
# Test processes for `make test` (pytest-xdist; 0: one process). Each module stays in one process and every
# e2e test in the same one (tests/conftest.py), so module fixtures and the e2e stack are made once.
PYTEST_JOBS ?= 2

.PHONY: venv test test-unit test-integration test-e2e lint format dev demo screenshots status down clean

venv:
	@bash scripts/bootstrap.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy services/linesight_core

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Everything CI runs: lint, then unit, integration and end-to-end tests on real services.
test: lint
	$(PY) -m pytest -n $(PYTEST_JOBS) --dist loadgroup $(PYTEST_ARGS)

test-unit: venv
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

test-integration: venv
	$(PY) -m pytest -m integration $(PYTEST_ARGS)

test-e2e: venv
	$(PY) -m pytest -m e2e $(PYTEST_ARGS)

# The whole system as local processes (no Docker needed); Ctrl-C stops it.
dev: venv
	$(PY) -m linesight_devstack up

# First run: synthetic bench photos → dataset → trained detector → promotion → inspection → feedback.
# Uses the stack `make dev` runs, or starts one for the demo. No network needed.
# `make demo TASK=segment`: synthetic plates → segment model → defect station (cracks over 5 mm are NOK).
TASK ?= detect
demo: venv
	$(PY) -m linesight_devstack demo --task $(TASK)

# A screenshot of every UI page in headless Chromium, into docs/screenshots/ (uses the stack `make dev`
# runs, signed in as its demo person, or starts one).
screenshots: venv
	$(PY) scripts/screenshots.py

status: venv
	$(PY) -m linesight_devstack status

down: venv
	$(PY) -m linesight_devstack down

clean:
	rm -rf $(VENV) .devstack .pytest_cache .ruff_cache .mypy_cache
