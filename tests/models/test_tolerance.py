import numpy as np
import pytest

from coregulate.models.columns import ZONES
from coregulate.models.config import PipelineConfig
from coregulate.models.tolerance import ToleranceEstimator, ToleranceOptions, robust_stats
from coregulate.sensors.chunk import StreamKind


def _drive(est, hr, lnr, extra=None, quality="good"):
    rows, events = [], []
    for i, (h, ln) in enumerate(zip(hr, lnr)):
        row = {"t_s": i + 1, "hr_bpm": h, "ln_rmssd": ln, "quality": quality}
        if extra:
            row.update({k: v[i] for k, v in extra.items()})
        out, ev = est.update(row)
        rows.append(out)
        events += ev
    return rows, events


def _series(n, rng, segments):
    """HR / lnRMSSD with noise; segments: list of (start, end, dHR, dlnRMSSD)."""
    hr = 70 + rng.normal(0, 1, n)
    lnr = 3.5 + rng.normal(0, 0.05, n)
    for a, b, dh, dl in segments:
        hr[a:b] += dh
        lnr[a:b] += dl
    return hr, lnr


def test_robust_stats_floor():
    assert robust_stats([1.0] * 50, 0.5) == (1.0, 0.5)
    med, s = robust_stats(list(np.arange(101.0)), 0.1)
    assert med == 50 and s == pytest.approx(1.4826 * 25)


def test_hyper_sustained_hysteresis_and_events():
    rng = np.random.default_rng(0)
    hr, lnr = _series(900, rng, [(400, 520, 20, -0.5), (700, 712, 25, -0.6)])  # a real episode and a blip
    est = ToleranceEstimator("client", PipelineConfig())
    rows, events = _drive(est, hr, lnr)
    zones = [r["zone"] for r in rows]
    assert set(zones) <= set(ZONES)
    assert set(zones[:299]) == {"unknown"} and rows[10]["arousal"] is None
    assert "hyper" not in zones[300:428] and "hyper" not in zones[560:]
    onset = zones.index("hyper")
    assert 429 <= onset <= 432  # 30 s sustained
    back = zones.index("window", onset)
    assert 520 < back <= 540
    kinds = [(e.kind, e.label) for e in events]
    assert kinds == [("baseline", "baseline trusted"), ("zone_change", "unknown -> window"),
                     ("leave_window", "window -> hyper"), ("return_window", "hyper -> window")]
    ev = events[2]
    assert ev.participant == "client" and ev.evidence["arousal"] > 2 and "30 s" in ev.rule
    # no flicker: exactly one entry into hyper
    assert sum(1 for a, b in zip(zones, zones[1:]) if a != b) == 3


def test_hypo_needs_corroboration():
    rng = np.random.default_rng(1)
    hr, lnr = _series(700, rng, [(400, 600, -10, 0.5)])
    est = ToleranceEstimator("client", PipelineConfig())
    rows, _ = _drive(est, hr, lnr)
    assert "hypo_candidate" in [r["zone"] for r in rows] and "hypo" not in [r["zone"] for r in rows]

    move = np.full(700, 20.0) + rng.normal(0, 1, 700)
    move[400:600] = 3.0  # movement drops: freeze-like
    est = ToleranceEstimator("client", PipelineConfig())
    rows, events = _drive(est, hr, lnr, extra={"movement": move})
    zones = [r["zone"] for r in rows]
    assert "hypo" in zones
    hypo_ev = [e for e in events if e.label.endswith("-> hypo")]
    assert hypo_ev and "movement" in hypo_ev[0].rule and "movement" in hypo_ev[0].evidence["corroboration_z"]


def test_low_video_movement_corroborates_hypo_as_low_accelerometer_movement_does():
    rng = np.random.default_rng(1)
    hr, lnr = _series(700, rng, [(400, 600, -10, 0.5)])
    share = np.clip(0.08 + rng.normal(0, 0.02, 700), 0, 1)  # video MEA: share of the region's pixels changed
    still = share.copy()
    still[400:600] = 0.004  # the person sits still while HR falls and HRV rises

    def zones(movement, kind):
        est = ToleranceEstimator("client", PipelineConfig(), kind)
        rows, events = _drive(est, hr, lnr, extra={"movement": movement})
        return [r["zone"] for r in rows], events

    z, events = zones(still, StreamKind.MOTION)
    assert "hypo" in z
    (ev,) = [e for e in events if e.label.endswith("-> hypo")]
    assert "movement" in ev.evidence["corroboration_z"] and "movement" in ev.rule
    # the same numbers read as milli-g are far below an accelerometer's 1-mg floor: no corroboration
    # (what every video did before its movement had a floor of its own)
    assert "hypo" not in zones(still, StreamKind.ACC)[0] and "hypo_candidate" in zones(still, StreamKind.ACC)[0]
    # a person who keeps moving on video does not corroborate
    assert "hypo" not in zones(share, StreamKind.MOTION)[0]
    # nor does anything against a baseline where the video showed no movement at all (spread 0)
    z0, _ = zones(np.zeros(700), StreamKind.MOTION)
    assert "hypo" not in z0 and "hypo_candidate" in z0


