import math

import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.models.heart import HeartEstimator
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind, rechunk

from physio_helpers import cut_ecg_chunks, rr_chunks, rr_series, run


def _ecg(duration=150, fs=130.0, hr=70, seed=1):
    import neurokit2 as nk

    return nk.ecg_simulate(duration=duration, sampling_rate=fs, heart_rate=hr, method="simple", random_state=seed) * 1000


def _same(a, b):
    assert [t for t, _ in a] == [t for t, _ in b]
    for (_, ra), (_, rb) in zip(a, b):
        assert ra.keys() == rb.keys()
        for k in ra:
            va, vb = ra[k], rb[k]
            assert (va is None and vb is None) or va == vb, (k, va, vb)


def test_ecg_features_are_chunk_size_invariant():
    fs = 130.0
    info = StreamInfo("client", StreamKind.ECG, rate=fs)
    whole = [Chunk(info, _ecg(), t0=0.0)]
    outs = []
    for step in (0.37, 1.0, 7.3, 1000):
        est = HeartEstimator("client", [info], PipelineConfig())
        outs.append(run(est, rechunk(whole, step)))
    for o in outs[1:]:
        _same(outs[0], o)
    seconds = [t for t, _ in outs[0]]
    assert seconds == list(range(1, 151))
    late = outs[0][-1][1]
    assert late["hr_bpm"] == pytest.approx(70, abs=2)
    assert late["hf_ms2"] is not None and late["sdnn_ms"] is not None
    assert outs[0][5][1]["hr_bpm"] is None  # not enough window yet


def _rr_input(n=400, seed=0):
    rr = rr_series(n, seed=seed)
    return 2.0 + np.cumsum(rr) / 1000, rr


def test_rr_source_preferred_and_invariant():
    bt, rr = _rr_input()
    ecg = StreamInfo("client", StreamKind.ECG, rate=130.0)
    rrs = StreamInfo("client", StreamKind.RR)
    est = HeartEstimator("client", [ecg, rrs], PipelineConfig())
    assert est.source == StreamKind.RR and "1/1024" in est.note
    a = run(est, rr_chunks(bt, rr, per=1)[1])
    b = run(HeartEstimator("client", [ecg, rrs], PipelineConfig()), rr_chunks(bt, rr, per=37)[1])
    _same(a, b)
    t, row = a[200]
    inside = (bt > t - 60) & (bt <= t)
    assert row["beats_in_window"] == inside.sum()
    assert row["hr_bpm"] == pytest.approx(60000 / rr[inside].mean(), rel=1e-6)


def _window_reference(bt, t, window=60.0, gap_s=3.0):
    """Time-domain indices of the beats in (t - window, t] (each with its interval from the beat
    before it, as neurokit2 and Kubios count them), no interval across a gap > gap_s."""
    first = max(0, int(np.searchsorted(bt, t - window, side="right")) - 1)
    sel = bt[first : int(np.searchsorted(bt, t, side="right"))]
    rr = np.diff(sel) * 1000
    keep = rr <= gap_s * 1000
    runs = np.split(rr, np.flatnonzero(~keep))  # each piece after the first starts with the gap
    runs = [r[1:] if i else r for i, r in enumerate(runs)]
    nn = np.concatenate(runs)
    diffs = np.concatenate([np.diff(r) for r in runs])
    return {"hr_bpm": 60000 / nn.mean(), "rmssd_ms": np.sqrt(np.mean(diffs ** 2)), "covered_s": nn.sum() / 1000}


def test_gap_keeps_window_and_is_an_event():
    bt, rr = _rr_input(400)
    cut = (bt > 150) & (bt < 170)  # 20 s of lost beats
    bt2, rr2 = bt[~cut], rr[~cut]
    info, chunks = rr_chunks(bt2, rr2, per=3)
    est = HeartEstimator("client", [info], PipelineConfig())
    out = dict(run(est, chunks))
    ev = est.events()
    assert len(ev) == 1 and ev[0].kind == "gap" and ev[0].participant == "client"
    assert ev[0].t_start == pytest.approx(bt[bt <= 150][-1], abs=2.5)
    assert ev[0].t_end == pytest.approx(bt[bt >= 170][0], abs=2.5)
    assert out[140]["rmssd_ms"] is not None and out[140]["heart_coverage"] == pytest.approx(1.0, abs=0.02)
    # the window is not thrown away: right after the gap, indices come from the beats present,
    # with no interval (and no successive difference) across the gap, and a lower coverage
    for t in (160, 175, 200):
        ref = _window_reference(bt2, t)
        assert out[t]["rmssd_ms"] == pytest.approx(ref["rmssd_ms"], rel=1e-9)
        assert out[t]["hr_bpm"] == pytest.approx(ref["hr_bpm"], rel=1e-9)
        assert out[t]["heart_coverage"] == pytest.approx(ref["covered_s"] / 60, rel=1e-9)
        assert out[t]["heart_coverage"] < 0.9 and out[t]["heart_source"] == "rr"
    assert all(out[t]["hr_bpm"] is not None for t in range(40, 330))
    # spectra need one uninterrupted run over the window: none while the gap is inside it
    assert out[200]["hf_ms2"] is None and out[240]["hf_ms2"] is not None


