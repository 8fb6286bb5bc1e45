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
from coregulate.server.session.recorder import Recorder
from coregulate.server.session.store import SessionStore
from coregulate.server.session.runner import SessionRunner
from coregulate.server.session.session_source import SessionFileReader

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


def _tick(w, now, until):
    """Call ``silences`` every 0.5 s of the clock up to ``until`` (a loop running freely)."""
    out = []
    while now.t < until:
        now.t = min(until, now.t + 0.5)
        out += w.silences()
    return out


def test_silence_watch_marks_resumes_and_splits_late_samples():
    now = FakeNow()
    eda = StreamInfo("client", StreamKind.EDA, rate=4.0)
    never = StreamInfo("client", StreamKind.RR)
    marker = StreamInfo("client", StreamKind.MARKER)
    w = SilenceWatch([eda, never, marker], 5.0, now)
    w.silences()
    first = Chunk(eda, np.ones(8), t0=0.0)
    w.arrived(first)
    assert w.passed(first) == [first]
    got = _tick(w, now, 7.5)
    # a stream that never started is complete up to now - timeout, in 1-s steps, without a gap
    assert [(c.stream.key, c.t_end, c.gap_before, len(c)) for c in got] == [
        ("client/rr", 1.0, False, 0), ("client/rr", 2.0, False, 0)]
    # the EDA delivered up to 2 s: silent from its last data on, marked as a gap
    got = _tick(w, now, 10.5)
    assert [(c.t_end, c.gap_before) for c in got if c.stream.key == "client/eda"] == [(3.0, True), (4.0, True),
                                                                                       (5.0, True)]
    assert [c.t_end for c in _tick(w, now, 11.0)] == [6.0, 6.0]
    assert [c.t_end for c in _tick(w, now, 12.0)] == [7.0, 7.0]
    # samples from 6 to 9 s arrive now: those before the declared 7 s are late, the rest resume
    late, rest = w.passed(Chunk(eda, np.arange(12.0), t0=6.0))
    assert late.meta == {"late": True} and late.t0 == 6.0 and len(late) == 4 and not late.gap_before
    assert rest.t0 == 7.0 and len(rest) == 8 and rest.gap_before
    nxt = w.passed(Chunk(eda, np.ones(4), t0=9.0))
    assert len(nxt) == 1 and not nxt[0].gap_before  # back to normal
    assert w.late_samples == 4


def test_a_blocked_loop_or_a_backlog_is_not_silence():
    now = FakeNow()
    eda = StreamInfo("client", StreamKind.EDA, rate=4.0)
    w = SilenceWatch([eda], 5.0, now)
    w.silences()
    now.t = 30.0  # the loop was blocked for 30 s: only one step of quiet counts
    assert w.silences() == []
    w.arrived(Chunk(eda, np.ones(4), t0=29.0))  # delivered, still in the queue
    assert _tick(w, now, 40.0) == []
    assert w.quiet["client/eda"] >= 5.0  # it would be silent, but its data wait to be taken
    w.passed(Chunk(eda, np.ones(4), t0=29.0))
    assert [c.t_end for c in w.silences()] == [35.0]
