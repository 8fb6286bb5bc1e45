"""Parallel runs (pytest-xdist ``-n``) that keep tests sharing a resource in one process, in order.

``make test`` runs ``pytest -n auto --dist loadgroup``. xdist's own ``loadgroup`` is silent with
pytest 9.2: it carries the group in the test's node id (``test_x.py::t@group``), and pytest 9.2
builds node ids afresh from the item's structured id, so the suffix is lost and grouped tests are
spread over the workers as if unmarked (pytest-xdist issue #1386, open). This plugin replaces that
scheduler for ``--dist loadgroup``; the groups travel from the workers to the controller on a side
channel instead of inside the node ids:

* each worker, after collecting, writes ``{node id: group}`` for its grouped tests into a folder the
  controller gave it (every worker collects the same tests; xdist checks that);
* the controller's scheduler reads those maps once all workers have collected, and hands out work
  in units: **all the tests of one group** form one unit, in collection order, on one worker;
  **every other test goes with its module**, so module- and session-scoped fixtures are built
  once per module as in a serial run, and a module's tests keep their order;
* units are handed out **longest first** (longest-processing-time scheduling), so that the last
  worker does not finish alone with a long module: a unit's length is estimated from
  ``tests/scheduling_costs.json`` (seconds per test module in an earlier parallel run, each
  module's seconds shared equally among its tests; a module not in the file costs the mean
  measured test). Refresh it after a parallel run with the CPU-time plugin
  (``bench/pytest_cputime.py``, ``CPUTIME_OUT=/tmp/st.cpu``):
  ``python tests/parallel_scheduling.py /tmp/st.cpu.gw* > tests/scheduling_costs.json``.
  A stale file only costs time, never a test.

A test's group is the name of its ``xdist_group`` mark, or ``lsl`` for tests marked ``lsl``: LSL
streams are resolved by type over loopback, so two workers' outlets would answer each other's
inlets. Without ``-n`` (``make test-serial``, or ``-p no:xdist``) nothing here runs.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pytest

# Marks that put a test into a group of the same name, besides xdist's own ``xdist_group(name)``.
RESOURCE_MARKS = ("lsl",)
_MAP_DIR = "coregulate_group_maps"
_REPEAT = "\x00repeat "  # never in a node id: marks the n-th test of a node id shared by several
# seconds per test module, measured; ``COREGULATE_TEST_COSTS`` names another file (the scheduler's own test)
COSTS_FILE = Path(__file__).with_name("scheduling_costs.json")


def group_of(item: pytest.Item) -> str | None:
    """The group a collected test belongs to, or None when it goes with its module."""
    names = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
    names.update(mark for mark in RESOURCE_MARKS if item.get_closest_marker(mark) is not None)
    # a test in two groups joins both: their tests then form one unit
    return "+".join(sorted(names)) or None


def module_of(nodeid: str) -> str:
    """The test file of a node id (``tests/a/test_b.py::test_c[1]`` -> ``tests/a/test_b.py``)."""
    return nodeid.split("::", 1)[0]


def load_costs() -> dict[str, float]:
    """Measured seconds per test module (``{module: seconds}``); empty when the file is missing or unreadable."""
    path = Path(os.environ.get("COREGULATE_TEST_COSTS", COSTS_FILE))
    try:
        costs = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in costs.items()} if isinstance(costs, dict) else {}


def unit_costs(units: dict[str, Iterable[str]], module_costs: dict[str, float]) -> dict[str, float]:
    """Estimated seconds of each unit of work (``{unit: node ids}``).

    A test costs its module's measured seconds divided by the number of the module's tests in
    this run; a test of a module without a measurement costs the mean of the measured tests (1 s
    when nothing is measured).
    """
    per_module: dict[str, int] = {}
    for nodeids in units.values():
        for nodeid in nodeids:
            per_module[module_of(nodeid)] = per_module.get(module_of(nodeid), 0) + 1
    measured = {m: n for m, n in per_module.items() if m in module_costs}
    n_measured = sum(measured.values())
    default = sum(module_costs[m] for m in measured) / n_measured if n_measured else 1.0
    per_test = {m: module_costs[m] / n if m in measured else default for m, n in per_module.items()}
    return {unit: sum(per_test[module_of(i)] for i in nodeids) for unit, nodeids in units.items()}


def costs_from_cputime(paths: Iterable[str]) -> dict[str, float]:
    """Wall seconds per test module from ``bench/pytest_cputime.py`` output files (one per worker)."""
    costs: dict[str, float] = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            _cpu, wall, nodeid = line.split(None, 2)
            module = module_of(nodeid)
            costs[module] = costs.get(module, 0.0) + float(wall)
    return {m: round(s, 1) for m, s in sorted(costs.items(), key=lambda kv: -kv[1])}


def _uses_our_scheduler(config: pytest.Config) -> bool:
    return config.pluginmanager.hasplugin("xdist") and config.getoption("dist", None) == "loadgroup"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """Controller: tell each worker where to write its group map."""
    if _uses_our_scheduler(node.config):
        node.workerinput[_MAP_DIR] = node.config.stash[_map_dir_key]


_map_dir_key = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    if _uses_our_scheduler(config) and not hasattr(config, "workerinput") and config.getoption("numprocesses", None):
        config.stash[_map_dir_key] = tempfile.mkdtemp(prefix="pytest-group-maps-")


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_map_dir_key, None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Worker: write this worker's ``{node id: group}`` before xdist reports the collection."""
    folder = getattr(config, "workerinput", {}).get(_MAP_DIR)
    if not folder:
        return
    groups = {item.nodeid: g for item in items if (g := group_of(item))}
    path = Path(folder) / f"{config.workerinput['workerid']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(groups))
    os.replace(tmp, path)  # the controller never reads half a file


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Controller: our group-aware scheduler for ``--dist loadgroup``; xdist's for the others."""
    if not _uses_our_scheduler(config):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupOrModuleScheduling(LoadScopeScheduling):
        """xdist's scope scheduler whose scope is a test's group, else its module."""

        def __init__(self, config, log=None):
            super().__init__(config, log)
            self.groups: dict[str, str] = {}
            self.longest_first = False

        def add_node_collection(self, node, collection) -> None:
            # xdist's scope schedulers key tests by node id, so tests sharing one (schemathesis
            # yields one test per API operation under a single id) would run once: number the
            # repeats so that each stays its own test
            seen: dict[str, int] = {}
            unique = []
            for nodeid in collection:
                seen[nodeid] = seen.get(nodeid, 0) + 1
                unique.append(nodeid if seen[nodeid] == 1 else f"{nodeid}{_REPEAT}{seen[nodeid]}")
            super().add_node_collection(node, unique)

        def schedule(self) -> None:
            if self.collection is None:  # first call: every worker has collected and written its map
                for path in Path(config.stash[_map_dir_key]).glob("*.json"):
                    self.groups.update(json.loads(path.read_text()))
            super().schedule()

        def _assign_work_unit(self, node) -> None:
            if not self.longest_first:  # once, when the first unit is handed out: longest first
                cost = unit_costs({u: [i.split(_REPEAT, 1)[0] for i in ids] for u, ids in self.workqueue.items()},
                                  load_costs())
                ordered = sorted(self.workqueue.items(), key=lambda unit: -cost[unit[0]])  # stable: ties keep order
                self.workqueue.clear()
                self.workqueue.update(ordered)
                self.longest_first = True
            super()._assign_work_unit(node)

        def _split_scope(self, nodeid: str) -> str:
            nodeid = nodeid.split(_REPEAT, 1)[0]
            group = self.groups.get(nodeid)
            return f"group:{group}" if group else module_of(nodeid)

    return GroupOrModuleScheduling(config, log)


if __name__ == "__main__":
    # python tests/parallel_scheduling.py /tmp/st.cpu.gw0 /tmp/st.cpu.gw1 > tests/scheduling_costs.json
    print(json.dumps(costs_from_cputime(sys.argv[1:]), indent=1))
