"""The provisional tier of the pipeline (issue #15): values for viewers that never touch the final rows."""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

from coregulate.models.config import PipelineConfig
from coregulate.models.pipeline import SessionPipeline
from coregulate.models.provisional_tier import ProvisionalTier
from coregulate.models.tolerance import HR_MEDIAN_S, ToleranceEstimator, median
from coregulate.sensors.chunk import rechunk
from coregulate.sensors.simulator import Simulator

from physio_helpers import PassThroughRegistry


def _rows(n, rng):
    """Rows of a calm stretch, then a sustained HR rise (a hyper episode)."""
    hr = 70 + rng.normal(0, 1, n)
    hr[200:] += 25
    lnr = 3.5 + rng.normal(0, 0.05, n)
    lnr[200:] -= 0.5
    return [{"t_s": i + 1, "hr_bpm": float(h), "ln_rmssd": float(ln), "quality": "good"} for i, (h, ln) in enumerate(zip(hr, lnr))]


def test_peek_changes_no_state_and_matches_the_update_it_anticipates():
    rows = _rows(300, np.random.default_rng(3))
    cfg = PipelineConfig(baseline=(0.0, 100.0))
    peeked, plain = ToleranceEstimator("client", cfg), ToleranceEstimator("client", cfg)
    seen_hyper = False
    for row in rows:
        # the row about to become final, its HR given as the provisional one
        before = peeked.peek(row, row["hr_bpm"])
        assert peeked.peek(row, row["hr_bpm"]) == before  # peeking twice changes nothing either
        out_p, ev_p = peeked.update(row)
        out_q, ev_q = plain.update(row)
        assert out_p == out_q and [e.to_dict() for e in ev_p] == [e.to_dict() for e in ev_q]
        if row["t_s"] <= 100:
            assert before is None  # no baseline yet: nothing to say
            continue
        assert before["arousal"] == out_p["arousal"]
        assert before["zone_provisional"] == out_p["zone"]  # the call the final tier then made
        seen_hyper |= out_p["zone"] == "hyper"
    assert seen_hyper  # the episode was called: the evidence was right across a zone change


def _run(pipe, chunks):
    feats, dyad, events, prov = [], [], [], []
    for c in chunks:
        out = pipe.update(c)
        feats += out.features
        dyad += out.dyad
        events += [e.to_dict() for e in out.events]
        prov += out.provisional
    out = pipe.finish()
    return feats + out.features, dyad + out.dyad, events + [e.to_dict() for e in out.events], prov + out.provisional


def test_provisional_values_come_with_arousal_and_leave_the_final_rows_alone():
    sim = Simulator(seed=1, duration_s=330, audio=False)
    cfg = PipelineConfig(baseline=(0.0, 120.0))
    chunks = list(sim.chunks())
    with_tier = _run(SessionPipeline(sim.streams, cfg, sim.utc0, PassThroughRegistry(), provisional=True),
                     rechunk(chunks, 0.25))
    without = _run(SessionPipeline(sim.streams, cfg, sim.utc0, PassThroughRegistry()), chunks)
    assert with_tier[:3] == without[:3]
    assert without[3] == []  # off unless asked for: `analyze` pays nothing
    prov = with_tier[3]
    assert {v["participant"] for v in prov} == {"client", "therapist"}
    beats = np.concatenate([v["beat_times"] for v in prov if v["participant"] == "client"])
    assert np.array_equal(beats, sim.truth.beat_times["client"][: beats.size])  # every beat, in order
    late = [v for v in prov if v["t"] > 150]
    assert late and all(v["arousal"] is not None and v["zone"] in ("window", "hyper", "hypo", "hypo_candidate", "unknown")
                        for v in late)
    early = [v for v in prov if v["t"] < 115]
    assert early and all("arousal" not in v for v in early)  # before the baseline: no arousal claimed


def test_real_provisional_heart_from_ecg_alone_leaves_the_final_rows_alone_at_any_chunking():
    sim = Simulator(seed=4, duration_s=310, audio=False)
    cfg = PipelineConfig(baseline=(0.0, 120.0), options={"heart": {"beat_sources": ["ecg"]}})
    chunks = list(sim.chunks())
    plain = _run(SessionPipeline(sim.streams, cfg, sim.utc0), chunks)
    a = _run(SessionPipeline(sim.streams, cfg, sim.utc0, provisional=True), rechunk(chunks, 0.3))
    b = _run(SessionPipeline(sim.streams, cfg, sim.utc0, provisional=True), chunks)
    assert a[:3] == plain[:3] == b[:3]
    ecg_values = [v for v in b[3] if v["participant"] == "client"]
    assert ecg_values and {v["beat_source"] for v in ecg_values} == {"ecg"}
    beats = np.concatenate([v["beat_times"] for v in ecg_values])
    rechunked = np.concatenate([v["beat_times"] for v in a[3] if v["participant"] == "client"])
    assert np.array_equal(beats, rechunked)  # a function of the data, not of how it was cut
    truth = sim.truth.beat_times["client"]
    assert abs(beats.size - np.sum(truth < 310)) <= 3  # beats all along (their accuracy: livecore's tests)
    assert [v for v in ecg_values if v["t"] > 150 and v.get("arousal") is not None]


