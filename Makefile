# Two commands on a fresh machine: `make run` (the main job, embedded default: no network, no server)
# and `make test`. Each creates the virtual environment on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Real data shared beside the repository (tests and the offline demo read it in place, never copy it).
export SWX_SHARED_DATA ?= $(abspath ../shared/data)

.PHONY: install run test bench lint clean dashboard

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch==2.13.0 is the CPU build; the pin keeps pip from pulling a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# NeQuick-G for the simulated source: its declared numpy<2 pin would downgrade numpy (and break
	# pandas 3), so it is built against the numpy 2 already here, without its dependencies.
	$(BIN)/python -m pip install --quiet 'setuptools>=74' setuptools-scm
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation 'nequick==1.0.0'
	$(BIN)/python -c "import nequick, numpy; assert int(numpy.__version__.split('.')[0]) >= 2"
	touch $(STAMP)

install: $(STAMP)

# Prefect: a temporary local server, its state under var/, no analytics (no network).
export PREFECT_HOME ?= $(abspath var/prefect)
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120
# swx's own log lines go to the Prefect run logs too.
export PREFECT_LOGGING_EXTRA_LOGGERS ?= swx

run: $(STAMP)
	mkdir -p "$(PREFECT_HOME)"
	$(BIN)/python -m flows.main

# The ops dashboard on http://localhost:8501 (reads the database of the settings; no network needed).
dashboard: $(STAMP)
	$(BIN)/streamlit run dashboards/app.py --browser.gatherUsageStats false

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ionex.py
	$(BIN)/python benchmarks/bench_simulate.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis var
