"""The server's warm-up: the estimators' imports happen before a session runs, never during one.

A session that met neurokit2's import (3-12 s, mostly holding the GIL) at its first beat block
stalled itself and every other session (issue #15: whole-run p99 lag at the viewer); the server
now starts the imports when it starts and runs a session only once they are done.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time

from fastapi.testclient import TestClient

from server_fakes import FakeRunner, fake_backends
from server_helpers import SUP, auth


class WarmUp:
    """A warm-up whose end the test decides; counts the calls."""

    def __init__(self) -> None:
        self.future: concurrent.futures.Future = concurrent.futures.Future()
        self.calls = 0

    def __call__(self) -> concurrent.futures.Future:
        self.calls += 1
        return self.future


def _backends_with(warm_up: WarmUp, built: list[float]):
    class TimedRunner(FakeRunner):
        def __init__(self, *a, **k):
            built.append(time.monotonic())
            super().__init__(*a, **k)

    b = fake_backends()
    b.runner_cls, b.warm_up = TimedRunner, warm_up
    return b


def _start(c, duration_s=3):
    r = c.post("/api/sessions", headers=auth(SUP), json={"source": {"kind": "simulator", "duration_s": duration_s},
                                                          "speed": "max", "label": "t"})
    assert r.status_code == 201, r.text
    return r.json()


def test_the_warm_up_starts_with_the_server_and_a_session_runs_only_after_it(make_app):
    warm_up, built = WarmUp(), []
    with TestClient(make_app(backends=_backends_with(warm_up, built))) as c:
        assert warm_up.calls == 1  # started by the server's start-up, before any request
        done_at: list[float] = []

        def finish() -> None:
            time.sleep(0.3)
            done_at.append(time.monotonic())
            warm_up.future.set_result(None)

        threading.Thread(target=finish).start()
        s = _start(c)  # the start request waits for the warm-up
        assert s["status"] in ("running", "complete")
        assert len(built) == 1 and built[0] >= done_at[0]
        _start(c)  # later sessions: the finished warm-up's future is done
        assert len(built) == 2


def test_a_failed_warm_up_does_not_stop_sessions(make_app):
    warm_up, built = WarmUp(), []
    warm_up.future.set_exception(ImportError("no neurokit2 here"))
    with TestClient(make_app(backends=_backends_with(warm_up, built))) as c:
        s = _start(c)
        assert s["status"] in ("running", "complete") and len(built) == 1


def test_backends_without_a_warm_up_start_at_once(make_app):
    built: list[float] = []
    b = _backends_with(WarmUp(), built)  # its future never ends: it must not be waited for
    b.warm_up = None
    with TestClient(make_app(backends=b)) as c:
        assert _start(c)["status"] in ("running", "complete") and len(built) == 1