def test_gap_before_flag_marks_dropout():
    bt, rr = _rr_input(300)
    info, chunks = rr_chunks(bt, rr, per=10)
    k = len(chunks) // 2
    c = chunks[k]
    chunks[k] = Chunk(c.stream, c.values, times=c.times, gap_before=True)
    est = HeartEstimator("client", [info], PipelineConfig())
    out = dict(run(est, chunks))
    ev = est.events()
    assert [e.kind for e in ev] == ["gap"]
    t_gap = math.ceil(ev[0].t_end)
    # a dropout of one notification costs no second of hr_bpm or rmssd, only one interval
    assert all(out[t]["rmssd_ms"] is not None for t in range(40, t_gap + 60))
    assert out[t_gap + 5]["beats_in_window"] < out[t_gap - 5]["beats_in_window"] + 2


def test_hr_only_stream():
    info = StreamInfo("client", StreamKind.HR, rate=1.0)
    chunks = [Chunk(info, np.full(10, 72.0), t0=float(i)) for i in range(0, 100, 10)]
    out = run(HeartEstimator("client", [info], PipelineConfig()), chunks)
    assert out[-1][1]["hr_bpm"] == 72.0 and out[-1][1]["rmssd_ms"] is None


def test_ppg_beats_and_motion_artefact_gap():
    import neurokit2 as nk

    fs = 64.0
    x = nk.ppg_simulate(duration=240, sampling_rate=fs, heart_rate=70, random_state=2)
    info = StreamInfo("client", StreamKind.PPG, rate=fs)
    whole = [Chunk(info, x, t0=0.0)]
    a = run(HeartEstimator("client", [info], PipelineConfig()), rechunk(whole, 1.0))
    b = run(HeartEstimator("client", [info], PipelineConfig()), rechunk(whole, 9.1))
    _same(a, b)
    assert dict(a)[200]["hr_bpm"] == pytest.approx(70, abs=3)
    noisy = x.copy()
    rng = np.random.default_rng(0)
    noisy[int(100 * fs) : int(130 * fs)] += 8 * np.std(x) * rng.standard_normal(int(30 * fs))  # motion burst
    est = HeartEstimator("client", [info], PipelineConfig())
    out = dict(run(est, rechunk([Chunk(info, noisy, t0=0.0)], 1.0)))
    gaps = [e for e in est.events() if e.kind == "gap"]
    assert gaps and 90 <= gaps[0].t_start <= 112 and gaps[0].t_end >= 125
    assert out[140]["rmssd_ms"] is None


def test_hr_inst_follows_beats():
    bt, rr = _rr_input(200)
    info, chunks = rr_chunks(bt, rr, per=4)
    out = dict(run(HeartEstimator("client", [info], PipelineConfig()), chunks))
    t = 100
    sel = (bt > t - 1) & (bt <= t)
    if sel.any():
        assert out[t]["hr_inst_bpm"] == pytest.approx(np.mean(60000 / rr[sel]), rel=1e-6)
    assert all(out[s]["hr_inst_bpm"] is not None for s in range(10, 150))


def test_simulated_ecg_rechunked_and_rsa_breathing():
    """Simulator ECG re-cut into other chunk sizes gives identical seconds; the RSA peak of the
    tachogram recovers the scripted breathing rate."""
    from coregulate.sensors.simulator import Simulator

    sim = Simulator(seed=2, duration_s=400, audio=False, rr=False)
    ecg = [c for c in sim.chunks() if c.participant == "therapist" and c.kind == StreamKind.ECG]
    streams = [s for s in sim.streams if s.participant == "therapist"]
    a = run(HeartEstimator("therapist", streams, PipelineConfig()), ecg)
    b = run(HeartEstimator("therapist", streams, PipelineConfig()), rechunk(ecg, 2.9))
    _same(a, b)
    truth = sim.truth.phase("baseline").therapist.breath_rpm
    br = [r["breathing_rpm"] for t, r in a if 120 <= t <= 280]
    assert all(x is not None for x in br)
    assert np.median(br) == pytest.approx(truth, abs=1.0)