def test_poor_quality_makes_zone_unknown():
    rng = np.random.default_rng(2)
    hr, lnr = _series(400, rng, [])
    est = ToleranceEstimator("client", PipelineConfig())
    _drive(est, hr[:350], lnr[:350])
    outs = [est.update({"t_s": 351 + i, "hr_bpm": 70, "ln_rmssd": 3.5, "quality": "poor"})[0]["zone"] for i in range(10)]
    assert outs[0] == "window" and outs[-1] == "unknown"


def test_explicit_baseline_segment():
    rng = np.random.default_rng(3)
    hr, lnr = _series(500, rng, [])
    est = ToleranceEstimator("client", PipelineConfig(baseline=(100.0, 200.0)))
    rows, _ = _drive(est, hr, lnr)
    assert rows[150]["zone"] == "unknown" and rows[250]["zone"] == "window"


def _simulated_rows(sim, kinds):
    from coregulate.models.autonomic import AutonomicEstimator
    from coregulate.models.heart import HeartEstimator

    cfg = PipelineConfig()
    result = {}
    for who in sim.participants:
        streams = [s for s in sim.streams if s.participant == who and s.kind in kinds]
        heart = HeartEstimator(who, streams, cfg)
        secs = []
        for c in sim.chunks():
            if c.participant == who and c.kind in kinds:
                secs += heart.update(c)
        secs += heart.finish()
        auto, tol = AutonomicEstimator(who, cfg), ToleranceEstimator(who, cfg)
        rows, events = [], []
        for t, r in secs:
            r = dict(r, t_s=t)
            r.update(auto.update(r)[0])
            out, ev = tol.update(r)
            r.update(out)
            rows.append(r)
            events += ev
        result[who] = (rows, events)
    return result


@pytest.mark.parametrize("kind", ["rr", "ecg"])
def test_simulator_hyperarousal_episode(kind):
    from coregulate.sensors.chunk import StreamKind
    from coregulate.sensors.simulator import Simulator

    sim = Simulator(seed=4, duration_s=1200, audio=False, rr=(kind == "rr"))
    kinds = {StreamKind.RR} if kind == "rr" else {StreamKind.ECG}
    res = _simulated_rows(sim, kinds)
    hyper = sim.truth.phase("hyper")
    rows, events = res["client"]
    zones = {r["t_s"]: r["zone"] for r in rows}
    assert all(zones[t] in ("unknown", "window") for t in range(1, int(hyper.start) + 1))  # calm baseline
    onset = min(t for t, z in zones.items() if z == "hyper")
    assert hyper.start < onset <= hyper.start + 60
    back = [e for e in events if e.kind == "return_window"]
    assert back and hyper.end < back[0].t_start <= hyper.end + 120
    assert not [t for t, z in zones.items() if z == "hyper" and t > back[0].t_start]
    th_rows, _ = res["therapist"]
    assert "hyper" not in {r["zone"] for r in th_rows}
    assert all(r["quality"] in ("good", "fair") for r in rows if r["t_s"] > 120)


@pytest.mark.realdata
@pytest.mark.parametrize("record", ["drive17a", "drive17b"])
def test_drivedb_arousal_higher_while_driving(shared_data, record):
    """Driving vs rest (Healey & Picard 2005) from ECG alone and with hand skin conductance."""
    import pandas as pd

    from coregulate.models.autonomic import AutonomicEstimator
    from coregulate.models.eda import EdaEstimator
    from coregulate.models.heart import HeartEstimator
    from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind

    from physio_helpers import drivedb

    d = drivedb(shared_data, record)
    (ecg, fs), (gsr, gfs) = d["ecg"], d["eda"]
    cfg = PipelineConfig()  # baseline: the first 300 s (rest in 17a, driving in 17b)
    ei, gi = StreamInfo("p", StreamKind.ECG, rate=fs), StreamInfo("p", StreamKind.EDA, rate=gfs)
    heart, eda = HeartEstimator("p", [ei], cfg), EdaEstimator("p", [gi], cfg)
    hs, es = [], []
    for s in range(int(len(ecg) / fs) + 1):
        a, b = int(s * fs), int((s + 1) * fs)
        c, e = int(s * gfs), int((s + 1) * gfs)
        if a < len(ecg):
            hs += heart.update(Chunk(ei, ecg[a:b], t0=a / fs))
        if c < len(gsr):
            es += eda.update(Chunk(gi, gsr[c:e], t0=c / gfs))
    hs, es = hs + heart.finish(), es + eda.finish()
    seg = d["segments"]
    for with_eda in (False, True):
        auto, tol = AutonomicEstimator("p", cfg), ToleranceEstimator("p", cfg)
        rows = []
        for (t, r), (_, re) in zip(hs, es):
            r = dict(r, t_s=t, **(re if with_eda else {}))
            r.update(auto.update(r)[0])
            r.update(tol.update(r)[0])
            rows.append(r)
        df = pd.DataFrame(rows)
        df["arousal"] = df.arousal.astype(float)

        def mean_arousal(kind):
            s = seg[seg.segment.str.startswith(kind)].iloc[0]
            m = df[(df.t_s > max(s.start_s, 300)) & (df.t_s <= s.end_s)].arousal
            assert m.notna().sum() > 200
            return m.mean()

        assert mean_arousal("driving") > mean_arousal("rest") + 1.0, with_eda
        assert df.arousal.abs().max() <= AROUSAL_BOUND  # the documented bound


