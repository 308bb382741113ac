# mneme: `make run` runs the main job, `make test` the linters and the test suite.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
TORCH_PIN := torch==2.13.0
# Datasets are never committed: they are read from $MNEME_DATA (see README, "Datasets").
ifneq ($(wildcard ../shared/data),)
export MNEME_DATA ?= $(abspath ../shared/data)
endif
export OMP_NUM_THREADS ?= 1

.PHONY: install install-dev run test lint bench-quick

# The pin installs the CPU build these machines carry; the package metadata keeps a range.
install:
	$(PIP) install --quiet "$(TORCH_PIN)"
	$(PIP) install --quiet -e ".[tensorboard,safetensors]"

install-dev:
	$(PIP) install --quiet "$(TORCH_PIN)"
	$(PIP) install --quiet -e ".[tensorboard,safetensors,dev]"

run: install
	$(PYTHON) -m mneme bench --suite quick

lint:
	$(PYTHON) -m ruff check src tests benchmarks
	PYTHONPATH=src lint-imports

test: install-dev lint
	$(PYTHON) -m pytest -q
