"""The import-direction check (.ci/check_imports.py, run by `make lint`) passes on the repository
and catches each kind of violation it exists for."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checker():
    spec = importlib.util.spec_from_file_location("check_imports", REPO / ".ci" / "check_imports.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_repository_keeps_the_flow(checker):
    assert checker.check_repo() == []


@pytest.fixture
def fake_repo(tmp_path):
    """A minimal tree with the real pyproject.toml and one package per layer."""
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    for pkg in ("sensors", "models", "server", "dashboard"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    return tmp_path


@pytest.mark.parametrize(("rel", "code", "expected"), [
    ("models/bad.py", "from ..server.web import app\n", "models/ imports server/"),
    ("models/bad.py", "def f():\n    from coregulate.server.session import runner\n", "models/ imports server/"),
    ("models/bad.py", "import sqlite3\n", "models/ imports sqlite3"),
    ("models/bad.py", "from time import monotonic\n", "models/ imports time"),
    ("models/bad.py", "def f(p):\n    return open(p).read()\n", "models/ calls open()"),
    ("models/bad.py", "from datetime import datetime\nt = datetime.now()\n", "reads the clock (datetime.now())"),
    ("sensors/bad.py", "from ..models.hrv import HrvEstimator\n", "sensors/ imports models/"),
    ("sensors/sub/bad.py", "from ...server import version\n", "sensors/ imports server/"),
])
def test_each_violation_is_named_with_its_line(checker, fake_repo, rel, code, expected):
    path = fake_repo / rel
    path.parent.mkdir(exist_ok=True)
    path.write_text(code)
    problems = checker.check_file(path, fake_repo)
    assert len(problems) == 1 and problems[0].startswith(f"{rel}:") and expected in problems[0], problems


def test_clean_estimator_code_passes(checker, fake_repo):
    path = fake_repo / "models" / "good.py"
    path.write_text("import math\n\nimport numpy as np\n\nfrom ..sensors.chunk import Chunk\n")
    assert checker.check_file(path, fake_repo) == []


def test_a_package_missing_from_pyproject_is_named(checker, fake_repo):
    (fake_repo / "server" / "newjob").mkdir()
    (fake_repo / "server" / "newjob" / "__init__.py").write_text("")
    assert any("coregulate.server.newjob" in p for p in checker.check_packages(fake_repo))


def test_a_server_module_over_the_size_limit_is_named(checker, fake_repo):
    long = fake_repo / "server" / "long.py"
    long.write_text("x = 1\n" * (checker.MAX_SERVER_LINES + 1))
    (fake_repo / "server" / "short.py").write_text("x = 1\n" * checker.MAX_SERVER_LINES)
    assert checker.check_sizes(fake_repo) == [f"server/long.py: {checker.MAX_SERVER_LINES + 1} lines "
                                              f"(at most {checker.MAX_SERVER_LINES}: split it by job)"]
