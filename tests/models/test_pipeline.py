"""The pipeline's merge: rows do not depend on chunking or on how streams interleave."""

import numpy as np
import pytest

from coregulate.models.base import DyadEstimator, Event, RowEstimator, SecondTicker, StreamEstimator
from coregulate.models.columns import FEATURE_COLUMNS
from coregulate.models.config import PipelineConfig
from coregulate.models.pipeline import SessionPipeline
from coregulate.models.registry import Registry
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind, rechunk


class MeanEcg(StreamEstimator):
    """Mean of the samples of each second, finished 2 s late (a stand-in with latency)."""

    accepts = frozenset({StreamKind.ECG})

    def __init__(self, participant, streams, config):
        self.ticker = SecondTicker()
        self.sums: dict[int, list[float]] = {}

    def _emit(self, watermark):
        out = []
        for t in self.ticker.ticks(watermark, latency=2.0):
            s = self.sums.pop(t, None)
            out.append((t, {"hr_bpm": None if s is None else s[0] / s[1]}))
        return out

    def update(self, chunk):
        st = chunk.sample_times()
        for t, v in zip(np.floor(st + 1e-6).astype(int) + 1, chunk.values):
            acc = self.sums.setdefault(int(t), [0.0, 0])
            acc[0] += v
            acc[1] += 1
        return self._emit(chunk.t_end)

    def finish(self):
        return self._emit(self.ticker.last + 2 + max(self.sums, default=0) - self.ticker.last)


class CountRr(StreamEstimator):
    accepts = frozenset({StreamKind.RR})

    def __init__(self, participant, streams, config):
        self.ticker = SecondTicker()
        self.times: list[float] = []

    def update(self, chunk):
        self.times.extend(chunk.times)
        return [(t, {"beats_in_window": sum(1 for b in self.times if t - 1 < b <= t)})
                for t in self.ticker.ticks(chunk.t_end)]

    def finish(self):
        return []


class Doubler(RowEstimator):
    def __init__(self, participant, config):
        self.participant = participant

    def update(self, row):
        v = row["hr_bpm"]
        ev = [Event("big", row["t_s"], participant=self.participant)] if v is not None and v > 100 else []
        return {"arousal": None if v is None else 2 * v}, ev


class Diff(DyadEstimator):
    def __init__(self, participants, config):
        pass

    def update(self, t_s, rows):
        a, b = rows["client"].get("arousal"), rows["therapist"].get("arousal")
        return {"sync_hr_z": None if a is None or b is None else a - b}, []


REG = Registry(stream_families=((frozenset({StreamKind.ECG}), MeanEcg), (frozenset({StreamKind.RR}), CountRr)))
REG.row_estimators = lambda p, c, streams=(): [Doubler(p, c)]
REG.dyad_estimators = lambda ps, c: [Diff(ps, c)] if len(ps) > 1 else []


def _streams():
    return [StreamInfo(p, StreamKind.ECG, 10.0) for p in ("client", "therapist")] + [StreamInfo("client", StreamKind.RR)]


def _chunks(seconds=30):
    rng = np.random.default_rng(0)
    s = _streams()
    out = []
    for p, info in (("client", s[0]), ("therapist", s[1])):
        out.append(Chunk(info, rng.integers(80, 120, seconds * 10).astype(float), t0=0.0))
    beats = np.cumsum(rng.uniform(0.6, 1.0, 45))
    beats = beats[beats < seconds]
    out.append(Chunk(s[2], np.diff(beats, prepend=0) * 1000, times=beats, t_end=float(seconds)))
    return out


def _run(chunks):
    pipe = SessionPipeline(_streams(), PipelineConfig(), utc0=1.7e9, registry=REG)
    feats, dyad, events = [], [], []
    for c in chunks:
        out = pipe.update(c)
        feats += out.features
        dyad += out.dyad
        events += out.events
    out = pipe.finish()
    return feats + out.features, dyad + out.dyad, events + out.events


def _key(rows):
    return sorted((r.get("participant", ""), r["t_s"], tuple(sorted((k, str(v)) for k, v in r.items()))) for r in rows)


