"""Fundamental frequency (F0) of speech frames with YIN, vectorised over frames in numpy.

YIN (de Cheveigné & Kawahara, 2002, JASA 111(4):1917-1930) is chosen because it is accurate on
speech, needs no training data, and is small enough to own: a permissive-licence replacement for
Praat (GPL) that starts instantly (unlike librosa's numba-compiled ``pyin``).

Steps, with the paper's numbering:

2. Difference function ``d(tau) = sum_{j<W} (x_j - x_{j+tau})^2``, computed for all frames at once
   as ``e(0) + e(tau) - 2 r(tau)`` with the cross-correlation ``r`` from one batched real FFT and the
   energies ``e`` from a cumulative sum.
3. Cumulative mean normalised difference ``d'(tau) = d(tau) * tau / sum_{j=1..tau} d(j)``.
4. Absolute threshold: the first local minimum of ``d'`` below ``threshold`` (else: unvoiced).
5. Parabolic interpolation around that minimum for sub-sample period precision.

``d'`` at the chosen lag is the frame's *aperiodicity* (0 = perfectly periodic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft


@dataclass(frozen=True)
class YinConfig:
    """YIN settings.

    Parameters
    ----------
    rate : float
        Sample rate in Hz.
    fmin, fmax : float
        Search range in Hz (speech of adults and children: 60-500 Hz).
    window : int
        Integration window ``W`` in samples (25 ms at 16 kHz: at least two periods of 80 Hz).
    threshold : float
        Absolute threshold on ``d'`` (the paper uses 0.1; 0.15 keeps more of breathy speech).
    """

    rate: float = 16000.0
    fmin: float = 60.0
    fmax: float = 500.0
    window: int = 400
    threshold: float = 0.15

    @property
    def tau_min(self) -> int:
        """Shortest lag (samples) searched: the period of ``fmax``, at least 2."""
        return max(2, int(np.floor(self.rate / self.fmax)))

    @property
    def tau_max(self) -> int:
        """Longest lag (samples) searched: the period of ``fmin``."""
        return int(np.ceil(self.rate / self.fmin))

    @property
    def frame_length(self) -> int:
        """Samples needed per frame: the window plus the largest lag (and one for interpolation)."""
        return self.window + self.tau_max + 1


def _nfft(n: int) -> int:
    return 1 << int(np.ceil(np.log2(n)))


def yin(frames: np.ndarray, cfg: YinConfig) -> tuple[np.ndarray, np.ndarray]:
    """F0 and aperiodicity of each frame.

    Parameters
    ----------
    frames : ndarray, shape (n_frames, cfg.frame_length)
        Frames of one signal; each frame's integration window is its first ``cfg.window`` samples.
    cfg : YinConfig

    Returns
    -------
    f0 : ndarray, shape (n_frames,)
        F0 in Hz, ``nan`` where no lag passes the threshold (unvoiced or silent).
    aperiodicity : ndarray, shape (n_frames,)
        ``d'`` at the chosen lag (or the global minimum of ``d'`` when unvoiced), in [0, ~2].
    """
    frames = np.asarray(frames, dtype=np.float64)
    n, length = frames.shape
    if n == 0:
        return np.empty(0), np.empty(0)
    if length < cfg.frame_length:
        raise ValueError(f"frames need {cfg.frame_length} samples, got {length}")
    W, tmax, tmin = cfg.window, cfg.tau_max, cfg.tau_min
    L = W + tmax + 1
    x = frames[:, :L]
    # r(tau) = sum_{j<W} x_j x_{j+tau}: correlation of the window with the whole frame. Circular
    # wrap puts the negative lags -(W-1)..-1 at nfft-W+1..nfft-1, clear of 0..tmax+1 when
    # nfft >= W + tmax + 2.
    nfft = _nfft(W + tmax + 2)
    fa = sfft.rfft(x[:, :W], nfft)
    fb = sfft.rfft(x, nfft)
    r = sfft.irfft(np.conj(fa) * fb, nfft)[:, : tmax + 2]
    cs = np.concatenate([np.zeros((n, 1)), np.cumsum(x * x, axis=1)], axis=1)
    taus = np.arange(tmax + 2)
    e0 = cs[:, W][:, None]
    etau = cs[:, taus + W] - cs[:, taus]
    d = np.maximum(e0 + etau - 2.0 * r, 0.0)
    d[:, 0] = 0.0
    # Step 3: cumulative mean normalisation; silent frames (all zero) get d' = 1.
    csum = np.cumsum(d[:, 1:], axis=1)
    dn = np.ones_like(d)
    with np.errstate(invalid="ignore", divide="ignore"):
        dn[:, 1:] = np.where(csum > 0, d[:, 1:] * taus[1:] / csum, 1.0)
    # Step 4: first lag in [tmin, tmax] below the threshold, then walk down to its local minimum.
    seg = dn[:, tmin : tmax + 1]
    below = seg < cfg.threshold
    has = below.any(axis=1)
    first = np.argmax(below, axis=1)
    # Walk to the bottom of the dip: the minimum of the next lags while d' keeps falling. A fixed
    # look-ahead of one period's tenth keeps it vectorised; the dip around a true period is wide.
    look = max(2, tmin // 2)
    idx = np.clip(first[:, None] + np.arange(look)[None, :], 0, seg.shape[1] - 1)
    vals = np.take_along_axis(seg, idx, axis=1)
    # Stop at the first rise so a deeper minimum at a shorter sub-multiple lag is not skipped to.
    rising = np.diff(vals, axis=1) > 0
    stop = np.where(rising.any(axis=1), np.argmax(rising, axis=1), look - 1)
    best = np.minimum(first + stop, seg.shape[1] - 1)
    gmin = np.argmin(seg, axis=1)
    k = np.where(has, best, gmin) + tmin
    ap = dn[np.arange(n), k]
    # Step 5: parabolic interpolation of d' around k.
    km = np.clip(k - 1, 1, tmax + 1)
    kp = np.clip(k + 1, 1, tmax + 1)
    a, b, c = dn[np.arange(n), km], ap, dn[np.arange(n), kp]
    den = a - 2 * b + c
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(np.abs(den) > 1e-12, 0.5 * (a - c) / den, 0.0)
    shift = np.clip(shift, -1.0, 1.0)
    period = k + shift
    f0 = np.where(has, cfg.rate / period, np.nan)
    return f0, ap


def hz_to_semitones(f0: np.ndarray | float, ref_hz: float = 27.5) -> np.ndarray | float:
    """Semitones re ``ref_hz`` (27.5 Hz = A0, the reference of eGeMAPS; Eyben et al., 2016)."""
    return 12.0 * np.log2(np.asarray(f0, dtype=np.float64) / ref_hz)