# ------------------------------------------------------------------ the composite rule (issue 14)
from coregulate.models.columns import AROUSAL_BOUND  # noqa: E402
from coregulate.models.tolerance import COMPONENTS, composite  # noqa: E402


def combine(zs, baseline_components, bound):
    """The composite rule on z-scores given: each component with sign 1, median 0, spread 1."""
    a, conf, _ = composite(tuple((k, 1, 0.0, 1.0, COMPONENTS[k].weight) for k in zs), zs,
                           sum(COMPONENTS[k].weight for k in baseline_components), bound)
    return a, conf


def _update_all(est, rows):
    """Feed every row to ``est``; its outputs and all the events it gave."""
    outs, events = [], []
    for r in rows:
        o, ev = est.update(r)
        outs.append(o)
        events += ev
    return outs, events


def _full_rows(n, rng, scl=5.0, scr=1.0, hr=70.0, lnr=3.5):
    return [{"t_s": i + 1, "hr_bpm": hr + rng.normal(0, 1), "hr_inst_bpm": hr + rng.normal(0, 2),
             "ln_rmssd": lnr + rng.normal(0, 0.05), "eda_scl_us": scl + rng.normal(0, 0.01),
             "scr_per_min": scr, "quality": "good"} for i in range(n)]


def test_combine_bounds_each_component_and_reports_confidence():
    every = list(COMPONENTS)
    a, conf = combine({"hr": 100.0, "eda_scl_us": 0.0, "scr_per_min": 0.0, "ln_rmssd": 0.0}, every, 4.0)
    # one runaway channel moves arousal by at most its weight share of the bound
    assert a == pytest.approx(4.0 * 1.0 / 3.5) and conf == 1.0
    a, conf = combine({"hr": 2.0}, every, 4.0)
    assert a == pytest.approx(4.0 * np.tanh(0.5)) and conf == pytest.approx(1.0 / 3.5)  # renormalised value
    assert combine({"hr": 0.5}, every, 4.0)[0] == pytest.approx(0.5, abs=0.01)  # near z inside the bound
    assert combine({}, every, 4.0) == (None, 0.0)


def test_arousal_never_leaves_its_bound_and_floors_hold():
    rng = np.random.default_rng(5)
    rows = _full_rows(700, rng)
    for r in rows[400:]:  # a huge skin-conductance jump against a very steady baseline
        r["eda_scl_us"] = 50.0
        r["hr_inst_bpm"] = r["hr_bpm"] = 140.0
    est = ToleranceEstimator("client", PipelineConfig())
    outs = [est.update(r)[0] for r in rows]
    a = np.array([o["arousal"] for o in outs[300:]], float)
    assert np.nanmax(np.abs(a)) <= AROUSAL_BOUND
    assert np.nanmean(a[150:]) == pytest.approx(AROUSAL_BOUND * (1 + 1) / 3.5 + 0.0, abs=0.5)
    med, spread = est.stats["eda_scl_us"]
    assert spread == pytest.approx(0.05 * med)  # relative floor: 5 % of the level, not the tiny MAD
    assert est.stats["scr_per_min"][1] == 1.0  # one response per minute
    assert est.stats["hr"][1] >= 2.0


def test_missing_component_lowers_confidence_not_the_value():
    rng = np.random.default_rng(6)
    rows = _full_rows(500, rng)
    for r in rows[350:]:
        r["eda_scl_us"] = r["scr_per_min"] = None  # the skin-conductance sensor falls off
    est = ToleranceEstimator("client", PipelineConfig())
    outs = [est.update(r)[0] for r in rows]
    before = np.mean([o["arousal"] for o in outs[310:350]])
    after = np.mean([o["arousal"] for o in outs[360:500]])
    assert abs(after - before) < 0.5
    assert outs[340]["arousal_confidence"] == 1.0
    assert outs[400]["arousal_confidence"] == pytest.approx(1.5 / 3.5, abs=0.01)
    assert outs[400]["zone"] == "window"


def test_baseline_event_says_when_the_baseline_is_short_or_disturbed():
    rng = np.random.default_rng(7)
    rows = _full_rows(320, rng)
    for r in rows[:280]:
        r["eda_scl_us"] = None  # skin conductance starts 20 s before the baseline ends
        r["scr_per_min"] = None
    for r in rows[:120]:
        r["quality"] = "poor"
    est = ToleranceEstimator("client", PipelineConfig())
    events = [e for r in rows for e in est.update(r)[1] if e.kind == "baseline"]
    assert len(events) == 1
    ev = events[0]
    assert ev.evidence["trusted"] is False and ev.label.startswith("baseline not trusted")
    assert any(x.startswith("short: eda_scl_us") for x in ev.evidence["reasons"])
    assert any(x.startswith("disturbed: heart quality") for x in ev.evidence["reasons"])