def test_rows_are_the_same_whatever_the_chunking_and_interleaving():
    whole = _run(_chunks())
    pieces = []
    for size in (0.35, 1.0, 7.0):
        per_stream = [list(rechunk([c], size)) for c in _chunks()]
        interleaved = sorted((c for cs in per_stream for c in cs), key=lambda c: c.start)
        pieces.append(_run(interleaved))
    # one stream entirely before the other: the merge still waits for both
    pieces.append(_run(list(reversed([c for c in _chunks()]))))
    for feats, dyad, events in pieces:
        assert _key(feats) == _key(whole[0])
        assert _key(dyad) == _key(whole[1])
        assert sorted((e.kind, e.t_start, e.participant) for e in events) == sorted(
            (e.kind, e.t_start, e.participant) for e in whole[2])


def test_rows_carry_every_column_and_utc():
    feats, dyad, _ = _run(_chunks())
    assert [r["t_s"] for r in feats if r["participant"] == "therapist"] == list(range(1, 31))
    row = feats[0]
    assert set(FEATURE_COLUMNS) <= set(row)
    assert row["utc"].endswith("Z")
    assert [r["t_s"] for r in dyad] == list(range(1, 31))
    r5 = next(r for r in feats if r["participant"] == "client" and r["t_s"] == 5)
    assert r5["arousal"] == 2 * r5["hr_bpm"]


def test_participant_without_rr_is_not_waited_for():
    feats, _, _ = _run(_chunks())
    client = [r for r in feats if r["participant"] == "client"]
    assert all(r["beats_in_window"] is not None for r in client)
    therapist = [r for r in feats if r["participant"] == "therapist"]
    assert all(r["beats_in_window"] is None for r in therapist)


def test_the_accelerometer_reaches_the_heart_estimator_only_with_ppg():
    from coregulate.models.heart import HeartEstimator
    from coregulate.models.movement import MovementEstimator

    acc = StreamInfo("client", StreamKind.ACC, rate=50.0, channels=("x", "y", "z"))
    ppg = StreamInfo("client", StreamKind.PPG, rate=64.0)
    acc_t = StreamInfo("therapist", StreamKind.ACC, rate=50.0, channels=("x", "y", "z"))
    p = SessionPipeline([acc, ppg, acc_t])
    kinds = {who: [type(e) for e in pp.stream_estimators] for who, pp in p.participants.items()}
    assert kinds == {"client": [HeartEstimator, MovementEstimator], "therapist": [MovementEstimator]}
    heart = p.participants["client"].stream_estimators[0]
    assert StreamKind.ACC in heart.accepts and heart.motion_track is not None


def test_a_breathing_belt_feeds_breathing_rpm_though_the_heart_completes_its_seconds_later():
    """The heart estimator derives breathing from the beats (RSA) only without a belt; with one,
    its rows leave the column to the belt's (MovementEstimator), whose seconds complete first."""
    from coregulate.models.heart import HeartEstimator

    rr_info = StreamInfo("client", StreamKind.RR)
    resp = StreamInfo("client", StreamKind.RESP, rate=25.0)
    # RSA at 15 breaths/min in the beats; the belt says 10
    t, beats = 0.0, []
    while t < 240.0:
        rr = 0.8 + 0.05 * np.sin(2 * np.pi * 0.25 * t)
        t += rr
        beats.append((t, rr * 1000.0))
    rr_chunk = Chunk(rr_info, np.array([r for _, r in beats]), times=np.array([b for b, _ in beats]))
    tb = np.arange(int(240 * resp.rate)) / resp.rate
    belt = Chunk(resp, np.sin(2 * np.pi * tb / 6.0), t0=0.0)
    chunks = sorted([*rechunk([rr_chunk], 1.0), *rechunk([belt], 1.0)], key=lambda c: float(c.t_end))

    def breathing(infos, cs):
        p = SessionPipeline(infos)
        rows = [r for c in cs for r in p.update(c).features] + p.finish().features
        return [r.get("breathing_rpm") for r in rows if 120 <= r["t_s"] <= 230]

    derived = breathing([rr_info], [c for c in chunks if c.kind == StreamKind.RR])
    assert np.median([b for b in derived if b is not None]) == pytest.approx(15.0, abs=1.0)  # RSA without a belt
    with_belt = breathing([rr_info, resp], chunks)
    assert all(b is not None for b in with_belt) and np.median(with_belt) == pytest.approx(10.0, abs=0.5)
    heart = SessionPipeline([rr_info, resp]).participants["client"].stream_estimators[0]
    assert isinstance(heart, HeartEstimator) and not heart.derived_breathing and StreamKind.RESP not in heart.accepts