def test_missing_ecg_samples_are_a_gap():
    fs = 130.0
    x = _ecg(duration=200)
    x[int(90 * fs) : int(100 * fs)] = np.nan  # the source marks lost samples as NaN
    info = StreamInfo("client", StreamKind.ECG, rate=fs)
    whole = [Chunk(info, x, t0=0.0)]
    a = run(HeartEstimator("client", [info], PipelineConfig()), rechunk(whole, 1.0))
    est = HeartEstimator("client", [info], PipelineConfig())
    b = run(est, rechunk(whole, 6.1))
    _same(a, b)
    gaps = [e for e in est.events() if e.kind == "gap"]
    assert len(gaps) == 1 and 88 <= gaps[0].t_start <= 90.5 and 100 <= gaps[0].t_end <= 101.5
    out = dict(a)
    assert out[80]["rmssd_ms"] is not None and out[170]["rmssd_ms"] is not None
    # the 10-s hole costs coverage, not the window: HRV goes on from the beats present
    assert all(out[t]["hr_bpm"] is not None for t in range(40, 201))
    assert 0.75 < out[110]["heart_coverage"] < 0.9 and out[80]["heart_coverage"] > 0.97


@pytest.mark.realdata
@pytest.mark.parametrize("name,max_median_err", [("bio_resting_8min_100hz", 1.5), ("bio_resting_5min_100hz", 3.5)])
def test_ecg_derived_breathing_tracks_the_belt(shared_data, name, max_median_err):
    """R-amplitude EDR against the respiration belt of the neurokit2 resting recordings."""
    import pandas as pd

    from coregulate.models.movement import MovementEstimator

    df = pd.read_csv(shared_data / "neurokit_bio" / f"{name}.csv")
    if "PhotoSensor" in df:
        df = df[df.PhotoSensor == 0]  # the resting part
    ecg, resp = StreamInfo("p", StreamKind.ECG, rate=100.0), StreamInfo("p", StreamKind.RESP, rate=100.0)
    h = dict(run(HeartEstimator("p", [ecg], PipelineConfig()), [Chunk(ecg, df.ECG.to_numpy() * 1000, t0=0.0)]))
    m = dict(run(MovementEstimator("p", [resp], PipelineConfig()), [Chunk(resp, df.RSP.to_numpy(), t0=0.0)]))
    full = [t for t in h if h[t]["hf_ms2"] is not None and m.get(t, {}).get("breathing_rpm") is not None]
    pairs = [(h[t]["breathing_rpm"], m[t]["breathing_rpm"]) for t in full if h[t]["breathing_rpm"] is not None]
    assert len(pairs) >= 0.75 * len(full)
    assert np.median([abs(a - b) for a, b in pairs]) <= max_median_err


# ----------------------------------------------------------------- fusion of several sources
def _sim_sources(duration=300, hole=(100.0, 130.0)):
    """The simulator's client ECG and strap RR (RR beats missing in ``hole``) and a 1-Hz device HR."""
    from coregulate.sensors.simulator import Simulator

    sim = Simulator(seed=3, duration_s=400, audio=False, rr=True)  # the script needs > 300 s
    ecg, rr = [], []
    for c in sim.chunks():
        if c.participant != "client" or c.start >= duration:
            continue
        if c.kind == StreamKind.ECG:
            ecg.append(c)
        else:
            keep = ~((c.times > hole[0]) & (c.times < hole[1]))
            rr.append(Chunk(c.stream, c.values[keep], times=c.times[keep], t_end=c.t_end))
    bt = sim.truth.beat_times["client"]
    hr_info = StreamInfo("client", StreamKind.HR, rate=1.0)
    sec = np.arange(duration)
    hr = np.array([60.0 / np.mean(np.diff(bt[(bt > max(s, 5) - 5) & (bt <= max(s, 5) + 1)])) for s in sec])
    hr_chunks = [Chunk(hr_info, hr[i : i + 10], t0=float(i)) for i in range(0, duration, 10)]
    streams = [ecg[0].stream, rr[0].stream, hr_info]
    return streams, ecg, rr, hr_chunks


def _events(est):
    return sorted((e.kind, round(e.t_start, 6), round(e.t_end, 6)) for e in est.events())


