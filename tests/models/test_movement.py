import numpy as np
import pytest

from coregulate.models.config import PipelineConfig
from coregulate.models.movement import MovementEstimator
from coregulate.sensors.chunk import Chunk, StreamInfo, StreamKind, rechunk

from physio_helpers import run


def _acc(duration=60, fs=50.0, active=(20, 40), seed=0):
    rng = np.random.default_rng(seed)
    n = int(duration * fs)
    t = np.arange(n) / fs
    acc = np.tile([0.0, 0.0, 1000.0], (n, 1)) + rng.normal(0, 5, (n, 3))
    on = (t >= active[0]) & (t < active[1])
    acc[on, 2] += 300 * np.sin(2 * np.pi * 2 * t[on])
    return acc


def test_acc_movement_and_invariance():
    info = StreamInfo("client", StreamKind.ACC, rate=50.0, channels=("x", "y", "z"))
    whole = [Chunk(info, _acc(), t0=0.0)]
    a = run(MovementEstimator("client", [info], PipelineConfig()), rechunk(whole, 0.7))
    b = run(MovementEstimator("client", [info], PipelineConfig()), rechunk(whole, 13.0))
    assert a == b
    m = dict(a)
    assert m[30]["movement"] > 100 > 20 > m[10]["movement"]
    assert "breathing_rpm" not in m[30]  # no belt: leave the column to the heart estimator


def test_resp_breathing_rate():
    fs = 25.0
    t = np.arange(int(120 * fs)) / fs
    rpm = np.where(t < 60, 12.0, 20.0)
    phase = 2 * np.pi * np.cumsum(rpm / 60) / fs
    info = StreamInfo("client", StreamKind.RESP, rate=fs)
    out = dict(run(MovementEstimator("client", [info], PipelineConfig()), rechunk([Chunk(info, np.sin(phase), t0=0.0)], 1.0)))
    assert out[55]["breathing_rpm"] == pytest.approx(12, abs=1)
    assert out[115]["breathing_rpm"] == pytest.approx(20, abs=1)
    assert "breathing_rpm" not in out[10]  # less than 80 % of the 30-s window


def test_motion_energy_mean():
    info = StreamInfo("client", StreamKind.MOTION, rate=10.0)
    x = np.r_[np.zeros(100), np.full(100, 4.0)]
    out = dict(run(MovementEstimator("client", [info], PipelineConfig()), [Chunk(info, x, t0=0.0)]))
    assert out[5]["movement"] == 0.0 and out[15]["movement"] == 4.0
