"""One code path: the same data gives the same features at any replay speed and chunk size."""

from __future__ import annotations

import asyncio

import numpy as np

from coregulate.models.config import PipelineConfig
from coregulate.sensors.chunk import rechunk
from coregulate.sensors.simulator import Simulator
from coregulate.server.session.recorder import Recorder
from coregulate.server.session.store import SessionStore
from coregulate.server.session.runner import SessionRunner


class _Rechunked:
    """The simulator's chunks cut into other sizes, per stream (same source otherwise)."""

    def __init__(self, sim: Simulator, seconds: float):
        self.sim, self.seconds = sim, seconds
        self.streams, self.utc0 = sim.streams, sim.utc0

    def annotations(self):
        return []

    async def aclose(self):
        pass

    async def __aiter__(self):
        for c in self.sim.chunks():
            for piece in rechunk([c], self.seconds):
                yield piece
                await asyncio.sleep(0)


def _run(tmp_path, name, source, config):
    rec = Recorder(tmp_path / f"{name}.sqlite", name, source.streams, config, utc0=source.utc0)
    asyncio.run(SessionRunner(source, rec, config).run())
    with SessionStore(tmp_path / f"{name}.sqlite") as st:
        return st.features(), st.dyad(), [(e["kind"], e["t_start"], e["participant"]) for e in st.events()]


def test_features_identical_at_any_speed_and_chunking(tmp_path):
    config = PipelineConfig(window_s=60, baseline=(0, 120))
    kw = dict(seed=4, duration_s=330, audio=True)
    ref = _run(tmp_path, "max", Simulator(**kw), config)
    paced = _run(tmp_path, "x40", Simulator(**kw, speed=40.0), config)
    small = _run(tmp_path, "small", _Rechunked(Simulator(**kw), 0.23), config)
    big = _run(tmp_path, "big", Simulator(**kw, chunk_s=5.0), config)
    assert len(ref[0]) == 2 * 330
    hr = [r["hr_bpm"] for r in ref[0] if r["hr_bpm"] is not None]
    assert len(hr) > 400  # features were really computed
    assert any(r["f0_st"] is not None for r in ref[0])
    for other in (paced, small, big):
        assert other[0] == ref[0]
        assert other[1] == ref[1]
        assert sorted(other[2], key=str) == sorted(ref[2], key=str)


def test_runner_records_everything_it_was_given(tmp_path):
    sim = Simulator(seed=1, duration_s=310, audio=False)
    n_samples = {}
    for c in Simulator(seed=1, duration_s=310, audio=False).chunks():
        n_samples[c.stream.key] = n_samples.get(c.stream.key, 0) + len(c)
    config = PipelineConfig()
    rec = Recorder(tmp_path / "s.sqlite", "s", sim.streams, config, utc0=sim.utc0)
    status = asyncio.run(SessionRunner(sim, rec, config).run())
    assert status == "complete"
    with SessionStore(tmp_path / "s.sqlite") as st:
        got = {}
        for c in st.chunks():
            got[c.stream.key] = got.get(c.stream.key, 0) + len(c)
        assert got == n_samples
        assert st.status() == "complete"
        rr = np.concatenate([c.values for c in st.chunks("client/rr")])
        np.testing.assert_array_equal(rr, sim.truth.rr_ms["client"][: len(rr)])


class _Viewer:
    """A sink that keeps what it sees, and one that breaks on every feature row."""

    def __init__(self, broken=False):
        self.events, self.annotations, self.rows, self.broken = [], [], 0, broken

    def on_events(self, events):
        self.events += [dict(e) for e in events]

    def on_annotation(self, ann):
        self.annotations.append(dict(ann))

    def on_features(self, rows):
        if self.broken:
            raise RuntimeError("viewer broke")
        self.rows += len(rows)


def test_the_file_is_the_first_sink_numbering_events_and_a_broken_viewer_is_skipped(tmp_path):
    sim = Simulator(seed=3, duration_s=420, audio=False)
    config = PipelineConfig()
    rec = Recorder(tmp_path / "s.sqlite", "s", sim.streams, config, utc0=sim.utc0)
    broken, viewer = _Viewer(broken=True), _Viewer()
    runner = SessionRunner(sim, rec, config, sinks=[broken, viewer])
    assert asyncio.run(runner.run()) == "complete"  # the broken viewer did not stop the recording
    with SessionStore(tmp_path / "s.sqlite") as st:
        stored = st.events()
        assert viewer.rows == len(st.features()) > 0
    assert stored and [e["id"] for e in viewer.events] == [e["id"] for e in stored]
    assert [(e["kind"], e["t_start"]) for e in viewer.events] == [(e["kind"], e["t_start"]) for e in stored]


def test_an_error_writing_the_file_ends_the_session(tmp_path):
    sim = Simulator(seed=3, duration_s=320, audio=False)
    config = PipelineConfig()
    rec = Recorder(tmp_path / "s.sqlite", "s", sim.streams, config, utc0=sim.utc0)

    def disk_full(rows):
        raise OSError("no space left on device")

    rec.write_features = disk_full
    viewer = _Viewer()
    try:
        asyncio.run(SessionRunner(sim, rec, config, sinks=[viewer]).run())
    except OSError:
        pass
    else:
        raise AssertionError("a failed write must end the session")
    assert viewer.rows == 0  # no viewer saw a row the file did not take
    with SessionStore(tmp_path / "s.sqlite") as st:
        assert st.status() == "failed"


class _Markers:
    """A marker stream whose labels are empty or blank (a damaged or bare marker stream), then one with text."""

    def __init__(self):
        from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind

        self.stream = StreamInfo("client", StreamKind.MARKER)
        self.streams, self.utc0 = [self.stream], 1.7e9
        self.chunk = Chunk(self.stream, np.array(["", "  ", "go"], dtype=object), times=np.array([0.5, 1.0, 1.5]))

    def annotations(self):
        return []

    async def aclose(self):
        pass

    async def __aiter__(self):
        yield self.chunk


def test_an_empty_marker_is_kept_as_an_annotation_saying_so(tmp_path):
    from coregulate.server.session.runner import EMPTY_MARKER_TEXT

    config = PipelineConfig()
    source = _Markers()
    rec = Recorder(tmp_path / "m.sqlite", "m", source.streams, config, utc0=source.utc0)
    assert asyncio.run(SessionRunner(source, rec, config).run()) == "complete"
    with SessionStore(tmp_path / "m.sqlite") as st:
        got = [(a["t_s"], a["text"]) for a in st.annotations()]
    assert got == [(0.5, EMPTY_MARKER_TEXT), (1.0, EMPTY_MARKER_TEXT), (1.5, "go")]