def test_several_heart_sources_fuse_the_same_whatever_the_interleaving():
    streams, ecg, rr, hr = _sim_sources()
    by_time = sorted(ecg + rr + hr, key=lambda c: (c.start, c.kind.value))
    orders = {
        "by time": by_time,
        "recut": sorted([*rechunk(ecg, 2.9), *rechunk(rr, 0.37), *rechunk(hr, 7.0)], key=lambda c: c.start),
        "rr, hr, then ecg": rr + hr + ecg,
        "ecg, then hr, then rr": ecg + hr + rr,
    }
    outs, evs = {}, {}
    for name, chunks in orders.items():
        est = HeartEstimator("client", streams, PipelineConfig())
        outs[name] = run(est, chunks)
        evs[name] = _events(est)
    first = outs["by time"]
    for name in orders:
        _same(first, outs[name])
        assert evs[name] == evs["by time"], name
    out = dict(first)
    assert [t for t, _ in first] == list(range(1, 301))
    # the strap's RR outranks the ECG; the ECG fills the RR hole, so nothing is a gap
    assert out[90]["heart_source"] == "rr" and out[250]["heart_source"] == "rr"
    assert {out[t]["heart_source"] for t in range(105, 130)} == {"ecg"}
    assert evs["by time"] == []
    assert all(out[t]["hr_bpm"] is not None and out[t]["hr_inst_bpm"] is not None for t in range(31, 301))
    # while RR covers the whole window, the ECG changes nothing: same as RR alone
    rr_only = dict(run(HeartEstimator("client", [streams[1]], PipelineConfig()), rr))
    for t in (60, 90, 99):
        assert out[t]["rmssd_ms"] == rr_only[t]["rmssd_ms"] and out[t]["hr_bpm"] == rr_only[t]["hr_bpm"]
    # across the switch each interval comes from one source: HR stays close to the truth
    full = dict(run(HeartEstimator("client", [streams[1]], PipelineConfig()), _sim_sources(hole=(0, 0))[2]))
    assert max(abs(out[t]["hr_bpm"] - full[t]["hr_bpm"]) for t in range(100, 200)) < 1.0


def test_device_hr_carries_hr_where_no_beats_are_usable():
    import neurokit2 as nk

    from coregulate.models.autonomic import AutonomicEstimator

    fs = 64.0
    x = nk.ppg_simulate(duration=300, sampling_rate=fs, heart_rate=70, random_state=4)
    rng = np.random.default_rng(1)
    x[int(60 * fs) : int(200 * fs)] += 8 * np.std(x) * rng.standard_normal(int(140 * fs))  # long motion
    ppg = StreamInfo("client", StreamKind.PPG, rate=fs)
    hr = StreamInfo("client", StreamKind.HR, rate=1.0)
    chunks = sorted([*rechunk([Chunk(ppg, x, t0=0.0)], 1.0),
                     *[Chunk(hr, np.full(5, 75.0), t0=float(i)) for i in range(0, 300, 5)]], key=lambda c: c.start)
    est = HeartEstimator("client", [ppg, hr], PipelineConfig())
    a = run(est, chunks)
    b = run(HeartEstimator("client", [ppg, hr], PipelineConfig()),
            [*rechunk([Chunk(ppg, x, t0=0.0)], 6.1), *[c for c in chunks if c.kind == StreamKind.HR]])
    _same(a, b)
    out = dict(a)
    assert all(out[t]["hr_bpm"] is not None for t in range(1, 301))
    assert out[50]["heart_source"] == "ppg" and out[50]["hr_bpm"] == pytest.approx(70, abs=3)
    assert out[10]["heart_source"] == "device_hr"  # before the beats cover half a window
    mid = [out[t] for t in range(120, 200)]
    assert all(r["heart_source"] == "device_hr" and r["hr_bpm"] == 75.0 and r["rmssd_ms"] is None for r in mid)
    assert out[290]["heart_source"] == "ppg"
    assert [e.kind for e in est.events()] == ["gap"]
    auto = AutonomicEstimator("client", PipelineConfig())
    assert auto.update(out[150])[0]["quality"] == "fair"


def test_dropouts_cost_what_they_last_on_ecg():
    fs = 130.0
    x = _ecg(duration=240)
    t = np.arange(len(x)) / fs
    ref = dict(run(HeartEstimator("client", [StreamInfo("client", StreamKind.ECG, rate=fs)], PipelineConfig()),
                   cut_ecg_chunks(t, x, fs, None)[1]))
    for d in (0.5, 2.0, 5.0):
        info, chunks = cut_ecg_chunks(t, x, fs, (100.0, 100.0 + d))
        est = HeartEstimator("client", [info], PipelineConfig())
        out = dict(run(est, chunks))
        assert [e.kind for e in est.events()] == ["gap"]
        for col in ("hr_bpm", "hr_inst_bpm"):
            lost = [s for s in range(61, 241) if ref[s][col] is not None and out[s][col] is None]
            assert len(lost) <= d + 2, (d, col, lost)
        assert all(out[s]["rmssd_ms"] is not None for s in range(61, 241))
        assert all(out[s] == ref[s] for s in range(61, 90))


