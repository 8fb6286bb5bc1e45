"""The lock file pins every dependency with hashes, so a deployment installs exactly what was
tested (``pip install --require-hashes -r requirements.lock``)."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"


def _pins() -> dict[str, tuple[str, list[str]]]:
    """``name -> (version, [sha256 hashes])`` for every requirement in the lock file."""
    pins: dict[str, tuple[str, list[str]]] = {}
    entry = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")
    current = None
    for line in LOCK.read_text().splitlines():
        m = entry.match(line)
        if m:
            current = canonicalize_name(m.group(1))
            assert current not in pins, f"{current} pinned twice"
            pins[current] = (m.group(2), [])
        elif current and (h := re.search(r"--hash=sha256:([0-9a-f]{64})\b", line)):
            pins[current][1].append(h.group(1))
        elif line and not line.startswith((" ", "#")):
            pytest.fail(f"unexpected line in {LOCK.name}: {line!r} (only name==version with hashes)")
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return [Requirement(r) for r in reqs]


def test_every_declared_dependency_is_pinned_with_hashes():
    pins = _pins()
    for req in _declared():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in {LOCK.name}; re-run pip-compile"
        version, hashes = pins[name]
        assert req.specifier.contains(version, prereleases=True), f"{name}=={version} does not satisfy {req}"
        assert hashes, f"{name} has no --hash in {LOCK.name}"
        if "distributed" in req.extras:  # dask[distributed] pulls in the distributed package
            assert "distributed" in pins


def test_every_pin_has_hashes_and_the_lock_is_not_empty():
    pins = _pins()
    assert len(pins) >= len(_declared())
    assert all(h for _, h in pins.values()), [n for n, (_, h) in pins.items() if not h]


def test_this_environment_runs_the_locked_versions():
    """The tests prove something about a deployment only if they ran on the locked versions."""
    pins = _pins()
    drift = []
    for req in _declared():
        name = canonicalize_name(req.name)
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            continue  # an optional tool that is not installed here
        if installed != pins[name][0]:
            drift.append(f"{name}: installed {installed}, locked {pins[name][0]}")
    assert not drift, "re-lock or reinstall from the lock: " + "; ".join(drift)
