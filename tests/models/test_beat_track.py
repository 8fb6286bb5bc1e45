"""BeatTrack: a PPG pulse the detector does not find ends the run instead of doubling an interval."""

import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.models.heart import HeartEstimator
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind


def _ppg_with_missing_pulses(duration=120, fs=30.0, hr=70, at=(40.0, 64.6, 90.0), hole=(60.0, 63.0), seed=5):
    """A simulated PPG (camera-like 30 Hz, resting HRV) with samples missing over ``hole`` and
    the pulses nearest ``at`` flattened: the signal runs straight from the trough before each to
    the trough after it, so no peak is there to be found (nor rejected). 64.6 s is the second
    pulse after the hole, where the artefact corrector cannot judge an interval."""
    import neurokit2 as nk

    x = nk.ppg_simulate(duration=duration, sampling_rate=fs, heart_rate=hr, ibi_randomness=0.03, random_state=seed)
    peaks = np.asarray(nk.ppg_findpeaks(nk.ppg_clean(x, sampling_rate=fs), sampling_rate=fs)["PPG_Peaks"])
    removed = []
    for c in at:
        k = int(np.argmin(np.abs(peaks / fs - c)))
        lo = peaks[k - 1] + int(np.argmin(x[peaks[k - 1] : peaks[k]]))
        hi = peaks[k] + int(np.argmin(x[peaks[k] : peaks[k + 1]]))
        x[lo : hi + 1] = np.linspace(x[lo], x[hi], hi - lo + 1)
        removed.append(peaks[k] / fs)
    x[int(hole[0] * fs) : int(hole[1] * fs)] = np.nan
    return x, removed


def _fused(x, fs, step):
    info = StreamInfo("client", StreamKind.PPG, rate=fs)
    est = HeartEstimator("client", [info], PipelineConfig())
    out = []
    for i in range(0, len(x), step):
        out += est.update(Chunk(info, x[i : i + step], t0=i / fs))
    out += est.finish()
    return list(est.fused), dict(out), est


def test_a_missed_ppg_pulse_ends_the_run_and_no_beat_is_invented():
    fs = 30.0
    x, removed = _ppg_with_missing_pulses(fs=fs)
    runs = [_fused(x, fs, step) for step in (30, 457)]
    (fused, rows, est), (fused_b, rows_b, _) = runs
    assert fused == fused_b and rows == rows_b  # chunk-invariant
    spans = [(t - rr / 1000.0, t) for t, _, rr, *_ in fused if rr is not None]
    assert len(spans) > 120
    for t in removed:  # no interval spans a missing pulse
        assert not any(a < t < b for a, b in spans)
    times = np.array([b[0] for b in fused])
    for t in removed:  # nothing invented where the pulse was
        assert np.min(np.abs(times - t)) > 0.3
    missed = [e for e in est.events() if e.kind == "gap" and "missed" in e.rule]
    assert len(missed) == 3 and est.tracks[0].missed_pulses == 3
    for e, t in zip(missed, removed):
        assert e.t_start < t < e.t_end and e.t_end - e.t_start < 2.2
    assert all(abs(rows[t]["hr_bpm"] - 70) < 3 for t in range(60, 121) if rows[t]["hr_bpm"] is not None)


def test_without_a_missing_pulse_nothing_is_cut():
    fs = 30.0
    x, _ = _ppg_with_missing_pulses(fs=fs, at=(), hole=(0.0, 0.0))
    fused, rows, est = _fused(x, fs, 30)
    assert est.tracks[0].missed_pulses == 0
    assert sum(b[2] is None for b in fused) == 1  # one run from start to end
    assert rows[100]["hr_bpm"] == pytest.approx(70, abs=3)
