"""Per-test CPU seconds, for finding what makes the suite slow on a shared machine.

Wall-clock durations (``pytest --durations``) swing with whatever else the machine runs; CPU
seconds of the test process and of the children it waited for (subprocess CLI runs, servers)
swing far less. A pytest plugin: ::

    PYTHONPATH=bench CPUTIME_OUT=/tmp/server.cpu .venv/bin/python -m pytest -q -p no:cacheprovider \
        -p pytest_cputime tests/server

writes ``/tmp/server.cpu`` (total CPU and wall, then one line per test: CPU s, wall s, node id,
slowest first) at the end, and ``/tmp/server.cpu.live`` as the tests finish (a run cut short
still tells). Module- and session-scoped fixtures count for the first test that uses them.
CPU of a worker process that is not waited for (an uvicorn server thread is counted, a killed
subprocess is not) is missed. In a parallel run (``-n 2``) each xdist worker writes its own files,
``CPUTIME_OUT`` suffixed with the worker's name (``/tmp/server.cpu.gw0``, ...); the controller's
own file then has the run's wall time and no tests.
"""

from __future__ import annotations

import os
import resource
import time

import pytest

_rows: list[tuple[float, float, str]] = []
_start: tuple[float, float] = (0.0, 0.0)


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _out() -> str | None:
    out = os.environ.get("CPUTIME_OUT")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"{out}.{worker}" if out and worker else out


def pytest_sessionstart(session) -> None:
    global _start
    _start = (_cpu_s(), time.monotonic())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    cpu0, wall0 = _cpu_s(), time.monotonic()
    yield
    _rows.append((_cpu_s() - cpu0, time.monotonic() - wall0, item.nodeid))
    out = _out()
    if out:
        with open(out + ".live", "a") as fh:
            fh.write(f"{_rows[-1][0]:8.2f} {_rows[-1][1]:8.2f} {item.nodeid}\n")


def pytest_sessionfinish(session) -> None:
    out = _out()
    if not out:
        return
    with open(out, "w") as fh:
        fh.write(f"# total cpu {_cpu_s() - _start[0]:.1f} s, wall {time.monotonic() - _start[1]:.1f} s, "
                 f"tests {len(_rows)}\n")
        for cpu, wall, nodeid in sorted(_rows, reverse=True):
            fh.write(f"{cpu:8.2f} {wall:8.2f} {nodeid}\n")