class _ListedBeatHr:
    """The tier's beat-level HR kept the plain way (every value filtered and scanned): the oracle of
    :class:`ProvisionalTier`'s bisection, per-second medians and reused answers."""

    def __init__(self):
        self.beats = []

    def add(self, value):
        times = value.get("beat_times") or []
        hrs = value.get("beat_hr_bpm") or [None] * len(times)
        self.beats += [(float(t), float(h)) for t, h in zip(times, hrs) if h is not None]
        if not times and value.get("hr_inst_bpm") is not None:
            self.beats.append((float(value["t"]), float(value["hr_inst_bpm"])))
        t = float(value["t"])
        self.beats = [(tb, h) for tb, h in self.beats if tb > t - HR_MEDIAN_S - ProvisionalTier.MAX_AHEAD_S]

    def between(self, t0, t1):
        return [h for tb, h in self.beats if t0 < tb <= t1]

    def by_second(self, first, last):
        times = [tb for tb, _ in self.beats]
        out = []
        for s in range(first, last + 1):
            recent = [h for _, h in self.beats[bisect_right(times, s - HR_MEDIAN_S):bisect_right(times, s)]]
            out.append((s, median(recent) if recent else None))
        return out


def test_hr_by_second_and_beat_hr_between_match_the_plain_scan_through_a_real_ecg_session():
    sim = Simulator(seed=4, duration_s=330, audio=False)
    cfg = PipelineConfig(baseline=(0.0, 120.0), options={"heart": {"beat_sources": ["ecg"]}})
    pipe = SessionPipeline(sim.streams, cfg, sim.utc0, provisional=True)
    plain = {who: _ListedBeatHr() for who in pipe.provisional}
    compared = 0
    for chunk in rechunk(list(sim.chunks()), 0.4):
        for v in pipe.update(chunk).provisional:
            if v["family"] == "heart":
                plain[v["participant"]].add(v)
        for who, tier in pipe.provisional.items():
            newest = tier.newest_second
            if newest is None or newest < 5:
                continue
            first = max(1, newest - ProvisionalTier.MAX_AHEAD_S + 1)
            # the whole evaluated range, asked twice (the answer reused), a part of it, and seconds
            # past the newest beat (the dyad's horizon can be there): their beats are still to come
            for lo, hi in ((first, newest + 2), (first, newest), (first, newest), (newest - 3, newest), (first, newest + 2)):
                assert tier.hr_by_second(lo, hi) == plain[who].by_second(lo, hi)
            assert tier.beat_hr_between(newest - 2.5, newest) == plain[who].between(newest - 2.5, newest)
            compared += 1
    assert compared > 500
    assert all(len(p.beats) > 50 for p in plain.values())  # beats all along, not an empty comparison


class _ScriptedHeart:
    def __init__(self, values):
        self.values = values

    def update(self, chunk):
        return [dict(v) for v in self.values.pop(0)]


class _NoFinalRows:
    last_row = None
    final_upto = 0
    participant = "client"

    def peek_arousal(self, hr, newer=None):
        return None


