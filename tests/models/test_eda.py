import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.models.eda import EdaEstimator
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind, rechunk

from physio_helpers import run


def _eda(duration=300, fs=32.0, scr_every=None, level=5.0, seed=0):
    """Tonic level + Bateman-shaped SCRs (0.2 uS) every ``scr_every`` seconds."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration * fs)) / fs
    x = level + 0.002 * t + 0.001 * rng.standard_normal(len(t))
    if scr_every:
        for onset in np.arange(5, duration, scr_every):
            d = np.clip(t - onset, 0, None)
            x += 0.2 * (np.exp(-d / 4.0) - np.exp(-d / 0.75)) * (t >= onset) / 0.6
    return t, x


def _run(x, fs, step, cfg=None):
    info = StreamInfo("client", StreamKind.EDA, rate=fs)
    return run(EdaEstimator("client", [info], cfg or PipelineConfig()), rechunk([Chunk(info, x, t0=0.0)], step))


def test_scr_rate_and_level():
    fs = 32.0
    _, x = _eda(scr_every=10)
    out = dict(_run(x, fs, 1.0))
    assert out[200]["scr_per_min"] == pytest.approx(6.0, abs=1.0)
    _, calm = _eda(scr_every=None)
    quiet = dict(_run(calm, fs, 1.0))
    assert quiet[200]["scr_per_min"] == 0.0
    assert quiet[200]["eda_scl_us"] == pytest.approx(5.0 + 0.002 * 200, abs=0.05)
    assert quiet[10]["scr_per_min"] is None  # less than half a window yet


def test_chunk_size_invariance():
    _, x = _eda(duration=200, scr_every=13)
    a = _run(x, 32.0, 0.3)
    for step in (1.0, 7.7, 1000):
        assert _run(x, 32.0, step) == a


def test_gap_restarts_scr_window():
    fs = 32.0
    _, x = _eda(duration=200, scr_every=10)
    info = StreamInfo("client", StreamKind.EDA, rate=fs)
    first = Chunk(info, x[: int(100 * fs)], t0=0.0)
    second = Chunk(info, x[int(140 * fs) :], t0=140.0, gap_before=True)
    out = dict(run(EdaEstimator("client", [info], PipelineConfig()), [first, second]))
    assert out[120]["eda_scl_us"] is None
    assert out[150]["scr_per_min"] is None and out[190]["scr_per_min"] is not None


@pytest.mark.realdata
def test_drivedb_hand_gsr_chunk_invariant_and_more_scrs_driving(shared_data):
    from physio_helpers import drivedb

    g, gfs = drivedb(shared_data, "drive17a")["eda"]
    a = _run(g, gfs, 1.0)
    assert _run(g, gfs, 1e6) == a
    out = dict(a)
    rest = np.mean([out[t]["scr_per_min"] for t in range(100, 950)])
    driving = np.mean([out[t]["scr_per_min"] for t in range(1000, 1740)])
    assert driving > rest + 3
    assert np.mean([out[t]["eda_scl_us"] for t in range(1000, 1740)]) > np.mean([out[t]["eda_scl_us"] for t in range(100, 950)])
