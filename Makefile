# Two commands on a fresh machine: `make run` (the main job, embedded default: no network, no server)
# and `make test`. Each creates the virtual environment on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Real data shared beside the repository (tests and the offline demo read it in place, never copy it).
export SWX_SHARED_DATA ?= $(abspath ../shared/data)

.PHONY: install run test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch==2.13.0 is the CPU build; the pin keeps pip from pulling a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@if [ -z "$$SWX_GIM_LOCAL_DIR" ] && [ -d "$(SWX_SHARED_DATA)/ionex" ]; then \
	  export SWX_GIM_LOCAL_DIR="$(SWX_SHARED_DATA)/ionex"; fi; \
	$(BIN)/swx run

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ionex.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis var
