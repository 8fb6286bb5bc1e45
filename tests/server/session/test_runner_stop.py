"""SessionRunner.stop(): a live source drains what it holds into the file; a file source is cut.

In-process, with scripted sources (no devices, no clocks): what matters is which chunks reach
the recorder, not how long anything takes.
"""

from __future__ import annotations

import asyncio

import numpy as np

from coregulate.models.config import PipelineConfig
from coregulate.sensors.base import Source
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.server.session.recorder import Recorder
from coregulate.server.session.store import SessionStore
from coregulate.server.session.runner import SessionRunner

ECG = StreamInfo("client", StreamKind.ECG, 130.0)


def _chunk(i: int) -> Chunk:
    return Chunk(ECG, np.full(13, float(i)), t0=i * 0.1)


class _LiveLike(Source):
    """Delivers 10 chunks, then holds 5 more 'received' ones it only hands over once stopping;
    without a stop it would wait for the device forever."""

    def __init__(self, drains: bool):
        self.streams, self.drains = [ECG], drains
        self.stopping = asyncio.Event()
        self.closed = False

    def request_stop(self) -> bool:
        self.stopping.set()
        return self.drains

    async def aclose(self) -> None:
        self.closed = True

    async def __aiter__(self):
        for i in range(10):
            yield _chunk(i)
            await asyncio.sleep(0)
        await self.stopping.wait()  # a silent device
        for i in range(10, 15):  # what the device buffer held when the stop came
            yield _chunk(i)


class _StopAfter:
    """A sink that stops the session once it has seen ``n`` chunks (as a signal handler would)."""

    def __init__(self, n: int):
        self.n, self.runner = n, None

    def on_chunk(self, chunk) -> None:
        self.n -= 1
        if self.n == 0:
            asyncio.get_running_loop().call_soon(self.runner.stop)


def _run(tmp_path, source, stop_after: int):
    config = PipelineConfig()
    rec = Recorder(tmp_path / "s.sqlite", "s", source.streams, config)
    sink = _StopAfter(stop_after)
    runner = SessionRunner(source, rec, config, sinks=[sink])
    sink.runner = runner
    status = asyncio.run(runner.run())
    with SessionStore(tmp_path / "s.sqlite") as st:
        got = [int(c.values[0]) for c in st.chunks("client/ecg")]
        return status, st.status(), got


def test_a_draining_source_hands_over_what_it_held(tmp_path):
    source = _LiveLike(drains=True)
    status, stored, got = _run(tmp_path, source, stop_after=10)
    assert status == stored == "stopped"
    assert got == list(range(15))  # the five held chunks too
    assert source.closed


def test_a_source_that_cannot_drain_is_cut_at_once(tmp_path):
    source = _LiveLike(drains=False)
    status, stored, got = _run(tmp_path, source, stop_after=10)
    assert status == stored == "stopped"
    # at most the chunk already on its way when the stop came; never the rest of the buffer
    assert got in (list(range(10)), list(range(11)))
    assert source.closed


def test_a_draining_source_that_never_ends_is_cut_after_the_drain_timeout(tmp_path, monkeypatch):
    class _Stuck(_LiveLike):
        async def __aiter__(self):
            for i in range(3):
                yield _chunk(i)
                await asyncio.sleep(0)
            await asyncio.Event().wait()  # ignores the stop: never ends by itself

    monkeypatch.setattr(SessionRunner, "drain_timeout_s", 0.2)
    status, stored, got = _run(tmp_path, _Stuck(drains=True), stop_after=3)
    assert status == stored == "stopped"
    assert got == [0, 1, 2]


def test_a_stopped_session_computes_the_features_of_everything_it_received(tmp_path):
    """Stopping finishes the pipeline like the end of a file does: the last seconds before the
    stop get their rows (the estimators' look-ahead would otherwise drop ~10-15 s)."""
    from coregulate.server.session.sources import build_source

    source = build_source(["sim?duration=400&audio=0"], speed=None)
    config = PipelineConfig()
    rec = Recorder(tmp_path / "s.sqlite", "s", source.streams, config)
    sink = _StopAfter(600)
    runner = SessionRunner(source, rec, config, sinks=[sink])
    sink.runner = runner
    assert asyncio.run(runner.run()) == "stopped"
    with SessionStore(tmp_path / "s.sqlite") as st:
        received = min(max(c.t_end for c in st.chunks(s.key)) for s in st.streams())
        last_row = max(r["t_s"] for r in st.features(participant="client"))
    assert 30 < received < 390  # stopped mid-session
    assert last_row >= int(received) - 1, (last_row, received)