def test_a_beat_older_than_a_device_hr_sample_is_kept_and_found_as_the_plain_scan_finds_it():
    script = [
        [{"t": 10.0, "beat_times": [9.0, 10.0], "beat_hr_bpm": [None, 60.0]}],
        [{"t": 12.0, "beat_times": [], "beat_hr_bpm": [], "hr_inst_bpm": 70.0}],  # device HR sample
        [{"t": 11.5, "beat_times": [11.5], "beat_hr_bpm": [80.0]}],  # a beat confirmed after it
        [{"t": 13.0, "beat_times": [13.0], "beat_hr_bpm": [75.0]}],
        [{"t": 200.0, "beat_times": [199.0, 200.0], "beat_hr_bpm": [90.0, 91.0]}],  # the late beat forgotten
        [{"t": 201.0, "beat_times": [201.0], "beat_hr_bpm": [92.0]}],
    ]
    tier = ProvisionalTier(_ScriptedHeart(script), _NoFinalRows())
    plain = _ListedBeatHr()
    for step in range(len(script)):
        for v in tier.update(None):
            plain.add(v)
        newest = tier.newest_second
        for lo, hi in ((newest - 5, newest), (newest - 5, newest), (newest - 2, newest)):
            assert tier.hr_by_second(lo, hi) == plain.by_second(lo, hi)
        assert tier.beat_hr_between(newest - 3, newest) == plain.between(newest - 3, newest)
        if step == 2:
            assert tier.beat_hr_between(11.0, 12.0) == [70.0, 80.0]  # in arrival order, none lost
    assert tier.hr_by_second(195, 201) == [(195, None), (196, None), (197, None), (198, None),
                                           (199, 90.0), (200, 90.5), (201, 91.0)]


def test_hr_by_second_reuses_its_previous_answer_only_where_it_still_holds():
    """The live pattern (every new beat: the zone events' range, then the dyad's shorter or longer one),
    with late beats (one forgotten at once, with the oldest), device HR samples, gaps that forget every
    beat and ranges that move back: each answer is the plain scan's, whether it reused the previous one
    or not."""
    rng = np.random.default_rng(11)
    script, t = [], 0.0
    for i in range(900):
        t += float(rng.uniform(0.4, 1.2)) + (80.0 if i % 300 == 299 else 0.0)  # now and then: all forgotten
        if i % 300 == 200:  # a late beat, older than the newest one (the tier out of order for 70 s)
            script.append([{"t": t, "beat_times": [t - 1.7], "beat_hr_bpm": [float(rng.uniform(50, 120))]}])
        elif i % 300 == 100:  # a beat so late that it is forgotten at once, with the oldest ones
            script.append([{"t": t, "beat_times": [t - 75.0, t], "beat_hr_bpm": [70.0, float(rng.uniform(50, 120))]}])
        elif i % 41 == 7:  # a device HR sample (no beat times)
            script.append([{"t": t, "beat_times": [], "beat_hr_bpm": [], "hr_inst_bpm": float(rng.uniform(50, 120))}])
        else:
            script.append([{"t": t, "beat_times": [t], "beat_hr_bpm": [float(rng.uniform(50, 120))]}])
    tier = ProvisionalTier(_ScriptedHeart(script), _NoFinalRows())
    plain = _ListedBeatHr()
    first = 1
    for step in range(len(script)):
        for v in tier.update(None):
            plain.add(v)
        newest = tier.newest_second
        first = max(first, newest - int(rng.integers(5, 20)))
        ranges = [(first, newest), (first, newest - int(rng.integers(0, 3))), (first, newest + int(rng.integers(0, 3)))]
        ranges = [ranges[i] for i in rng.permutation(3)]  # past the newest beat too before the next one comes
        if step % 13 == 0:
            ranges.append((first - int(rng.integers(1, 8)), newest))  # a range that starts earlier
        if step % 17 == 0:  # a range whose first windows lose beats at the next update, asked after it too
            back = (newest - 65, newest - 55)
            ranges.append(back)
        elif step % 17 == 1:
            ranges.insert(0, back)
        for lo, hi in ranges:
            assert tier.hr_by_second(lo, hi) == plain.by_second(lo, hi), (step, lo, hi)


def test_peek_keeps_no_answer_across_an_update_of_the_same_row():
    """peek keeps its answers per final row; an update moves the state it reads, so an answer
    given before the update (even for the very row then made final) is not given after it."""
    rows = _rows(300, np.random.default_rng(8))
    cfg = PipelineConfig(baseline=(0.0, 100.0))
    peeked, plain = ToleranceEstimator("client", cfg), ToleranceEstimator("client", cfg)
    moved = 0
    for row in rows:
        before = peeked.peek(row, row["hr_bpm"] + 30.0, {"eda_scl_us": None})
        peeked.update(row)
        plain.update(row)
        after = peeked.peek(row, row["hr_bpm"] + 30.0, {"eda_scl_us": None})
        assert after == plain.peek(row, row["hr_bpm"] + 30.0, {"eda_scl_us": None})  # plain: not asked before
        unhashable = {"eda_scl_us": None, "events": ["computed as is"]}
        assert peeked.peek(row, row["hr_bpm"] + 30.0, unhashable) == after
        moved += before != after
    assert moved >= 2  # the zone moved under the answers (into window, then hyper): a stale one would show
