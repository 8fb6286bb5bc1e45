"""Stop signals at the edges of a session, in-process: during start-up, while the event loop
starts, a second one during the drain, and the handlers a command leaves behind.

The signals are real (``os.kill`` of this process) and arrive at a chosen point of the code; a
session that runs for good is never waited for, so a wrong behaviour shows as a wrong status or
exit code, or as a drain that lasts its whole (long) timeout.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.sensors.base import Source
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.server.session import signals
from coregulate.server.cli.main import main
from coregulate.server.session.recorder import Recorder
from coregulate.server.session.store import SessionStore
from coregulate.server.session.runner import SessionRunner

ECG = StreamInfo("client", StreamKind.ECG, 130.0)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _chunk(i: int) -> Chunk:
    return Chunk(ECG, np.full(13, float(i)), t0=i * 0.1)


def _stored(path) -> tuple[str, list[int]]:
    with SessionStore(path) as st:
        return st.status(), [int(c.values[0]) for c in st.chunks("client/ecg")]


def _signal_myself(signum: int) -> None:
    """Deliver ``signum`` now; Python runs its handler at the next bytecode of the main thread."""
    os.kill(os.getpid(), signum)
    for _ in range(500):  # a handler that raises ends this wait
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def pytest_handlers_back():
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    yield
    for sig, handler in before.items():
        signal.signal(sig, handler)


def test_a_command_leaves_the_handlers_as_it_found_them(tmp_path, capsys):
    def mine(signum, frame):  # pragma: no cover - never called
        pass

    for sig in STOP_SIGNALS:
        signal.signal(sig, mine)
    signals.stopped_by_signal, signals.first_signal = True, signal.SIGINT  # left by an earlier call
    code = main(["export", str(tmp_path / "nothing-here"), "--format", "csv", "--out", str(tmp_path / "x")])
    assert code == 66
    assert all(signal.getsignal(sig) is mine for sig in STOP_SIGNALS)
    # each call starts afresh: an earlier call's Ctrl-C does not make this one "interrupted"
    assert signals.stopped_by_signal is False and signals.exit_code_after_server() == 0


@pytest.mark.parametrize("sig, code, said", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 0, "stopped (SIGTERM)")],
                         ids=["sigint", "sigterm"])
def test_a_signal_during_start_up_closes_the_new_session_file(tmp_path, capsys, monkeypatch, sig, code, said):
    """Between creating the session file and running the session (building the pipeline)."""
    build = SessionRunner.__init__

    def interrupted_build(self, *a, **kw):
        _signal_myself(sig)
        build(self, *a, **kw)

    monkeypatch.setattr(SessionRunner, "__init__", interrupted_build)
    assert main(["replay", "--headless", "sim?seed=2&duration=320&audio=0", "--data", str(tmp_path)]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and said in err, err
    (path,) = (tmp_path / "sessions").glob("replay-*.sqlite")
    assert _stored(path) == ("stopped", [])


def test_a_signal_before_any_file_exists_exits_cleanly(tmp_path, capsys, monkeypatch):
    from coregulate.server.session import sources

    build = sources.build_source

    def interrupted_build(*a, **kw):
        _signal_myself(signal.SIGINT)
        return build(*a, **kw)

    monkeypatch.setattr(sources, "build_source", interrupted_build)
    assert main(["replay", "--headless", "sim?seed=2&duration=320&audio=0", "--data", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "interrupted" in err, err
    assert not list(tmp_path.glob("sessions/*.sqlite"))


def test_a_signal_while_the_event_loop_starts_stops_the_session_it_was_meant_for(tmp_path, monkeypatch):
    """The window between ``run_until_signalled`` and the loop's own handlers: the signal is
    kept and handled by the loop as a stop, not raised where nothing would close the file."""
    from asyncio import events

    new_loop = events.new_event_loop

    def loop_after_a_signal():
        _signal_myself(signal.SIGINT)
        return new_loop()

    monkeypatch.setattr(events, "new_event_loop", loop_after_a_signal)

    class _Endless(Source):
        streams = [ECG]

        async def __aiter__(self):
            i = 0
            while True:
                yield _chunk(i)
                i += 1
                await asyncio.sleep(0.01)

    config = PipelineConfig()
    rec = Recorder(tmp_path / "s.sqlite", "s", [ECG], config)
    runner = SessionRunner(_Endless(), rec, config)
    try:
        result, signum = signals.run_until_signalled(runner.stop, runner.run)
    except KeyboardInterrupt:  # caught here: it would end the whole test session
        pytest.fail("the signal was raised before the loop ran, where nothing closes the session")
    assert (result, signum) == ("stopped", signal.SIGINT)
    status, got = _stored(tmp_path / "s.sqlite")
    assert status == "stopped" and got == list(range(len(got)))  # what was handled, in order


class _DrainsForever(Source):
    """Hands over five chunks, then the user presses Ctrl-C; asked to stop, it starts draining
    but never ends (a device that keeps the link busy), and the user presses Ctrl-C again."""

    streams = [ECG]

    def __init__(self):
        self.stop_requested = False

    def request_stop(self) -> bool:
        self.stop_requested = True
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGINT)
        return True

    async def __aiter__(self):
        for i in range(5):
            yield _chunk(i)
            await asyncio.sleep(0)
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.Event().wait()


def test_a_second_sigint_cuts_the_drain_short_and_keeps_what_was_committed(tmp_path, capsys, monkeypatch):
    from coregulate.sensors import live

    drain_timeout = 120.0  # the drain would hold the process this long without the second signal
    monkeypatch.setattr(SessionRunner, "drain_timeout_s", drain_timeout)
    source = _DrainsForever()
    monkeypatch.setattr(live, "build_live_sources", lambda *a, **kw: [source])
    t0 = time.monotonic()
    code = main(["record", "--headless", "--lsl-in", "client:type=ECG", "--data", str(tmp_path)])
    took = time.monotonic() - t0
    out, err = capsys.readouterr()
    assert code == 130 and "Traceback" not in err, err
    assert source.stop_requested
    assert took < drain_timeout / 2, took  # generous: only a drain that ran its course fails
    (path,) = (tmp_path / "sessions").glob("live-*.sqlite")
    assert _stored(path) == ("stopped", [0, 1, 2, 3, 4])
