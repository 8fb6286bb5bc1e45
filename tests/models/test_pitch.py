"""YIN pitch (models/pitch.py) through the real 16 kHz -> 8 kHz frame path (models/prosody.py)."""

from __future__ import annotations

import numpy as np
import pytest

from coregulate.models.pitch import YinConfig, hz_to_semitones, yin
from coregulate.models.prosody import Decimator, FrameAnalyzer, FrameConfig

RATE = 16000


def _harmonic(f0, seconds=0.6, n_harm=10, seed=0, noise=0.003):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(0.7**h * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi)) for h in range(1, n_harm + 1)
            if f0 * h < RATE / 2)
    return 0.2 * x / np.max(np.abs(x)) + noise * rng.standard_normal(len(t))


def _frames_f0(x):
    cfg = FrameConfig.for_rate(RATE)
    lp = Decimator(cfg).filter(x)
    ends = np.arange(cfg.context + cfg.hop, len(x) + 1, cfg.hop)
    ends = ends[ends % cfg.decimate == 0]
    return FrameAnalyzer(cfg).analyse(x, lp, ends)


@pytest.mark.parametrize("f0", np.geomspace(80, 400, 13).round(1).tolist())
def test_f0_error_below_2_percent_on_harmonic_tones(f0):
    feats = _frames_f0(_harmonic(f0, seed=int(f0)))
    est = feats["f0_hz"]
    assert np.isfinite(est).all(), "every frame of a steady tone is voiced"
    err = np.abs(est / f0 - 1)
    assert err.max() < 0.02
    assert np.median(feats["aperiodicity"]) < 0.1


def test_missing_fundamental_and_gliding_tone():
    # the fundamental itself removed: YIN follows the period, not the lowest spectral peak
    t = np.arange(int(0.5 * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * 150 * h * t) for h in range(2, 8)) * 0.05
    est = _frames_f0(x)["f0_hz"]
    assert np.nanmedian(np.abs(est / 150 - 1)) < 0.02
    # a glide 120 -> 240 Hz over 1 s: estimates follow the instantaneous F0
    t = np.arange(RATE) / RATE
    f = 120 * 2**t
    phase = 2 * np.pi * np.cumsum(f) / RATE
    x = 0.1 * sum(0.6**h * np.sin(h * phase) for h in range(1, 8))
    cfg = FrameConfig.for_rate(RATE)
    ends = np.arange(cfg.context + cfg.hop, len(x) + 1, cfg.hop)
    feats = FrameAnalyzer(cfg).analyse(x, Decimator(cfg).filter(x), ends)
    centre = (ends - cfg.window / 2) / RATE  # the frame describes its last 25 ms
    truth = 120 * 2**centre
    assert np.nanmax(np.abs(feats["f0_hz"] / truth - 1)) < 0.03


def test_noise_and_silence_are_unvoiced():
    rng = np.random.default_rng(3)
    feats = _frames_f0(0.05 * rng.standard_normal(RATE // 2))
    assert np.mean(np.isfinite(feats["f0_hz"]) & (feats["aperiodicity"] < 0.15)) < 0.05
    feats = _frames_f0(np.zeros(RATE // 2))
    assert np.isnan(feats["f0_hz"]).all()
    assert (feats["energy_db"] <= -119).all()


def test_yin_rejects_short_frames_and_handles_empty():
    cfg = YinConfig()
    with pytest.raises(ValueError):
        yin(np.zeros((2, cfg.frame_length - 1)), cfg)
    f0, ap = yin(np.zeros((0, cfg.frame_length)), cfg)
    assert f0.shape == ap.shape == (0,)


def test_semitones():
    assert hz_to_semitones(55.0) == pytest.approx(12.0)
    assert hz_to_semitones(27.5) == pytest.approx(0.0)


def test_alpha_ratio_rises_with_spectral_tilt():
    # a flatter spectrum (more energy above 1 kHz) is what vocal effort does
    steep = _frames_f0(_harmonic(150, n_harm=40, seed=1))
    t = np.arange(int(0.6 * RATE)) / RATE
    flat = 0.02 * sum(0.95**h * np.sin(2 * np.pi * 150 * h * t) for h in range(1, 40))
    flat_f = _frames_f0(flat)
    assert np.nanmedian(flat_f["alpha_db"]) > np.nanmedian(steep["alpha_db"]) + 10