def test_hrv_warm_up_is_neither_sparse_nor_disturbed_but_a_dropout_is():
    """The first window_s seconds have no heart rate, then partial windows: warm-up, not a shaky
    baseline, whatever the window (a 120-s window used to make every baseline untrusted)."""
    def verdict(window_s, quality):
        rng = np.random.default_rng(9)
        rows = _full_rows(301, rng)
        for r in rows:
            r["quality"] = quality(r["t_s"])
            if r["quality"] == "none":
                r["hr_bpm"] = r["hr_inst_bpm"] = r["ln_rmssd"] = None
        est = ToleranceEstimator("client", PipelineConfig(window_s=window_s))
        return next(e for r in rows for e in est.update(r)[1] if e.kind == "baseline").evidence

    def warm_up(window_s):
        return lambda t: "none" if t <= window_s / 2 else ("poor" if t <= window_s else "good")

    for window_s in (60.0, 120.0, 240.0):
        assert verdict(window_s, warm_up(window_s))["trusted"] is True
    dropout = verdict(120.0, lambda t: "none" if t <= 60 or 150 < t <= 200 else "good")
    assert dropout["trusted"] is False and [x.split(":")[0] for x in dropout["reasons"]] == ["sparse"]
    assert "no heart data in 28% of it" in dropout["reasons"][0]  # 50 of the 180 s after the warm-up
    poor = verdict(120.0, lambda t: "none" if t <= 60 else ("poor" if 150 < t <= 200 else "good"))
    assert poor["trusted"] is False and poor["reasons"] == ["disturbed: heart quality poor in 28% of its seconds "
                                                            "with heart data"]


def test_baseline_reference_from_another_recording_applies_from_the_first_second():
    rng = np.random.default_rng(8)
    rest = ToleranceEstimator("client", PipelineConfig(baseline=(0.0, float("inf"))))
    for r in _full_rows(200, rng):
        rest.update(r)
    ref = rest.baseline_reference()
    assert ref["verdict"]["trusted"] is True and set(ref["stats"]) == set(COMPONENTS)
    cfg = PipelineConfig(baseline_reference={"client": {"tolerance": {**ref, "origin": "separate resting recording"}}})
    est = ToleranceEstimator("client", cfg)
    out, events = est.update(_full_rows(1, rng, hr=90.0)[0])
    assert out["arousal"] is not None and out["arousal"] > 1.0
    assert events[0].kind == "baseline" and "separate resting recording" in events[0].label


def test_voice_only_baseline_is_not_called_disturbed():
    est = ToleranceEstimator("client", PipelineConfig())
    events = [e for t in range(1, 302) for e in est.update({"t_s": t, "quality": "none", "vocal_arousal": 0.1})[1]]
    assert [e.label for e in events if e.kind == "baseline"] == ["baseline: no arousal component in the data"]


def test_tolerance_bounds_are_the_options_in_force():
    from dataclasses import asdict

    from coregulate.models.tolerance import BOUND_FIELDS, tolerance_bounds

    defaults = asdict(ToleranceOptions())
    assert tolerance_bounds(None) == {k: float(defaults[k]) for k in BOUND_FIELDS}
    b = tolerance_bounds({"tolerance": {"hyper_enter": 3, "hypo_exit": 0.5, "min_confidence": 0.9}, "voice": {}})
    assert (b["hyper_enter"], b["hypo_exit"], b["hypo_enter"]) == (3.0, 0.5, defaults["hypo_enter"])
    assert "min_confidence" not in b  # what a reader needs to draw the band, not every option
    # the estimator reads the same overrides
    est = ToleranceEstimator("client", PipelineConfig(options={"tolerance": {"hyper_enter": 3}}))
    assert est.o.hyper_enter == b["hyper_enter"]
    assert tolerance_bounds({"tolerance": "not a mapping"}) == tolerance_bounds(None)


def _replay_tolerance(rows, movement, kind):
    """The tolerance estimator alone over finished rows, with a ``movement`` column added."""
    est = ToleranceEstimator("client", PipelineConfig(), kind)
    outs = []
    for r, m in zip(rows, movement):
        keep = {k: v for k, v in r.items() if k not in ("arousal", "arousal_confidence", "zone")}
        outs.append(est.update(dict(keep, movement=m))[0])
    return outs


def test_exertion_on_the_simulator_is_not_read_as_threat():
    """The simulator's scripted hyperarousal (HR up, RMSSD down) with the body still is called
    ``hyper``; the same heart with a body-worn accelerometer showing walking-level movement over
    the phase is exertion: no ``hyper``, the heart left out (no skin conductance here, so no
    arousal), and the heart back once the movement stopped and its hold ran out."""
    from coregulate.sensors.simulator import Simulator

    sim = Simulator(seed=4, duration_s=1200, audio=False, rr=True)
    rows, _ = _simulated_rows(sim, {StreamKind.RR})["client"]
    hyper = sim.truth.phase("hyper")
    rng = np.random.default_rng(1)
    t = np.array([r["t_s"] for r in rows])
    sitting = 5.0 + rng.normal(0, 1.0, len(rows))  # mg: fidgeting in a chair
    walking = np.where((t > hyper.start) & (t <= hyper.end), 150.0 + rng.normal(0, 20, len(rows)), sitting)

    still = _replay_tolerance(rows, sitting, StreamKind.ACC)
    assert "hyper" in {o["zone"] for o in still}  # as without an accelerometer

    moving = _replay_tolerance(rows, walking, StreamKind.ACC)
    zones = {tt: o["zone"] for tt, o in zip(t, moving)}
    assert "hyper" not in zones.values()
    during = [o for tt, o in zip(t, moving) if hyper.start + 30 < tt <= hyper.end]
    assert during and all(o["arousal"] is None and o["zone"] == "unknown" for o in during)
    # the heart comes back after the hold (60 s) and the zone with it
    after = [o for tt, o in zip(t, moving) if hyper.end + 120 < tt <= hyper.end + 180]
    assert all(o["arousal"] is not None for o in after) and "window" in {o["zone"] for o in after}
    # before the movement, the two runs are the same
    first = int(hyper.start)
    assert [o["arousal"] for o in moving[:first]] == [o["arousal"] for o in still[:first]]

    # video motion energy measures gestures, not workload: it does not gate the heart
    video = _replay_tolerance(rows, walking, StreamKind.MOTION)
    assert "hyper" in {o["zone"] for o in video}


