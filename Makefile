# Two commands on a fresh machine: `make run` (the main job, embedded default: no network, no server)
# and `make test`. Each builds the virtual environment on first use, from the lock in requirements/
# (pinned and hashed: a fresh clone installs exactly what CI tested). `make lock` / `make upgrade`
# rewrite the lock; nothing else resolves versions.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REQ := requirements
RUN_STAMP := $(VENV)/.run-installed
TEST_STAMP := $(VENV)/.test-installed

# Real data shared beside the repository (tests and the offline demo read it in place, never copy it).
export SWX_SHARED_DATA ?= $(abspath ../shared/data)

# The installer: uv (pinned in requirements/installer.txt; ~4x faster than pip here, see README), or
# plain pip with `make INSTALLER=pip ...` — the same lock, the same hashes.
INSTALLER ?= uv
# torch is installed apart from the lock (CPU build here, CUDA build in the GPU image): it comes from
# the machine's pip find-links when set (a local wheel folder), otherwise PyTorch's CPU index page.
TORCH_LINKS ?= $(or $(PIP_FIND_LINKS),https://download.pytorch.org/whl/cpu/torch/)
# NeQuick-G for the simulated source, also apart: its declared numpy<2 pin would downgrade numpy (and
# break pandas 3), so it is installed without its dependencies (it runs with numpy 2).
NEQUICK := nequick==1.0.0

ifeq ($(INSTALLER),pip)
INSTALL := $(BIN)/python -m pip install --quiet --no-deps
INSTALLER_READY := $(BIN)/python
else ifeq ($(INSTALLER),uv)
INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --compile-bytecode
INSTALLER_READY := $(BIN)/uv
else
$(error INSTALLER must be uv or pip, not '$(INSTALLER)')
endif

.PHONY: install run test bench lint clean dashboard lock upgrade audit

# The venv, and the installer itself (uv from PyPI, hash-checked by pip).
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: $(REQ)/installer.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(REQ)/installer.txt
	touch $@

# Run time: the locked run-time closure, torch, NeQuick-G, then swx itself (editable, no resolution).
$(RUN_STAMP): $(INSTALLER_READY) $(REQ)/run.txt $(REQ)/torch.txt $(REQ)/nequick.txt pyproject.toml
	$(INSTALL) --require-hashes -r $(REQ)/run.txt
	$(INSTALL) $(foreach l,$(TORCH_LINKS),--find-links $(l)) -r $(REQ)/torch.txt
	$(INSTALL) --require-hashes -r $(REQ)/nequick.txt
	$(INSTALL) --no-build-isolation -e .
	$(BIN)/python -c "import nequick, numpy, torch; assert int(numpy.__version__.split('.')[0]) >= 2"
	touch $@

# Tests: the test lock on top (the same pins for everything the two share).
$(TEST_STAMP): $(RUN_STAMP) $(REQ)/test.txt
	$(INSTALL) --require-hashes -r $(REQ)/test.txt
	touch $@

install: $(TEST_STAMP)

# Rewrite the lock from pyproject.toml. `make lock` keeps every pin that still fits (after adding or
# changing a dependency); `make upgrade` moves everything to the newest releases. Then `make test`.
# Universal (markers for other platforms and Pythons); hashes for every file of each pinned release.
# torch is resolved as the CPU build so the lock holds its dependencies but no CUDA libraries.
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock"
lock upgrade: $(BIN)/uv
	$(UV_COMPILE) $(if $(filter upgrade,$@),--upgrade) pyproject.toml --extra test \
		$(foreach l,$(TORCH_LINKS),--find-links $(l)) --override $(REQ)/torch.txt --no-emit-package torch \
		-o $(REQ)/test.txt
	$(UV_COMPILE) $(if $(filter upgrade,$@),--upgrade) pyproject.toml -c $(REQ)/test.txt \
		$(foreach l,$(TORCH_LINKS),--find-links $(l)) --override $(REQ)/torch.txt --no-emit-package torch \
		-o $(REQ)/run.txt
	echo '$(NEQUICK)' | $(UV_COMPILE) --no-deps - -o $(REQ)/nequick.txt
	echo 'uv' | $(UV_COMPILE) $(if $(filter upgrade,$@),--upgrade) - -o $(REQ)/installer.txt

# Prefect: a temporary local server, its state under var/, no analytics (no network).
export PREFECT_HOME ?= $(abspath var/prefect)
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120
# swx's own log lines go to the Prefect run logs too.
export PREFECT_LOGGING_EXTRA_LOGGERS ?= swx

run: $(RUN_STAMP)
	mkdir -p "$(PREFECT_HOME)"
	$(BIN)/python -m flows.main

# The ops dashboard on http://localhost:8501 (reads the database of the settings; no network needed;
# the developer menu hidden: operators see the viewer toolbar).
dashboard: $(RUN_STAMP)
	$(BIN)/streamlit run dashboards/app.py --browser.gatherUsageStats false --client.toolbarMode viewer

# The suite over the CPUs this process may use (`nproc`: affinity and container limits; pytest-xdist's own
# `auto` counts the host's physical cores), at most 4 workers: each heavy test starts servers and
# subprocesses of its own. One CPU, or `make TEST_WORKERS=0 test`: one process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n < 2 ? 0 : n < 4 ? n : 4 )))
test: $(TEST_STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# The architecture contracts of pyproject.toml (also run by the test suite: tests/test_architecture.py).
lint: $(TEST_STAMP)
	$(BIN)/lint-imports

# pip-audit over the locked dependencies (network: PyPI's or OSV's vulnerability service); .ci/run runs it.
audit:
	bash .ci/audit

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/bench_ionex.py
	$(BIN)/python benchmarks/bench_simulate.py

clean:
	rm -rf $(VENV) .venv-audit .pytest_cache .hypothesis var
