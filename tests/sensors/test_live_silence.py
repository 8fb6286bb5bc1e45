"""A live stream that goes silent must not hold its person's rows (sensors.live.SilenceWatch).

A scripted live session on a hand-set session clock: the client brings RR + EDA, the therapist
a wrist device's PPG + HR. At 60 s the client's EDA and the therapist's PPG stop sending (the
devices stay connected); the EDA comes back at 150 s, after one chunk that arrives late. Rows
must keep flowing, the silences must be recorded gaps, and the session file must replay to the
same rows.
"""

import asyncio

import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind
from coregulate.sensors.live import LiveSource, SilenceWatch
from coregulate.sensors.replay import ReplaySource
from coregulate.server.recorder import Recorder, SessionStore
from coregulate.server.runner import SessionRunner
from coregulate.server.session_source import SessionFileReader

TIMEOUT = 5.0
END = 200.0
SILENT = (60.0, 150.0)  # client EDA; the therapist's PPG stays silent from 60 s to the end
LATE = 120.0  # an EDA chunk timed 120-121 s arrives only at 148 s


class FakeNow:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _script():
    """(arrival, chunk) of every stream, in arrival order, and the streams."""
    import neurokit2 as nk

    rr_i = StreamInfo("client", StreamKind.RR)
    eda_i = StreamInfo("client", StreamKind.EDA, rate=4.0)
    ppg_i = StreamInfo("therapist", StreamKind.PPG, rate=64.0)
    hr_i = StreamInfo("therapist", StreamKind.HR, rate=1.0)
    rng = np.random.default_rng(0)
    rr = 850 + 40 * rng.standard_normal(300)
    bt = np.cumsum(rr) / 1000.0
    ppg = nk.ppg_simulate(duration=int(END), sampling_rate=64, heart_rate=70, random_state=2)
    out = []
    for t, v in zip(bt, rr):
        if t < END:
            out.append((t + 0.05, Chunk(rr_i, np.array([v]), times=np.array([t]))))
    for s in range(int(END)):
        eda = 2.0 + 0.1 * np.sin(2 * np.pi * (s + np.arange(4) / 4) / 40)
        if not SILENT[0] <= s < SILENT[1]:
            out.append((s + 1.1, Chunk(eda_i, eda, t0=float(s))))
        elif s == LATE:
            out.append((SILENT[1] - 2, Chunk(eda_i, eda, t0=float(s))))
        if s < SILENT[0]:
            out.append((s + 1.2, Chunk(ppg_i, ppg[s * 64 : (s + 1) * 64], t0=float(s))))
        out.append((s + 1.3, Chunk(hr_i, np.array([70.0 + (s % 3)]), t0=float(s))))
    out.sort(key=lambda a: a[0])
    return out, [rr_i, eda_i, ppg_i, hr_i]


class Scripted:
    """A live-like source: each chunk at its arrival time on the fake clock, one at a time."""

    def __init__(self, script, streams, now, taken):
        self.script, self.streams, self.now, self.taken = script, streams, now, taken
        self.utc0, self.clock = None, now

    async def __aiter__(self):
        for arrival, chunk in self.script:
            self.now.t = arrival
            self.taken.clear()
            yield chunk
            await self.taken.wait()  # the runner has handled it: the clock never runs ahead
        self.now.t = END + 1

    async def aclose(self):
        pass

    def request_stop(self):
        return False


class Watcher:
    """A sink noting when each row became final (session clock) and releasing the source."""

    def __init__(self, now, taken):
        self.now, self.taken, self.emitted = now, taken, {}

    def on_chunk(self, chunk):
        if not chunk.meta.get("silent"):
            self.taken.set()

    def on_features(self, rows):
        for r in rows:
            self.emitted[(r["participant"], r["t_s"])] = self.now.t