@pytest.mark.realdata
def test_real_ecg_dropouts_cost_what_they_last(shared_data):
    """Gaps of 0.5, 2, 5 and 30 s cut into the Polar H10 ECG (with its ectopic beats): hr_bpm and
    hr_inst_bpm are missing on at most d + 2 s more than without the gap, and away from the gap
    (once the artefact corrector has its 91-beat context back) the features are unchanged."""
    from physio_helpers import polar_ecg

    t, ecg, _ = polar_ecg(shared_data)
    info, chunks = cut_ecg_chunks(t, ecg, 130.0, None)
    ref = dict(run(HeartEstimator("client", [info], PipelineConfig()), chunks))
    at = 240.0
    for d in (0.5, 2.0, 5.0, 30.0):
        info, chunks = cut_ecg_chunks(t, ecg, 130.0, (at, at + d))
        est = HeartEstimator("client", [info], PipelineConfig())
        out = dict(run(est, chunks))
        assert [e.kind for e in est.events()] == ["gap"]
        counted = [s for s in ref if s > 60]
        for col in ("hr_bpm", "hr_inst_bpm"):
            lost = [s for s in counted if ref[s][col] is not None and out[s][col] is None]
            assert len(lost) <= d + 2, (d, col, lost)
        away = [s for s in counted if s <= at - 10 or s >= at + d + 60 + 90]
        for s in away:
            assert out[s]["hr_bpm"] == pytest.approx(ref[s]["hr_bpm"], abs=0.01), (d, s)
            assert out[s]["rmssd_ms"] == pytest.approx(ref[s]["rmssd_ms"], abs=0.1), (d, s)


def test_beat_source_order_is_a_setting():
    streams, ecg, rr, hr = _sim_sources(hole=(0, 0))
    cfg = PipelineConfig(options={"heart": {"beat_sources": ["ecg", "rr", "ppg"]}})
    est = HeartEstimator("client", streams, cfg)
    assert est.source == StreamKind.ECG
    out = dict(run(est, sorted(ecg + rr + hr, key=lambda c: c.start)))
    assert {out[t]["heart_source"] for t in range(60, 300)} == {"ecg"}
    with pytest.raises(ValueError, match="beat_sources"):
        HeartEstimator("client", streams, PipelineConfig(options={"heart": {"beat_sources": ["ecg", "hr"]}}))


def test_ecg_is_detected_only_where_the_rr_does_not_cover():
    streams, ecg, rr, hr = _sim_sources()
    chunks = sorted(ecg + rr + hr, key=lambda c: c.start)
    gated = HeartEstimator("client", streams, PipelineConfig())
    always = HeartEstimator("client", streams, PipelineConfig(options={"heart": {"ecg_gate_margin_s": 0}}))
    a, b = dict(run(gated, chunks)), dict(run(always, chunks))
    # the 30-s RR hole plus the margins and the start: a small part of the 300 s
    assert gated.tracks[1].kind == StreamKind.ECG and 30 <= gated.tracks[1].slots_detected <= 60
    assert {a[t]["heart_source"] for t in range(105, 130)} == {"ecg"}
    for t in range(1, 301):
        for col in ("hr_bpm", "rmssd_ms", "hr_inst_bpm"):
            if b[t][col] is None:
                assert a[t][col] is None, (t, col)
            else:  # ECG beats in the hole come from a segment that starts elsewhere: microseconds
                assert a[t][col] == pytest.approx(b[t][col], abs=0.01), (t, col)