def test_exertion_leaves_skin_conductance_and_lowers_confidence_and_threat_still_counts():
    rng = np.random.default_rng(8)
    rows = _full_rows(1100, rng)
    for i, r in enumerate(rows):
        r["movement"] = 6.0 + rng.normal(0, 1.0)
        if 400 <= i < 520:  # a climb of stairs: heart up, skin conductance as before
            r["movement"] = 180.0
            r["hr_inst_bpm"] = r["hr_bpm"] = 115.0 + rng.normal(0, 2)
            r["ln_rmssd"] = 2.8
        if 800 <= i < 920:  # a threat sitting still: heart and skin conductance up
            r["hr_inst_bpm"] = r["hr_bpm"] = 100.0 + rng.normal(0, 2)
            r["ln_rmssd"] = 3.0
            r["eda_scl_us"] = 7.0
            r["scr_per_min"] = 6.0
    est = ToleranceEstimator("client", PipelineConfig(), StreamKind.ACC)
    outs, events = _update_all(est, rows)
    climb = outs[440:520]
    # one exertion event for the climb: its seconds, each heart second counted once, skin-only arousal
    (ex,) = [e for e in events if e.kind == "exertion"]
    gated = [i for i, o in enumerate(outs) if o["arousal_confidence"] is not None and o["arousal_confidence"] < 1]
    assert ex.participant == "client" and ex.t_end - ex.t_start == ex.evidence["seconds"] == len(gated)
    assert (ex.t_start, ex.t_end) == (rows[gated[0]]["t_s"] - 1, rows[gated[-1]]["t_s"])
    assert ex.evidence["heart_seconds"] == ex.evidence["skin_only_seconds"] == len(gated)
    assert ex.evidence["empty_seconds"] == ex.evidence["baseline_seconds"] == 0
    assert ex.evidence["peak_movement_mg"] == pytest.approx(180.0, abs=1.0)
    assert est.finish() == []  # nothing open at the end
    assert all(o["zone"] == "window" for o in outs[400:700])
    assert all(o["arousal_confidence"] == pytest.approx(2 / 3.5, abs=1e-3) for o in climb)  # skin only
    assert max(abs(o["arousal"]) for o in climb) < 1.0
    assert outs[600]["arousal_confidence"] == 1.0  # 60-s hold over, the heart is back
    assert "hyper" in {o["zone"] for o in outs[800:950]}
    hyper_ev = [e for e in events if e.label == "window -> hyper"]
    assert len(hyper_ev) == 1 and hyper_ev[0].evidence["exertion"] is False
    # without the accelerometer's verdict the climb is read as threat
    plain = ToleranceEstimator("client", PipelineConfig())
    zones = [plain.update({k: v for k, v in r.items() if k != "movement"})[0]["zone"] for r in rows]
    assert "hyper" in zones[400:560]


def test_peek_leaves_the_heart_out_while_exerting():
    rng = np.random.default_rng(9)
    rows = _full_rows(450, rng)
    for i, r in enumerate(rows):
        r["movement"] = 200.0 if i >= 380 else 5.0
    est = ToleranceEstimator("client", PipelineConfig(), StreamKind.ACC)
    for r in rows:
        est.update(r)
    assert est.exerting
    calm, racing = est.peek(rows[-1], 70.0), est.peek(rows[-1], 150.0)
    assert calm["arousal"] == racing["arousal"] and calm["arousal_confidence"] == pytest.approx(2 / 3.5, abs=1e-3)