async def test_a_silent_stream_does_not_hold_rows_and_replays_the_same(tmp_path):
    now, taken = FakeNow(), asyncio.Event()
    script, streams = _script()
    source = LiveSource([Scripted(script, streams, now, taken)], silence_timeout_s=TIMEOUT)
    config = PipelineConfig()
    watcher = Watcher(now, taken)
    rec = Recorder(tmp_path / "live.sqlite", "live", source.streams, config)
    assert await SessionRunner(source, rec, config, sinks=[watcher]).run() == "complete"

    # rows flowed live: after the silences as soon as before them, and at most TIMEOUT + 1 s
    # behind the slowest silent stream
    for who in ("client", "therapist"):
        lag = {t: watcher.emitted[(who, t)] - t for t in range(1, int(END) - 20)}
        before = max(lag[t] for t in range(20, 55))
        after = max(lag[t] for t in range(80, int(END) - 20))
        assert after <= max(before, TIMEOUT + 2.0), (who, before, after)
    with SessionStore(tmp_path / "live.sqlite") as st:
        live = st.features()
        gaps = {(g["stream"], round(g["t_start"]), round(g["t_end"])) for g in st.gaps()}
        eda_chunks = list(st.chunks("client/eda"))
    by = {(r["participant"], r["t_s"]): r for r in live}
    # the silences are recorded gaps (one each), features honest about them
    # (the PPG's is declared up to the session's last second less the timeout)
    assert {g for g in gaps} == {("client/eda", 60, 150), ("therapist/ppg", 60, END - TIMEOUT)}, gaps
    assert all(by[("client", t)]["eda_scl_us"] is None for t in range(70, 150))
    assert by[("client", 180)]["eda_scl_us"] == pytest.approx(2.0, abs=0.2)
    assert by[("therapist", 50)]["heart_source"] == "ppg"
    assert {by[("therapist", t)]["heart_source"] for t in range(95, 195)} == {"device_hr"}  # PPG window < half covered
    assert all(by[("client", t)]["hr_bpm"] is not None for t in range(40, 190))
    # the late chunk is in the file (nothing lost) but marked, and left out of the features
    late = [c for c in eda_chunks if c.meta.get("late")]
    assert len(late) == 1 and late[0].t0 == LATE and len(late[0]) == 4
    assert by[("client", int(LATE) + 1)]["eda_scl_us"] is None

    replay = ReplaySource([SessionFileReader(tmp_path / "live.sqlite")], speed=None)
    rec2 = Recorder(tmp_path / "again.sqlite", "again", replay.streams, config)
    assert await SessionRunner(replay, rec2, config).run() == "complete"
    with SessionStore(tmp_path / "again.sqlite") as st2:
        assert st2.features() == live


def test_silence_watch_marks_resumes_and_splits_late_samples():
    now = FakeNow()
    eda = StreamInfo("client", StreamKind.EDA, rate=4.0)
    never = StreamInfo("client", StreamKind.RR)
    marker = StreamInfo("client", StreamKind.MARKER)
    w = SilenceWatch([eda, never, marker], 5.0, now)
    first = Chunk(eda, np.ones(8), t0=0.0)
    assert w.passed(first) == [first]
    now.t = 10.5
    got = {c.stream.key: c for c in w.silences()}
    # only the data stream that sent before gets a gap; one that never started is just complete
    assert set(got) == {"client/eda", "client/rr"}
    assert len(got["client/eda"]) == 0 and got["client/eda"].t_end == 5.5 and got["client/eda"].gap_before
    assert not got["client/rr"].gap_before and got["client/rr"].t_end == 5.5
    now.t = 11.0
    assert w.silences() == []  # less than a step since the last mark
    now.t = 12.0
    assert [c.t_end for c in w.silences()] == [7.0, 7.0]
    # samples from 6 to 9 s arrive now: those before the declared 7 s are late, the rest resume
    late, rest = w.passed(Chunk(eda, np.arange(12.0), t0=6.0))
    assert late.meta == {"late": True} and late.t0 == 6.0 and len(late) == 4 and not late.gap_before
    assert rest.t0 == 7.0 and len(rest) == 8 and rest.gap_before
    nxt = w.passed(Chunk(eda, np.ones(4), t0=9.0))
    assert len(nxt) == 1 and not nxt[0].gap_before  # back to normal
    assert w.late_samples == 4
