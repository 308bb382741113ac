# mneme: `make run` runs the main job, `make test` the linters, the docs build and the tests.
# Both install into a project virtual environment, .venv, unless one is active (a Debian or
# Ubuntu system Python refuses `pip install`: externally-managed-environment). `make PYTHON=...`
# uses that interpreter as it is.
ifeq ($(origin PYTHON),undefined)
ifneq ($(VIRTUAL_ENV),)
PYTHON := $(VIRTUAL_ENV)/bin/python
else
PYTHON := .venv/bin/python
VENV := .venv/bin/python
endif
endif
PIP := $(PYTHON) -m pip
TORCH_PIN := torch==2.13.0
# Datasets are never committed: they are read from $MNEME_DATA (see README, "Datasets").
ifneq ($(wildcard ../shared/data),)
export MNEME_DATA ?= $(abspath ../shared/data)
endif
export OMP_NUM_THREADS ?= 1

.PHONY: install install-dev run test lint docs dist bench-quick

.venv/bin/python:
	python3 -m venv .venv

# The pin fixes the PyTorch build the tests were run with; the package metadata keeps a range.
install: $(VENV)
	$(PIP) install --quiet "$(TORCH_PIN)"
	$(PIP) install --quiet -e ".[tensorboard,safetensors]"

install-dev: $(VENV)
	$(PIP) install --quiet "$(TORCH_PIN)"
	$(PIP) install --quiet -e ".[tensorboard,safetensors,dev,docs]"

run: install
	$(PYTHON) -m mneme bench --suite quick

lint:
	$(PYTHON) -m ruff check src tests benchmarks
	PYTHONPATH=src $(PYTHON) -c "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"

# The API reference site (MkDocs + mkdocstrings) into site/; --strict fails on any warning.
docs:
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict --quiet

# The wheel and the sdist into dist/ (checked in CI by `make test`).
dist:
	rm -rf dist && mkdir dist
	$(PYTHON) -m build --outdir dist . >dist/build.log 2>&1 || { cat dist/build.log; exit 1; }

test: install-dev lint docs dist
	$(PYTHON) -m pytest -q