def test_exertion_through_the_pipeline_whatever_the_chunking():
    """The simulator's strap (RR) and a chest accelerometer swinging at walking level through the
    scripted hyper phase, through the whole pipeline: no ``hyper``, no arousal in the phase, and
    the client's rows the same whatever the accelerometer's chunking and interleaving."""
    from coregulate.models.pipeline import SessionPipeline
    from coregulate.sensors.chunk import Chunk, StreamInfo, rechunk
    from coregulate.sensors.simulator import Simulator

    sim = Simulator(seed=4, duration_s=900, audio=False, rr=True)
    hyper = sim.truth.phase("hyper")
    rr_streams = [s for s in sim.streams if s.kind == StreamKind.RR]
    rr_chunks = [c for c in sim.chunks() if c.kind == StreamKind.RR]
    acc = StreamInfo("client", StreamKind.ACC, rate=25.0, channels=("x", "y", "z"))
    rng = np.random.default_rng(3)
    t = np.arange(0, 900 * 25) / 25.0
    swing = np.where((t > hyper.start) & (t <= hyper.end), 250.0, 8.0)  # mg; SD = swing / sqrt(2)
    xyz = np.column_stack([rng.normal(0, 2, len(t)), rng.normal(0, 2, len(t)),
                           1000.0 + swing * np.sin(2 * np.pi * 1.8 * t) + rng.normal(0, 2, len(t))])
    whole = Chunk(acc, xyz, t0=0.0)

    exertion: list[list] = []

    def client_rows(chunks):
        pipe = SessionPipeline(rr_streams + [acc], PipelineConfig())
        rows, events = [], []
        for c in chunks:
            out = pipe.update(c)
            rows, events = rows + out.features, events + out.events
        out = pipe.finish()
        rows, events = rows + out.features, events + out.events
        exertion.append([e.to_dict() for e in events if e.kind == "exertion"])
        return {r["t_s"]: r for r in rows if r["participant"] == "client"}

    by_second = sorted([*rr_chunks, *rechunk([whole], 1.0)], key=lambda c: c.start)
    a = client_rows(by_second)
    b = client_rows([*rechunk([whole], 7.3), *rr_chunks])  # the accelerometer all first, other cuts
    assert a == b
    # one stretch told, the same whatever the chunking; no skin conductance: arousal empty in it
    assert exertion[0] == exertion[1] and len(exertion[0]) == 1
    (ev,) = exertion[0]
    empty = [s for s, r in a.items() if r["arousal"] is None and r["quality"] in ("good", "fair") and s > 300]
    assert ev["participant"] == "client" and ev["evidence"]["empty_seconds"] == ev["evidence"]["heart_seconds"] == len(empty)
    assert ev["t_start"] < hyper.start + 30 and ev["t_end"] > hyper.end + 60
    zones = [r["zone"] for r in a.values()]
    assert "hyper" not in zones and "window" in zones
    during = [r for s, r in a.items() if hyper.start + 30 < s <= hyper.end]
    assert during and all(r["arousal"] is None for r in during)
    assert all(r["movement"] > 100 for r in during)


def test_a_walk_inside_the_baseline_stays_out_of_the_heart_baseline():
    rng = np.random.default_rng(10)
    rows = _full_rows(400, rng)
    for i, r in enumerate(rows):
        r["movement"] = 5.0 + rng.normal(0, 1.0)
        if 120 <= i < 260:  # a long walk in the baseline: heart up with the effort
            r["movement"] = 200.0
            r["hr_inst_bpm"] = r["hr_bpm"] = 110.0
    walked = ToleranceEstimator("client", PipelineConfig(), StreamKind.ACC)
    for r in rows:
        walked.update(r)
    plain = ToleranceEstimator("client", PipelineConfig())  # no accelerometer: the walk is in the baseline
    for r in rows:
        plain.update({k: v for k, v in r.items() if k != "movement"})
    assert walked.stats["hr"][0] == pytest.approx(70.0, abs=1.0)
    assert walked.stats["hr"][1] < 3.0 < plain.stats["hr"][1]  # the resting spread, not the walk's
    assert walked.stats["eda_scl_us"] == plain.stats["eda_scl_us"]  # skin conductance kept


def test_an_exertion_still_going_at_the_end_is_told_by_finish_and_baseline_seconds_apart():
    """A walk inside the baseline, and one still going when the data end: ``finish`` closes the
    open stretch; the baseline's gated seconds are counted apart (they never had an arousal)."""
    rng = np.random.default_rng(11)
    rows = _full_rows(500, rng)
    for i, r in enumerate(rows):
        r["movement"] = 200.0 if 100 <= i < 160 or i >= 450 else 5.0 + rng.normal(0, 1.0)
        if i >= 470:
            r["quality"] = "none"  # the strap slipped: no heart to leave out
    est = ToleranceEstimator("client", PipelineConfig(), StreamKind.ACC)
    outs, events = _update_all(est, rows)
    (walk,) = [e for e in events if e.kind == "exertion"]
    assert walk.evidence["baseline_seconds"] == walk.evidence["heart_seconds"] == walk.evidence["seconds"]
    # from within the walk's first 30 s to the 60-s hold after its last 30-s mean above 60 mg: in the baseline
    assert 100 < walk.t_start < 130 and 160 + 60 < walk.t_end <= 160 + 30 + 60 < 300
    (end,) = est.finish()
    first = next(i for i in range(450, 500) if outs[i]["arousal_confidence"] < 1)  # the heart left out
    assert end.kind == "exertion" and (end.t_start, end.t_end) == (first, 500) and end.evidence["seconds"] == 500 - first
    assert end.evidence["heart_seconds"] == end.evidence["skin_only_seconds"] == 470 - first
    assert est.finish() == []
    # without an accelerometer nothing is gated and nothing is told
    plain = ToleranceEstimator("client", PipelineConfig())
    assert not [e for r in rows for e in plain.update({k: v for k, v in r.items() if k != "movement"})[1]
                if e.kind == "exertion"] and plain.finish() == []