def test_no_two_stream_estimators_of_a_person_write_the_same_column():
    """A person's row merges the seconds of their stream estimators as each completes them, so a
    column written by two would hold whichever finished last (the heart's look-ahead makes that
    the heart): every kind of stream at once, and each family's columns kept apart."""
    rng = np.random.default_rng(0)
    prosody = ("energy_db", "f0_hz", "alpha_db", "peak_db", "speech", "other_speech", "overlap")
    regular = [StreamInfo("client", StreamKind.ECG, rate=130.0), StreamInfo("client", StreamKind.PPG, rate=64.0),
               StreamInfo("client", StreamKind.EDA, rate=4.0), StreamInfo("client", StreamKind.RESP, rate=25.0),
               StreamInfo("client", StreamKind.ACC, rate=25.0, channels=("x", "y", "z")),
               StreamInfo("client", StreamKind.MOTION, rate=25.0), StreamInfo("client", StreamKind.PROSODY, rate=100.0, channels=prosody)]
    beats = StreamInfo("client", StreamKind.RR)
    device_hr = StreamInfo("client", StreamKind.HR)
    p = SessionPipeline([*regular, beats, device_hr])
    person = p.participants["client"]
    written: dict[str, set[str]] = {type(e).__name__: set() for e in person.stream_estimators}
    take = person._take

    def spy(i, seconds):
        seconds = list(seconds)
        for _, values in seconds:
            written[type(person.stream_estimators[i]).__name__].update(values)
        return take(i, seconds)

    person._take = spy
    seconds = 120
    chunks = [Chunk(s, 5.0 + rng.standard_normal((int(seconds * s.rate), len(s.channels) or 1)).squeeze(), t0=0.0)
              for s in regular]
    t_beats = np.arange(1, int(seconds / 0.8)) * 0.8
    chunks += [Chunk(beats, np.full(t_beats.size, 800.0), times=t_beats),
               Chunk(device_hr, np.full(seconds - 1, 75.0), times=np.arange(1.0, seconds))]
    for c in chunks:
        p.update(c)
    p.finish()
    assert set(written) == {"HeartEstimator", "EdaEstimator", "MovementEstimator", "VoiceEstimator"}
    assert all(written.values()) and "breathing_rpm" in written["MovementEstimator"]
    names = sorted(written)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not written[a] & written[b], (a, b, written[a] & written[b])


def test_the_dyad_steps_the_seconds_that_come_together_at_once_with_the_rows_and_events_of_one_at_a_time():
    from coregulate.models.dyad import DyadPipeline
    from coregulate.models.provisional_events import DYAD_EVENT_KINDS
    from coregulate.sensors.simulator import Simulator

    # ECG beats: each person's final rows come in blocks, so the dyad gets several seconds at once
    sim = Simulator(seed=4, duration_s=600, audio=False)
    config = PipelineConfig(options={"heart": {"beat_sources": ["ecg"]}})
    pipe = SessionPipeline(sim.streams, config, sim.utc0)
    features, dyad, events, bursts = [], [], [], []
    for chunk in rechunk(sim.chunks(), 0.7):
        out = pipe.update(chunk)
        features += out.features
        dyad += out.dyad
        events += out.events
        bursts.append(len(out.dyad))
    out = pipe.finish()
    features, dyad, events = features + out.features, dyad + out.dyad, events + out.events
    assert max(bursts) > 5 and len(dyad) > 500
    # the plain form: a dyad estimator stepped a second at a time over the same final rows
    plain = DyadPipeline(list(pipe.participants), config)
    rows = {}
    for r in features:
        rows.setdefault(r["t_s"], {})[r["participant"]] = r
    plain_events = []
    for drow in dyad:
        added, evs = plain.update(drow["t_s"], rows[drow["t_s"]])
        assert all(drow[k] == v or drow[k] != drow[k] and v != v for k, v in added.items()), drow["t_s"]
        plain_events += evs
    plain_events += plain.finish()[1]
    assert [e for e in events if e.kind in DYAD_EVENT_KINDS] == plain_events and plain_events
