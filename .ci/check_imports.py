#!/usr/bin/env python3
"""The flow ``sensors -> models -> server -> dashboard`` as a check (run by ``make lint``).

* ``models/`` never imports ``server/``, and does no I/O and reads no clock: no ``open()``, no
  file, socket, process or clock module (``sqlite3``, ``socket``, ``time``, ...), no
  ``datetime.now()``. Estimators are deterministic functions of their input.
* ``sensors/`` never imports ``models/`` or ``server/`` -- except the documented exception below.
* Every package folder under ``sensors/``, ``models/``, ``server/`` and ``dashboard/`` is listed in
  ``pyproject.toml`` (a package missing there is left out of an installed copy).
* No module in ``server/`` is longer than :data:`MAX_SERVER_LINES` lines: a longer one holds more
  than one job and is split by job (issue #18).

Imports inside functions count as much as those at the top. Prints one line per violation,
``path:line: what``, and exits 1 if there is any.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYERS = ("sensors", "models", "server", "dashboard")
#: Which top-level packages each layer may not import.
FORBIDDEN_LAYERS = {"models": {"server", "dashboard"}, "sensors": {"models", "server", "dashboard"}}
#: Modules that would give an estimator I/O or a clock.
FORBIDDEN_IN_MODELS = {"sqlite3", "socket", "subprocess", "shutil", "pathlib", "os", "io", "tempfile", "glob",
                       "urllib", "http", "requests", "asyncio", "threading", "time", "logging"}
#: Deliberate exceptions, with their reason. Video frames never become chunks: motion-energy
#: analysis (a pure function in models/) runs where the frames are decoded, and only its output
#: enters the pipeline (README, "How it is built").
ALLOWED = {
    ("sensors/readers/video.py", "coregulate.models.motion_energy"),
    ("sensors/camera.py", "coregulate.models.motion_energy"),
}


def module_of(path: Path, root: Path = REPO) -> str:
    """Dotted name of a repository file as installed (``models/hrv.py`` -> ``coregulate.models.hrv``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["coregulate", *parts])


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            # `from . import x` may name a module: count both the package and the submodules
            out.append((node.lineno, name))
            out += [(node.lineno, f"{name}.{a.name}") for a in node.names if not node.module]
    return out


def io_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """``open(...)`` and ``datetime.now()``-like clock reads."""
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id == "open":
            out.append((node.lineno, "calls open()"))
        elif isinstance(f, ast.Attribute) and f.attr in ("now", "utcnow", "today") and \
                isinstance(f.value, ast.Name) and f.value.id in ("datetime", "date"):
            out.append((node.lineno, f"reads the clock ({f.value.id}.{f.attr}())"))
    return out


def check_file(path: Path, root: Path = REPO) -> list[str]:
    """Violations of one file, as ``path:line: message``."""
    rel = path.relative_to(root).as_posix()
    layer = rel.split("/")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    problems = []
    for line, name in imported_modules(tree, module_of(path, root), path.name == "__init__.py"):
        parts = name.split(".")
        if parts[0] == "coregulate" and len(parts) > 1 and parts[1] in FORBIDDEN_LAYERS.get(layer, ()):
            if (rel, ".".join(parts[:3])) not in ALLOWED:
                problems.append(f"{rel}:{line}: {layer}/ imports {parts[1]}/ ({name})")
        elif layer == "models" and parts[0] in FORBIDDEN_IN_MODELS:
            problems.append(f"{rel}:{line}: models/ imports {parts[0]} (estimators do no I/O and read no clock)")
    if layer == "models":
        problems += [f"{rel}:{line}: models/ {what}" for line, what in io_calls(tree)]
    return problems


def check_packages(root: Path = REPO) -> list[str]:
    """Package folders missing from pyproject.toml's package list."""
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    problems = []
    for layer in LAYERS:
        for init in sorted((root / layer).rglob("__init__.py")):
            if "node_modules" in init.parts:
                continue
            name = ".".join(["coregulate", *init.parent.relative_to(root).parts])
            if name not in listed:
                problems.append(f"pyproject.toml: package {name} ({init.parent.relative_to(root)}/) is not listed")
    return problems


#: Longest module allowed in ``server/``.
MAX_SERVER_LINES = 350


def check_sizes(root: Path = REPO) -> list[str]:
    """Modules in ``server/`` longer than :data:`MAX_SERVER_LINES`."""
    problems = []
    for path in sorted((root / "server").rglob("*.py")):
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_SERVER_LINES:
            problems.append(f"{path.relative_to(root)}: {n} lines (at most {MAX_SERVER_LINES}: split it by job)")
    return problems


def check_repo(root: Path = REPO) -> list[str]:
    """Every violation in the repository."""
    problems = []
    for layer in ("sensors", "models"):
        for path in sorted((root / layer).rglob("*.py")):
            problems += check_file(path, root)
    return problems + check_packages(root) + check_sizes(root)


def main() -> int:
    """Print every violation; exit status 1 if there is any."""
    problems = check_repo()
    for p in problems:
        print(p)
    if not problems:
        print("import directions, package list and server module sizes: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
