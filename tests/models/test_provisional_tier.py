"""The provisional tier of the pipeline (issue #15): values for viewers that never touch the final rows."""

from __future__ import annotations

import numpy as np

from coregulate.models.config import PipelineConfig
from coregulate.models.pipeline import SessionPipeline
from coregulate.models.tolerance import ToleranceEstimator
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
