"""The parallel run's scheduler (tests/parallel_scheduling.py): a small suite run with ``-n 2
--dist loadgroup`` in a subprocess, each test logging which worker ran it, in order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("xdist")

from parallel_scheduling import costs_from_cputime, unit_costs  # noqa: E402

TESTS = Path(__file__).resolve().parent

LOGGING_TEST = textwrap.dedent("""
    import os, pytest

    def _log(request):
        with open(os.environ["RUN_LOG"], "a") as fh:
            fh.write(f"{os.environ['PYTEST_XDIST_WORKER']} {request.node.nodeid}\\n")
""")


def _module(marks: list[str | None]) -> str:
    body = [LOGGING_TEST]
    for i, mark in enumerate(marks):
        deco = {None: "", "lsl": "@pytest.mark.lsl\n", "cam": '@pytest.mark.xdist_group("cam")\n'}[mark]
        body.append(f"{deco}def test_{i}(request):\n    _log(request)\n")
    return "\n".join(body)


def _run(tmp_path: Path, modules: dict[str, list[str | None]], costs: dict[str, float] | None = None) -> dict[str, list[str]]:
    for name, marks in modules.items():
        (tmp_path / f"{name}.py").write_text(_module(marks))
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    lsl: LSL\n")
    # two tests under one node id, as schemathesis makes them (one per API operation)
    (tmp_path / "conftest.py").write_text("def pytest_collection_modifyitems(items):\n"
                                          "    items.append(next(i for i in items if i.name == 'test_0' and 'test_b' in i.nodeid))\n")
    log = tmp_path / "run.log"
    # only xdist and the plugin under test: the venv's other plugins (schemathesis, ...) cost seconds per worker
    costs_file = tmp_path / "costs.json"  # none given: a missing file, so collection order decides
    if costs is not None:
        costs_file.write_text(json.dumps(costs))
    env = {**os.environ, "RUN_LOG": str(log), "PYTHONPATH": str(TESTS), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
           "COREGULATE_TEST_COSTS": str(costs_file)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "xdist", "-p", "parallel_scheduling", "-n", "2", "--dist",
                           "loadgroup", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    by_worker: dict[str, list[str]] = {}
    for line in log.read_text().splitlines():
        worker, nodeid = line.split(" ", 1)
        by_worker.setdefault(worker, []).append(nodeid)
    return by_worker


def test_a_group_runs_on_one_worker_in_one_stretch_and_modules_stay_whole(tmp_path):
    # the lsl tests are spread over the first and the last modules, between unmarked ones
    modules = {"test_a": ["lsl", None, "lsl"], "test_b": [None] * 4, "test_c": [None, "cam"], "test_d": [None] * 4,
               "test_e": ["cam", None], "test_f": [None, "lsl"]}
    by_worker = _run(tmp_path, modules)
    assert set(by_worker) == {"gw0", "gw1"}, by_worker  # both workers had work
    expected = [f"{m}.py::test_{i}" for m, marks in modules.items() for i in range(len(marks))] + ["test_b.py::test_0"]
    assert sorted(sum(by_worker.values(), [])) == sorted(expected)  # every test ran, the repeated id twice

    def marked(mark):
        return [f"{m}.py::test_{i}" for m, marks in modules.items() for i, x in enumerate(marks) if x == mark]

    for mark in ("lsl", "cam"):
        ran_on = [w for w, ids in by_worker.items() if any(i in ids for i in marked(mark))]
        assert len(ran_on) == 1, (mark, by_worker)
        sequence = by_worker[ran_on[0]]
        where = sorted(sequence.index(i) for i in marked(mark))
        # one unit: the group's tests back to back, in collection order, nothing else in between
        assert where == list(range(where[0], where[0] + len(where))), (mark, sequence)
        assert [sequence[i] for i in where] == marked(mark)
    # an unmarked test goes with the rest of its module's unmarked tests
    for m, marks in modules.items():
        plain = [f"{m}.py::test_{i}" for i, x in enumerate(marks) if x is None]
        assert len({w for w, ids in by_worker.items() if any(i in ids for i in plain)}) == 1, (m, by_worker)


def test_the_longest_units_are_handed_out_first(tmp_path):
    # collection order would start the two workers on test_a and test_b
    modules = {"test_a": [None] * 2, "test_b": [None] * 2, "test_c": [None] * 2, "test_d": [None] * 2}
    by_worker = _run(tmp_path, modules, costs={"test_a.py": 1.0, "test_b.py": 2.0, "test_c.py": 30.0, "test_d.py": 20.0})
    firsts = sorted(ids[0].split(".py")[0] for ids in by_worker.values())
    assert firsts == ["test_c", "test_d"], by_worker
    ran = sorted(sum(by_worker.values(), []))
    assert ran == sorted([f"{m}.py::test_{i}" for m in modules for i in range(2)] + ["test_b.py::test_0"])


def test_unit_costs_share_a_modules_seconds_among_its_tests():
    units = {"tests/a.py": ["tests/a.py::t1", "tests/a.py::t2"], "group:lsl": ["tests/a.py::t3", "tests/b.py::t1"],
             "tests/c.py": ["tests/c.py::t1"]}
    cost = unit_costs(units, {"tests/a.py": 30.0, "tests/b.py": 4.0})
    # a's 30 s over its 3 tests; b measured; c not measured: the mean measured test, 34 s / 4 tests
    assert cost == pytest.approx({"tests/a.py": 20.0, "group:lsl": 14.0, "tests/c.py": 8.5})
    assert unit_costs(units, {}) == {"tests/a.py": 2.0, "group:lsl": 2.0, "tests/c.py": 1.0}


def test_costs_are_read_from_the_cputime_plugins_files(tmp_path):
    (tmp_path / "x.gw0").write_text("# total cpu 9.0 s, wall 20.0 s, tests 2\n"
                                    "    3.00     7.50 tests/a.py::t1[x y]\n    1.00     2.00 tests/b.py::t\n")
    (tmp_path / "x.gw1").write_text("    0.50     1.25 tests/a.py::t2\n")
    assert costs_from_cputime([tmp_path / "x.gw0", tmp_path / "x.gw1"]) == {"tests/a.py": 8.8, "tests/b.py": 2.0}
