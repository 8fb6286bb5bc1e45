"""MEA (Ramseyer & Tschacher 2011): frame differencing, noise threshold, share of changed pixels
standardised by the region's size."""

import numpy as np
import pytest

from coregulate.models.motion_energy import DEFAULT_REGIONS, MotionEnergy, Region


def test_share_of_changed_pixels_is_standardised_by_region_size():
    # the same 20x20 moving square inside a small and a large region: same count, shares 4:1
    me = MotionEnergy([Region(0, 0, 0.25, 0.5), Region(0, 0, 0.5, 1)], width=160, height=80, step=1)
    a = np.zeros((80, 160), np.uint8)
    b = a.copy()
    b[10:30, 10:30] = 200
    assert me.update(a) is None  # no predecessor
    small, large = me.update(b)
    assert small == pytest.approx(400 / (40 * 40)) and large == pytest.approx(400 / (80 * 80))
    assert small == pytest.approx(4 * large)


def test_noise_below_the_threshold_is_not_motion():
    rng = np.random.default_rng(0)
    base = rng.integers(50, 200, size=(120, 160)).astype(np.int16)
    me = MotionEnergy(DEFAULT_REGIONS.values(), width=160, height=120, threshold=15, step=1)
    shares = []
    for _ in range(20):
        noisy = np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
        out = me.update(noisy)
        if out is not None:
            shares.append(out)
    assert np.max(shares) < 0.002  # SD-3 sensor noise: ~3.5 SD below the threshold
    loose = MotionEnergy(DEFAULT_REGIONS.values(), width=160, height=120, threshold=2, step=1)
    loose.update(np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8))
    assert loose.update(np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)).min() > 0.3


def test_regions_are_separate_and_the_step_keeps_the_share():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, size=(240, 320)).astype(np.uint8)
    b = a.copy()
    b[:, 200:260] = rng.integers(0, 256, size=(240, 60))  # movement only in the right half
    full = MotionEnergy(DEFAULT_REGIONS.values(), 320, 240, step=1)
    sub = MotionEnergy(DEFAULT_REGIONS.values(), 320, 240, step=2)
    full.update(a), sub.update(a)
    left, right = full.update(b)
    assert left == 0.0 and right == pytest.approx(60 / 160 * 0.88, abs=0.03)  # P(|diff| > 15) ~ 0.88
    assert sub.update(b)[1] == pytest.approx(right, abs=0.02)
    full.reset()
    assert full.update(a) is None


def test_bad_regions_and_frames_are_refused():
    for bad in ("0,0,1", "0.5,0,0.4,1", "0,0,1.2,1", "a,b,c,d"):
        with pytest.raises(ValueError):
            Region.parse(bad)
    me = MotionEnergy([Region(0, 0, 1, 1)], 4, 2)
    with pytest.raises(ValueError, match="expected 4x2"):
        me.update(np.zeros((3, 4), np.uint8))