def _acc(duration, fs=50.0, strong=(100.0, 115.0), seed=3):
    """3-axis ACC (mg): gravity on z, sensor noise, and arm swing of ~300 mg RMS inside ``strong``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration * fs)) / fs
    x = np.column_stack([5 * rng.standard_normal(len(t)), 5 * rng.standard_normal(len(t)),
                         1000 + 5 * rng.standard_normal(len(t))])
    swing = (t >= strong[0]) & (t < strong[1])
    x[swing, 0] += 400 * np.sin(2 * np.pi * 1.8 * t[swing])
    return StreamInfo("client", StreamKind.ACC, rate=fs, channels=("x", "y", "z")), x


def test_strong_motion_drops_ppg_beats_whatever_the_interleaving():
    import neurokit2 as nk

    from coregulate.models.autonomic import AutonomicEstimator

    fs = 64.0
    x = nk.ppg_simulate(duration=240, sampling_rate=fs, heart_rate=70, random_state=2)  # clean: only ACC says motion
    ppg = StreamInfo("client", StreamKind.PPG, rate=fs)
    acc, a = _acc(240)
    ppg_chunks = list(rechunk([Chunk(ppg, x, t0=0.0)], 1.0))
    acc_chunks = list(rechunk([Chunk(acc, a, t0=0.0)], 1.0))
    orders = {
        "by time": sorted(ppg_chunks + acc_chunks, key=lambda c: (c.start, c.kind.value)),
        "acc first": acc_chunks + ppg_chunks,
        "ppg first": ppg_chunks + acc_chunks,
        "recut": sorted([*rechunk([Chunk(ppg, x, t0=0.0)], 3.3), *rechunk([Chunk(acc, a, t0=0.0)], 0.7)],
                        key=lambda c: c.start),
    }
    outs, evs = {}, {}
    for name, chunks in orders.items():
        est = HeartEstimator("client", [ppg, acc], PipelineConfig())
        outs[name] = run(est, chunks)
        evs[name] = est.events()
    for name in orders:
        _same(outs["by time"], outs[name])
    gated = dict(outs["by time"])
    plain = dict(run(HeartEstimator("client", [ppg], PipelineConfig()), ppg_chunks))
    gaps = [e for e in evs["by time"] if e.kind == "gap"]
    assert len(gaps) == 1 and "strong motion" in gaps[0].rule
    assert 98 <= gaps[0].t_start <= 100.5 and 115 <= gaps[0].t_end <= 117
    for t in (60, 99, 200):  # before the motion, and a window after it, nothing changes
        for k, v in plain[t].items():  # (running sums: last-digit noise)
            assert gated[t][k] == (pytest.approx(v, rel=1e-9) if isinstance(v, float) else v), (t, k)
    # during and after it, the window holds fewer beats, covers less, and the quality says so
    assert gated[130]["beats_in_window"] < plain[130]["beats_in_window"] - 10
    assert gated[130]["heart_coverage"] < 0.8 < plain[130]["heart_coverage"]
    auto = AutonomicEstimator("client", PipelineConfig())
    assert auto.update(plain[130])[0]["quality"] == "good" and auto.update(gated[130])[0]["quality"] == "fair"
    # the gate is an option: 0 turns it off
    off = PipelineConfig(options={"heart": {"ppg_motion_mg": 0}})
    _same(run(HeartEstimator("client", [ppg, acc], off), orders["by time"]),
          run(HeartEstimator("client", [ppg], off), ppg_chunks))


def test_ecg_beats_with_a_poor_waveform_lower_quality():
    from coregulate.models.autonomic import AutonomicEstimator

    fs = 130.0
    x = _ecg(duration=200, fs=fs, hr=70)
    rng = np.random.default_rng(5)
    noisy = x.copy()
    seg = slice(int(100 * fs), int(130 * fs))
    noisy[seg] += 0.35 * np.ptp(x) * rng.standard_normal(seg.stop - seg.start)
    info = StreamInfo("client", StreamKind.ECG, rate=fs)
    clean = dict(run(HeartEstimator("client", [info], PipelineConfig()), rechunk([Chunk(info, x, t0=0.0)], 1.0)))
    out = dict(run(HeartEstimator("client", [info], PipelineConfig()), rechunk([Chunk(info, noisy, t0=0.0)], 1.0)))
    assert all(clean[t]["beats_poor"] == 0 for t in range(10, 200))
    assert all(out[t]["beats_poor"] == 0 for t in range(10, 100))
    assert max(out[t]["beats_poor"] for t in range(110, 190)) >= 0.15 * out[130]["beats_in_window"]
    auto = AutonomicEstimator("client", PipelineConfig())
    assert auto.update(clean[135])[0]["quality"] == "good"
    assert auto.update(out[135])[0]["quality"] == "poor"


@pytest.mark.realdata
def test_real_verity_sense_ppg_with_its_accelerometer(shared_data):
    """Polar Verity Sense PPG + its own ACC (3 of 513 s above the strong-motion threshold): the
    beats of those seconds are dropped as gaps, and from a window + the corrector's context
    after the last of them on, every feature is what the PPG alone gives."""
    from coregulate.sensors.readers import open_reader
    from coregulate.sensors.spec import parse_spec

    d = shared_data / "polar_verity_sense_ppg_biobss"
    rp = open_reader(parse_spec(f"client={d / 'Polar_Sense_PPG.txt'}"))
    ra = open_reader(parse_spec(f"client={d / 'Polar_Sense_ACC.txt'}"))
    ppg = list(rp.chunks())
    acc = [c.shifted(ra.streams[0].utc_start - rp.streams[0].utc_start) for c in ra.chunks()]  # one session clock
    est = HeartEstimator("client", [rp.streams[0], ra.streams[0]], PipelineConfig())
    both = dict(run(est, sorted(ppg + acc, key=lambda c: c.start)))
    alone = dict(run(HeartEstimator("client", [rp.streams[0]], PipelineConfig()), ppg))
    strong = sorted(s for s, m in est.motion_track.motion.motion_mg.items() if m > 100)
    assert len(strong) == 3 and 1 <= est.motion_track.motion_dropped <= 6
    gaps = [e for e in est.events() if e.kind == "gap"]
    assert gaps and all("strong motion" in e.rule for e in gaps)
    assert all(any(e.t_start <= s + 1 and e.t_end >= s for e in gaps) for s in strong)
    for t in range(200, len(alone) + 1):
        for k, v in alone[t].items():
            assert both[t][k] == (pytest.approx(v, rel=1e-9) if isinstance(v, float) else v), (t, k)
    has_hr = [sum(o[t]["hr_bpm"] is not None for t in o) / len(o) for o in (alone, both)]
    assert has_hr[0] - 0.02 <= has_hr[1] <= has_hr[0]


def _ppg_and_its_beats(duration=300, fs=64.0, seed=6):
    """A simulated PPG with HRV and its beat times (found by the detector on the whole record)."""
    import neurokit2 as nk

    x = nk.ppg_simulate(duration=duration, sampling_rate=fs, heart_rate=65, ibi_randomness=0.2,
                        frequency_modulation=0.3, random_state=seed)
    det = __import__("coregulate.models.beats", fromlist=["BeatDetector"]).BeatDetector(fs, "ppg")
    beats = np.array(det.push(x, np.arange(len(x)) / fs) + det.end_segment())
    return x, beats


@pytest.mark.parametrize("late", [0.0, 12.0])
def test_a_device_rr_on_another_clock_is_detected_and_named(late):
    fs = 64.0
    x, beats = _ppg_and_its_beats()
    ppg = StreamInfo("client", StreamKind.PPG, rate=fs)
    rr_t = beats[1:] + late  # the device dates its intervals `late` seconds after the beats
    info, rr = rr_chunks(rr_t[rr_t < 300], 1000 * np.diff(beats)[rr_t < 300], per=3)
    chunks = sorted([*rechunk([Chunk(ppg, x, t0=0.0)], 1.0), *rr], key=lambda c: c.start)
    est = HeartEstimator("client", [ppg, info], PipelineConfig())
    run(est, chunks)
    warns = [e for e in est.events() if e.kind == "warning"]
    if not late:
        assert warns == []
        return
    assert len(warns) == 1 and warns[0].evidence["shift_s"] == pytest.approx(-late, abs=0.05)
    assert "RR beats sit 12.0 s after the same beats in the PPG" in warns[0].label
    assert "delay_s=12.0" in warns[0].label
    # another interleaving, another chunking: the same warning, at the same time
    est2 = HeartEstimator("client", [ppg, info], PipelineConfig())
    run(est2, [*rr, *rechunk([Chunk(ppg, x, t0=0.0)], 4.7)])
    assert [(e.t_start, e.label) for e in est2.events() if e.kind == "warning"] == [(warns[0].t_start, warns[0].label)]


@pytest.mark.realdata
def test_real_verity_ppi_offset_is_found_and_the_option_aligns_it(shared_data):
    from coregulate.sensors.readers import open_reader
    from coregulate.sensors.spec import parse_spec

    d = shared_data / "polar_verity_sense_ppg_biobss"
    rp = open_reader(parse_spec(f"client={d / 'Polar_Sense_PPG.txt'}"))
    found = []
    for spec in (f"client={d / 'Polar_Sense_PPI.txt'}", f"client={d / 'Polar_Sense_PPI.txt'}?delay_s=16"):
        ri = open_reader(parse_spec(spec))
        shift = ri.streams[0].utc_start - rp.streams[0].utc_start  # one session clock, as analyze builds it
        chunks = sorted([*rp.chunks(), *(c.shifted(shift) for c in ri.chunks())], key=lambda c: c.start)
        est = HeartEstimator("client", [rp.streams[0], ri.streams[0]], PipelineConfig())
        run(est, chunks)
        found.append([e for e in est.events() if e.kind == "warning"])
    # (bench/validate_heart.py matches all beats at -16.2 s; the first 120 give -15.8 s)
    assert len(found[0]) == 1 and found[0][0].evidence["shift_s"] == pytest.approx(-16.0, abs=0.3)
    assert found[1] == []


def test_no_ppg_interval_spans_a_beat_rejected_for_its_waveform():
    """Two pulses replaced by noise (at 40 and 75 s): the detector rejects them (the intervals
    across them, 1.8 and 2.3 s, are under the 3-s gap limit), and the PPG run ends there, a gap
    event naming the rejected beat, instead of the interval entering HRV or the artefact
    corrector inserting a beat in it; chunk-invariant."""
    import neurokit2 as nk

    fs = 64.0
    x = nk.ppg_simulate(duration=120, sampling_rate=fs, heart_rate=70, random_state=5)
    rng = np.random.default_rng(3)
    for c in (40.0, 75.0):
        seg = slice(int(c * fs), int((c + 0.9) * fs))
        x[seg] = np.mean(x) + 3 * np.std(x) * rng.standard_normal(seg.stop - seg.start)
    info = StreamInfo("client", StreamKind.PPG, rate=fs)
    fused, rows = [], []
    for step in (64, 1000):
        est = HeartEstimator("client", [info], PipelineConfig())
        out = []
        for i in range(0, len(x), step):
            out += est.update(Chunk(info, x[i : i + step], t0=i / fs))
        out += est.finish()
        fused.append(list(est.fused))  # (t, track, rr_ms, ...): trimmed only past 4096 beats
        rows.append(dict(out))
        events = est.events()
    assert fused[0] == fused[1] and rows[0] == rows[1]
    rr = [b[2] for b in fused[0] if b[2] is not None]
    assert len(rr) > 100 and max(rr) < 1200  # ppg_simulate's intervals: 0.83-0.98 s
    rejected = [e for e in events if e.kind == "gap" and "rejected" in e.rule]
    assert len(rejected) == 2 and 39 < rejected[0].t_start < 41 and 74 < rejected[1].t_start < 76
    assert all(abs(rows[0][t]["hr_bpm"] - 70) < 3 for t in range(60, 121) if rows[0][t]["hr_bpm"] is not None)


def test_ppg_fiducial_option_places_beats_on_the_upstroke():
    """``heart.ppg_fiducial = "upstroke"`` dates each PPG beat at its steepest upstroke, before
    the systolic peak the default uses, and ``"tangent"`` at its foot, before the upstroke, on the
    same heartbeats; chunk-invariant; any other value is refused when the configuration is made."""
    import neurokit2 as nk

    from coregulate.models.config import ConfigError

    fs = 30.0
    x = nk.ppg_simulate(duration=90, sampling_rate=fs, heart_rate=70, ibi_randomness=0.03, random_state=4)
    info = StreamInfo("client", StreamKind.PPG, rate=fs)
    beats = {}
    for fiducial, step in (("peak", 30), ("upstroke", 30), ("upstroke", 457), ("tangent", 30), ("tangent", 457)):
        est = HeartEstimator("client", [info], PipelineConfig(options={"heart": {"ppg_fiducial": fiducial}}))
        run(est, [Chunk(info, x[i : i + step], t0=i / fs) for i in range(0, len(x), step)])
        beats[(fiducial, step)] = np.array([b[0] for b in est.fused])
    peak, up = beats[("peak", 30)], beats[("upstroke", 30)]
    assert np.array_equal(up, beats[("upstroke", 457)])
    lead = np.array([p - up[np.argmin(np.abs(up - p))] for p in peak])
    assert len(peak) > 80 and abs(len(up) - len(peak)) <= 2
    assert np.median(lead) > 0.05 and np.all((lead > 0) & (lead < 0.4))  # same beats, upstroke first
    foot = beats[("tangent", 30)]
    assert np.array_equal(foot, beats[("tangent", 457)])
    ahead = np.array([u - foot[np.argmin(np.abs(foot - u))] for u in up])
    assert abs(len(foot) - len(up)) <= 2 and np.median(ahead) > 0.02 and np.all((ahead > 0) & (ahead < 0.3))
    with pytest.raises(ConfigError, match="ppg_fiducial"):
        PipelineConfig(options={"heart": {"ppg_fiducial": "foot"}})
