"""The architecture contracts of pyproject.toml ([tool.importlinter]) hold, a broken import is caught, the
list of known exceptions only shrinks, and the CLI starts without the heavy libraries."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")
#: imports a contract lets through: none (a new one needs a reason and this raised, in review)
MAX_IGNORED_IMPORTS = 0


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def contracts() -> list[dict]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_the_contracts_hold(contracts):
    r = _lint(REPO)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in r.stdout


def test_no_contract_lets_an_import_through(contracts):
    ignored = [i for c in contracts for i in c.get("ignore_imports", [])]
    assert len(ignored) <= MAX_IGNORED_IMPORTS, ignored
    assert {c["id"] for c in contracts} >= {"package-below-entry-points", "no-orchestrator-in-package", "no-cycles",
                                           "layers", "sql-in-store", "entry-points-call-pipeline",
                                           "dashboards-read-queries"}


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("src/swx/errors.py", "import flows.tasks  # noqa", "the swx package never imports the flows or the dashboard"),
    ("src/swx/io/atomic.py", "import swx.archive  # noqa", "no import cycles between the package's modules"),
    ("src/swx/science/grid.py", "import swx.pipeline.forecast  # noqa", "swx in layers: each imports only the layers below its own"),
    ("src/swx/science/dtec.py", "from sqlalchemy import text  # noqa", "SQL only in swx.store"),
    ("flows/tasks.py", "import swx.ml.registry  # noqa", "the flows and the CLI call swx.pipeline, not the rooms below it"),
    ("src/swx/cli/app.py", "import swx.store.queries  # noqa", "the flows and the CLI call swx.pipeline, not the rooms below it"),
    ("dashboards/common.py", "import swx.pipeline.forecast  # noqa", "the dashboard reads swx through swx.store.queries only"),
])
def test_a_broken_import_is_caught(tmp_path, module, line, contract):
    for part in ("src", "flows", "dashboards"):
        shutil.copytree(REPO / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}\n")
    r = _lint(tmp_path)
    assert r.returncode != 0
    assert f"{contract}" in r.stdout and "BROKEN" in r.stdout.split(contract, 1)[1].splitlines()[0]


def test_the_cli_starts_without_torch_prefect_or_matplotlib():
    code = "import sys, swx.cli; print(sorted(m for m in ('torch', 'prefect', 'matplotlib', 'streamlit') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_user_docs_hold_no_development_history():
    """README and docs/ are written for users and operators: no issue numbers, sessions or commit ids
    (the history is CHANGELOG.md's)."""
    import re

    root = Path(__file__).resolve().parents[1]
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md")), *sorted(root.glob("*/README.md"))]
    rules = {"an issue number": re.compile(r"\bissues? \d+\b", re.IGNORECASE),
             "a session": re.compile(r"\b(this|earlier|last|next) session\b|\bsession.s device", re.IGNORECASE),
             "a commit id": re.compile(r"\(\d{4}-\d\d-\d\d, [0-9a-f]{7,}\)|\bcommit [0-9a-f]{7,}\b")}
    found = [f"{page.relative_to(root)}:{n}: {what}" for page in pages
             for n, line in enumerate(page.read_text().splitlines(), start=1)
             for what, rule in rules.items() if rule.search(line)]
    assert not found, found
