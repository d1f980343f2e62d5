"""The lock in requirements/ is what every install uses (`make run`, `make test`, .ci/run, the image).

These checks say that the lock is consistent with pyproject.toml and complete, and that the environment
the tests run in is exactly the lock — never that the lock equals what the package index serves today
(updating it is a deliberate `make lock` / `make upgrade`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
REQ = REPO / "requirements"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
APART = {"torch", "nequick"}  # installed apart from the lock (requirements/torch.txt, nequick.txt)


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: Marker | None
    hashes: tuple[str, ...]

    def applies(self, env: dict[str, str] | None = None) -> bool:
        return self.marker is None or self.marker.evaluate(env or default_environment())


def read_lock(path: Path) -> list[Pin]:
    """The pins of a requirements file written by `uv pip compile --generate-hashes` (or by hand)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    pins = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        hashes = tuple(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
        spec = re.sub(r"--hash=\S+", "", line).strip()
        req = Requirement(spec)
        (specifier,) = req.specifier  # exactly one `==` pin per line
        assert specifier.operator == "==" and "*" not in specifier.version, f"{path.name}:{number}: {spec}"
        pins.append(Pin(canonicalize_name(req.name), specifier.version, req.marker, hashes))
    return pins


def pins_here(path: Path) -> dict[str, Pin]:
    """{name: pin} for the pins whose markers hold on this machine (one per name)."""
    here = [p for p in read_lock(path) if p.applies()]
    names = [p.name for p in here]
    assert len(names) == len(set(names)), f"{path.name}: two pins for one package here"
    return {p.name: p for p in here}


def declared(extra: str | None = None) -> list[Requirement]:
    """The dependencies pyproject.toml declares (with `extra`: that extra's)."""
    lines = PYPROJECT["project"]["dependencies"] if extra is None else \
        PYPROJECT["project"]["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def closure(root: str, extras: frozenset[str]) -> dict[str, set[str]]:
    """{name: the requirements that reach it} for everything the installed `root[extras]` needs here."""
    env = default_environment()
    reached: dict[str, set[str]] = {}
    todo = [(root, extras, "")]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted, why = todo.pop()
        key = canonicalize_name(name)
        reached.setdefault(key, set()).add(why)
        if (key, wanted) in done or key in APART - {"torch"}:
            continue
        done.add((key, wanted))
        for line in metadata.distribution(name).requires or []:
            req = Requirement(line)
            if req.marker is not None and not any(
                    req.marker.evaluate({**env, "extra": e}) for e in (wanted or {""})):
                continue
            todo.append((req.name, frozenset(req.extras), f"{key}: {req}"))
    return reached


def test_lock_files_pin_every_package_with_hashes():
    for name in ("run.txt", "test.txt", "nequick.txt", "installer.txt"):
        pins = read_lock(REQ / name)
        assert pins, name
        assert all(p.hashes for p in pins), [p.name for p in pins if not p.hashes]
    (torch,) = read_lock(REQ / "torch.txt")
    assert torch.name == "torch" and torch.version.endswith("+cpu")
    assert [p.name for p in read_lock(REQ / "installer.txt")] == ["uv"]
    assert [p.name for p in read_lock(REQ / "nequick.txt")] == ["nequick"]
    locked = {p.name for p in read_lock(REQ / "test.txt")}
    assert not locked & APART and not any(n.startswith(("nvidia-", "triton")) for n in locked), \
        "torch's CUDA libraries are not in the lock (the lock is resolved against the CPU build)"


def test_every_declared_dependency_is_locked_and_satisfies_its_specifier():
    for lock, requirements in (("run.txt", declared()), ("test.txt", declared() + declared("test"))):
        pins = read_lock(REQ / lock)
        for req in requirements:
            name = canonicalize_name(req.name)
            if name == "torch":  # apart: the pinned CPU build must satisfy pyproject's pin
                (torch,) = read_lock(REQ / "torch.txt")
                assert req.specifier.contains(Version(torch.version)), (req, torch.version)
                continue
            mine = [p for p in pins if p.name == name]
            assert mine, f"{req} is declared in pyproject.toml but not locked in requirements/{lock}"
            for pin in mine:
                assert req.specifier.contains(Version(pin.version), prereleases=True), \
                    f"requirements/{lock} pins {pin.name}=={pin.version}, pyproject.toml asks {req}"


def test_run_lock_agrees_with_test_lock():
    run, test = read_lock(REQ / "run.txt"), read_lock(REQ / "test.txt")
    # every run-time pin is the test lock's (version and hashes); the test lock may need it on more
    # platforms (no marker, where the run lock needs it only below some Python, say)
    held = {(p.name, p.version, p.hashes): p.marker for p in test}
    differ = [(p.name, p.version) for p in run if (p.name, p.version, p.hashes) not in held
              or held[(p.name, p.version, p.hashes)] not in (None, p.marker)]
    assert not differ, differ
    tools = {canonicalize_name(r.name) for r in declared("test")}
    extra = {p.name for p in test} - {p.name for p in run}
    # what only the tests have is the test extra and what it pulls in — not run-time packages
    assert tools <= extra and not extra & {canonicalize_name(r.name) for r in declared()}


@pytest.mark.parametrize("lock,extras", [("run.txt", frozenset()), ("test.txt", frozenset({"test"}))])
def test_lock_is_a_complete_closure(lock, extras):
    """Everything swx (with its extras) needs on this machine is locked at a version that fits every
    requirement on it; nothing resolves at install time (installs run with --no-deps)."""
    pins = pins_here(REQ / lock)
    (torch,) = read_lock(REQ / "torch.txt")
    pins["torch"] = torch
    for name, whys in closure("swx", extras).items():
        if name == "swx":
            continue
        assert name in pins, f"{name} is needed ({sorted(whys)}) but not in requirements/{lock}"
        for why in whys - {""}:
            req = Requirement(why.split(": ", 1)[1])
            if why.startswith("nequick:"):
                continue  # nequick's numpy<2 pin is the reason it is installed without dependencies
            assert req.specifier.contains(Version(pins[name].version), prereleases=True), \
                f"requirements/{lock}: {name}=={pins[name].version} does not fit {why}"


def test_environment_is_exactly_the_lock():
    """The tests run in what `make` installed from the lock: same versions, torch and nequick included."""
    wanted = {**pins_here(REQ / "test.txt"), **{p.name: p for p in read_lock(REQ / "torch.txt")},
              **{p.name: p for p in read_lock(REQ / "nequick.txt")}}
    differ = {}
    for name, pin in wanted.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed is None or Version(installed) != Version(pin.version):
            differ[name] = (pin.version, installed)
    assert not differ, f"environment differs from requirements/ (locked, installed): {differ}; run `make install`"


def test_installs_use_the_lock():
    """make, .ci/run and the image install from requirements/ with hashes, and say how to update it."""
    makefile = (REPO / "Makefile").read_text()
    for name in ("installer.txt", "run.txt", "test.txt", "torch.txt", "nequick.txt"):
        assert f"$(REQ)/{name}" in makefile, name
    assert makefile.count("--require-hashes") >= 4
    assert re.search(r"^lock upgrade:", makefile, re.M)
    assert "NEQUICK := nequick==" + read_lock(REQ / "nequick.txt")[0].version in makefile
    dockerfile = (REPO / "infra" / "docker" / "Dockerfile").read_text()
    for name in ("installer.txt", "run.txt", "torch.txt", "nequick.txt"):
        assert f"requirements/{name}" in dockerfile, name
    assert "--require-hashes" in dockerfile and "make lock" in dockerfile
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci and "requirements/" in ci
    readme = (REPO / "README.md").read_text()
    assert "requirements/" in readme and "make lock" in readme and "make upgrade" in readme