def _hypo_rows(n, rng, low_hr_from, quiet):
    """Rows of a calm baseline (0-60 s), then HR 15 bpm lower from ``low_hr_from`` (arousal < -2);
    ``loudness_db`` about 60 dB, 20 dB lower in the seconds where ``quiet(t)``."""
    rows = []
    for t in range(1, n + 1):
        hr = 75.0 + rng.normal(0, 1) - (15.0 if t >= low_hr_from else 0.0)
        loud = 60.0 + rng.normal(0, 1) - (20.0 if quiet(t) else 0.0)
        rows.append({"t_s": t, "hr_bpm": float(hr), "ln_rmssd": 3.5, "quality": "good", "loudness_db": float(loud)})
    return rows


def _zone_changes(rows, cfg):
    est = ToleranceEstimator("client", cfg)
    return [(e.label, e.t_start, e.evidence.get("corroboration_z")) for r in rows for e in est.update(r)[1]
            if e.kind != "baseline"]


# evidence_s: how long before the change the voice's verdict decides it (hypo needs 10 corroborated seconds)
@pytest.mark.parametrize("quiet_from, before, after, evidence_s", [(150, "hypo_candidate", "hypo", 9),  # goes quiet
                                                                   (0, "hypo", "hypo_candidate", 0)])  # comes back
def test_peek_zone_changes_takes_the_hypo_corroboration_from_the_provisional_voice(quiet_from, before, after,
                                                                                   evidence_s):
    """The provisional tier has the voice's seconds ~10 s before the final rows (which wait for the
    heart): a change that turns on the corroboration alone is found on them, at the second and with
    the evidence the final tier later gives it, while the final state stays untouched."""
    cfg = PipelineConfig(baseline=(0.0, 60.0))
    quiet = (lambda t: t >= quiet_from) if quiet_from else (lambda t: 70 <= t < 150)
    rows = _hypo_rows(220, np.random.default_rng(3), 70, quiet)
    finals = [c for c in _zone_changes(rows, cfg) if c[0] == f"{before} -> {after}"]
    assert len(finals) == 1 and 150 < finals[0][1] < 185  # the final tier's change, after the voice's
    est = ToleranceEstimator("client", cfg)
    for r in rows[:149]:
        est.update(r)
    assert est.zone == before
    ahead = rows[149:185]  # the seconds the final tier has not finished yet
    hr_by_second = [(r["t_s"], r["hr_bpm"]) for r in ahead]
    voice = {r["t_s"]: {"loudness_db": r["loudness_db"], "vocal_arousal": None} for r in ahead}
    recent_before = {k: list(dq) for k, dq in est.recent.items()}
    low_before = dict(est.low)
    # held at the newest final row, the corroboration cannot change: nothing foreseen
    assert [e.label for e in est.peek_zone_changes(rows[148], hr_by_second)] == []
    peeked = [(e.label, e.t_start, e.evidence.get("corroboration_z"))
              for e in est.peek_zone_changes(rows[148], hr_by_second, voice)]
    assert peeked == finals
    assert {k: list(dq) for k, dq in est.recent.items()} == recent_before and est.low == low_before
    # voice seconds not in yet keep the newest verdict: the change is foreseen once the voice's
    # seconds reach the one whose verdict decides it, not before
    decisive = int(finals[0][1]) - evidence_s
    assert est.peek_zone_changes(rows[148], hr_by_second, {t: c for t, c in voice.items() if t < decisive}) == []
    partial = est.peek_zone_changes(rows[148], hr_by_second, {t: c for t, c in voice.items() if t <= decisive})
    assert [(e.label, e.t_start) for e in partial] == [finals[0][:2]]


_HASH_SEED_PROBE = """
import numpy as np
from coregulate.models.config import PipelineConfig
from coregulate.models.tolerance import ToleranceEstimator
rng = np.random.default_rng(3)
est = ToleranceEstimator("client", PipelineConfig())
out = []
for i in range(400):
    surge = 12.0 if i > 320 else 0.0
    row = {"t_s": i + 1, "hr_bpm": 70 + surge + rng.normal(0, 1), "hr_inst_bpm": 70 + rng.normal(0, 2),
           "ln_rmssd": 3.5 - surge / 30 + rng.normal(0, 0.05), "eda_scl_us": 5 + surge / 10 + rng.normal(0, 0.01),
           "scr_per_min": 1.0 + surge / 6, "quality": "good"}
    r, evs = est.update(row)
    out.append(r["arousal"].hex() if r.get("arousal") is not None else None)
    out += [repr(e.evidence) for e in evs]
print(out)
"""


