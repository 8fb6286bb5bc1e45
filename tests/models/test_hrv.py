import math

import numpy as np
import pytest

from coregulate.models.hrv import TimeDomainWindow, stress_index_batch

from physio_helpers import rr_series

pytestmark = pytest.mark.filterwarnings("ignore:DFA_alpha2")


def _nk_reference(peaks_ms):
    import neurokit2 as nk

    t = nk.hrv_time(peaks_ms, sampling_rate=1000)
    nl = nk.hrv_nonlinear(peaks_ms, sampling_rate=1000)
    return {
        "hr_bpm": 60000 / t["HRV_MeanNN"].iloc[0],
        "rmssd_ms": t["HRV_RMSSD"].iloc[0],
        "ln_rmssd": math.log(t["HRV_RMSSD"].iloc[0]),
        "sdnn_ms": t["HRV_SDNN"].iloc[0],
        "pnn50": t["HRV_pNN50"].iloc[0],
        "sd1_ms": nl["HRV_SD1"].iloc[0],
        "sd2_ms": nl["HRV_SD2"].iloc[0],
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_sliding_window_equals_neurokit(seed):
    rr = np.round(rr_series(600, seed=seed, sd=60))
    peaks = np.cumsum(np.r_[1000, rr]).astype(np.int64)  # integer ms: exact for both sides
    w = TimeDomainWindow()
    w.add(peaks[0] / 1000, None)
    k = 1
    for t_end in range(70, 480, 37):  # window (t_end - 60, t_end], sliding with adds and expiries
        while k < len(peaks) and peaks[k] / 1000 <= t_end:
            w.add(peaks[k] / 1000, float(peaks[k] - peaks[k - 1]))
            k += 1
        w.expire(t_end - 60)
        inside = np.flatnonzero((peaks / 1000 > t_end - 60) & (peaks / 1000 <= t_end))
        ref = _nk_reference(peaks[inside[0] - 1 : inside[-1] + 1])
        got = w.features()
        assert len(w) == len(inside)
        for key, val in ref.items():
            assert got[key] == pytest.approx(val, rel=0.005), key
        assert got["stress_index"] == pytest.approx(stress_index_batch(np.diff(peaks[inside[0] - 1 : inside[-1] + 1])), rel=1e-9)


def test_stress_index_definition():
    # 10 intervals: 7 in the 800-850 bin -> AMo 70 %, median 0.82 s, range 0.3 s
    rr = [700, 800, 805, 810, 820, 820, 830, 840, 900, 1000]
    si = stress_index_batch(np.array(rr, float))
    assert si == pytest.approx(math.sqrt(70 / (2 * 0.82 * 0.3)))


def test_gap_splits_successive_differences():
    w = TimeDomainWindow()
    t = 0.0
    for rr in (800, 820, 800):
        t += rr / 1000
        w.add(t, float(rr))
    t += 10
    w.add(t, None)  # first beat after a gap: no interval, no difference across the gap
    for rr in (900, 910):
        t += rr / 1000
        w.add(t, float(rr))
    # differences: 20, -20 (before) and 10 (after); never 900 - 800
    assert w.features()["rmssd_ms"] == pytest.approx(math.sqrt((400 + 400 + 100) / 3))
    assert len(w) == 5


def test_an_hr_only_window_gives_the_same_hr_and_coverage_to_the_bit():
    """The provisional tier's window keeps the count and sum only: the same floats as the full one,
    through runs, gaps (no interval) and expiries down to an empty window."""
    rng = np.random.default_rng(3)
    full, lite = TimeDomainWindow(), TimeDomainWindow(hr_only=True)
    t = 0.0
    for i in range(3000):
        rr = None if i % 97 == 0 else float(rng.uniform(350.0, 1500.0))
        t += (rr or 5000.0) / 1000.0
        for w in (full, lite):
            w.add(t, rr)
            w.expire(t - (10.0 if i % 500 < 250 else 60.0))
        assert (lite.hr_bpm(), lite.covered_ms, len(lite)) == (full.hr_bpm(), full.covered_ms, len(full))
    assert lite.sorted == [] and lite.m == 0  # nothing else kept
    with pytest.raises(ValueError):
        lite.features()