def test_outputs_do_not_depend_on_the_string_hash_seed():
    # Python salts str hashes per process: a set's order (hence a sum's order over its keys, and
    # an event's evidence) would change from one run of the same recording to the next
    import os
    import subprocess
    import sys

    runs = {subprocess.run([sys.executable, "-c", _HASH_SEED_PROBE], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("0", "1", "2", "3")}
    assert len(runs) == 1


def test_peek_values_reads_each_row_once_and_gives_the_plain_values():
    """``_peek_values`` keeps the row's part per row and exertion verdict: the same values, in the same
    order, as reading every component again, through rows of every quality, missing and non-finite
    values, an exertion verdict that changes under the same row, and rows asked again after others."""
    from coregulate.models.base import finite_or_none

    def plain(est, row, hr):
        poor_heart = row.get("quality") in ("none", "poor") or est.exerting
        values = {}
        for k, c in COMPONENTS.items():
            if c.heart and poor_heart:
                continue
            v = finite_or_none(hr) if k == "hr" else finite_or_none(row.get(k))
            if v is not None:
                values[k] = v
        return values

    est = ToleranceEstimator("client", PipelineConfig())
    rows = [{"t_s": 1, "quality": q, "ln_rmssd": ln, "eda_scl_us": eda, "scr_per_min": scr}
            for q in ("good", "poor", "none", None) for ln in (3.5, None, float("nan"))
            for eda, scr in ((2.0, 1.0), (None, None), (float("inf"), "3"))]
    hrs = (72.5, None, float("nan"), np.float64(80.0), -0.0)
    asked = 0
    for row in rows + rows[::3]:
        for exerting in (False, True, False):
            est.exerting = exerting
            for hr in hrs:
                got = est._peek_values(row, hr)
                assert list(got.items()) == list(plain(est, row, hr).items())
                asked += 1
    assert asked == len(rows + rows[::3]) * 3 * len(hrs)


def test_final_row_arousal_is_the_plain_arousal_of_the_peek_values():
    """``_final_row_arousal`` keeps its answers per row, exertion verdict and baseline: the same bits
    as computing them again, through repeated HR values, a verdict and a baseline that change under
    the same row, and an HR of -0.0 (one key with 0.0, whose z has the other sign)."""
    import math

    def bits(answer):
        a, conf, zs = answer
        return (None if a is None else math.copysign(1.0, a) * abs(a), a, conf,
                [(k, v, math.copysign(1.0, v)) for k, v in zs.items()])

    est = ToleranceEstimator("client", PipelineConfig())
    est._adopt({"stats": {"hr": [0.0, 2.0], "ln_rmssd": [3.5, 0.2], "eda_scl_us": [2.0, 0.1]}})
    rows = [{"t_s": 1, "quality": q, "ln_rmssd": 3.3, "eda_scl_us": eda} for q in ("good", "poor") for eda in (2.4, None)]
    hrs = (72.5, 0.0, -0.0, None, float("nan"), np.float64(72.5), 72.5, 0.0)
    for row in rows + rows[::-1]:
        for exerting in (False, True, False):
            est.exerting = exerting
            for hr in hrs:
                assert bits(est._final_row_arousal(row, hr)) == bits(est._arousal(est._peek_values(row, hr)))
        est.stats = {**est.stats, "hr": (1.0, 2.0)}  # a new baseline under the same row
        assert bits(est._final_row_arousal(row, 72.5)) == bits(est._arousal(est._peek_values(row, 72.5)))


def test_arousal_in_one_pass_gives_the_bits_of_the_z_scores_then_combine():
    """``_arousal`` (z-scores and composite in one pass over the baseline, read once per baseline)
    gives the same bits as the z-scores over the stats followed by the composite rule written out,
    through missing components, signs of zero, a baseline replaced, and ``composite`` on z alone likewise."""
    import math

    def plain_combine(zs, stats, bound):
        total = sum(COMPONENTS[k].weight for k in stats)
        num = den = 0.0
        for k, z in zs.items():
            num += COMPONENTS[k].weight * bound * math.tanh(z / bound)
            den += COMPONENTS[k].weight
        return (None, 0.0) if den == 0 or total == 0 else (num / den, den / total)

    def plain(stats, values, bound):
        zs = {k: COMPONENTS[k].sign * (values[k] - med) / scale for k, (med, scale) in stats.items() if k in values}
        a, conf = plain_combine(zs, stats, bound)
        return a, round(conf, 3), zs

    def bits(answer):
        a, conf, zs = answer
        return (None if a is None else (a, math.copysign(1.0, a)), conf,
                [(k, v, math.copysign(1.0, v)) for k, v in zs.items()])

    rng = np.random.default_rng(3)
    est = ToleranceEstimator("client", PipelineConfig())
    baselines = [{"hr": (70.3, 3.1), "ln_rmssd": (3.5, 0.2), "eda_scl_us": (2.0, 0.1), "scr_per_min": (1.0, 1.0)},
                 {"ln_rmssd": (3.5, 0.15), "hr": (0.0, 2.0)}, {"eda_scl_us": (2.0, 0.1)}, {}]
    for stats in baselines:
        est.stats = stats
        for _ in range(200):
            values = {k: float(rng.choice([0.0, -0.0, rng.normal(70, 30), rng.normal(2, 1)]))
                      for k in COMPONENTS if rng.random() < 0.7}
            assert bits(est._arousal(values)) == bits(plain(stats, values, est.o.component_bound))
            zs = plain(stats, values, 4.0)[2]
            assert bits((*combine(zs, stats, 4.0), {})) == bits((*plain_combine(zs, stats, 4.0), {}))
