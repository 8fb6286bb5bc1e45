"""HF power of the NN tachogram and the respiratory (RSA) peak, cheap enough to run every second.

:func:`hf_power` reproduces neurokit2 0.2 ``hrv_frequency(normalize=False, psd_method="welch")``
for one window: NN intervals are placed at their beat times relative to the first beat
(neurokit2's ``cumsum(rri)``), resampled with a quadratic spline at ``fs`` Hz, and Welch's
method is applied with a Hann window of half the series, 50 % overlap, ``nfft`` = 2 * segment,
the mean of the whole series removed (no per-segment detrending), density scaling; HF is the trapezoidal integral over [0.15, 0.40) Hz in ms²
(Task Force 1996 band; Welch 1967). It is written with numpy FFTs because
``scipy.signal.welch`` plus ``interp1d`` cost ~10x more per call.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import make_interp_spline

HF_BAND = (0.15, 0.40)
_WIN: dict[int, tuple[np.ndarray, float]] = {}


def resample_tachogram(beat_t: np.ndarray, rr_ms: np.ndarray, fs: float) -> np.ndarray:
    """NN series on a regular grid starting at the first beat (neurokit2 ``intervals_process``)."""
    x = beat_t - beat_t[0] + rr_ms[0] / 1000.0
    grid = np.arange(x[0], x[-1] + 1.0 / fs, 1.0 / fs)
    spl = make_interp_spline(x, rr_ms, k=2, check_finite=False)  # callers pass finite values
    y = spl(grid)
    # interp1d(bounds_error=False, fill_value=(first, last)): the grid may overshoot the last beat
    y[grid > x[-1]] = rr_ms[-1]
    return y


def welch_psd(y: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Welch PSD as ``scipy.signal.welch(nperseg=N//2, nfft=2*nperseg, detrend=False)``."""
    n = len(y)
    nper = n // 2
    if nper < 2:
        return np.empty(0), np.empty(0)
    if nper not in _WIN:
        w = np.hanning(nper + 1)[:-1]  # periodic Hann (scipy's default "hann")
        _WIN[nper] = (w, float((w * w).sum()))
    w, wss = _WIN[nper]
    step = nper - nper // 2
    starts = range(0, n - nper + 1, step)
    segs = np.stack([y[s : s + nper] for s in starts]) * w
    nfft = 2 * nper
    p = np.abs(np.fft.rfft(segs, nfft, axis=1)) ** 2
    psd = p.mean(axis=0) / (fs * wss)
    psd[1:-1] *= 2.0  # nfft is even: DC and Nyquist are not doubled
    return np.fft.rfftfreq(nfft, 1.0 / fs), psd


def respiratory_peak(f: np.ndarray, p: np.ndarray, band: tuple[float, float], min_share: float) -> float | None:
    """Frequency (Hz) of the spectral peak in ``band`` if the power within +-0.035 Hz of it is at
    least ``min_share`` of the band's power (a single dominant rhythm), else ``None``."""
    sel = np.flatnonzero((f >= band[0]) & (f <= band[1]))
    if len(sel) < 3:
        return None
    k = sel[int(np.argmax(p[sel]))]
    near = np.abs(f[sel] - f[k]) <= 0.035
    total = p[sel].sum()
    if total <= 0 or p[sel][near].sum() / total < min_share:
        return None
    off = 0.0
    if 0 < k < len(p) - 1:
        den = p[k - 1] - 2 * p[k] + p[k + 1]
        off = float(np.clip(0.5 * (p[k - 1] - p[k + 1]) / den, -0.5, 0.5)) if den else 0.0
    return float(f[k] + off * (f[1] - f[0]))


def amplitude_breathing(beat_t: np.ndarray, amp: np.ndarray, fs: float = 4.0) -> float | None:
    """Breathing frequency (Hz) from the beat-to-beat amplitude of the ECG R wave.

    ECG-derived respiration (EDR; Moody et al. 1985, Computers in Cardiology 12:113): peak of the Welch spectrum of the
    amplitude series (linearly resampled at ``fs``) in 0.10-0.50 Hz (6-30 /min) holding at least
    35 % of that band's power. Chest movement modulates amplitude mechanically, so unlike RSA it
    is not mistaken for the ~0.1 Hz baroreflex (Mayer) waves and also sees slow breathing.
    (PPG pulse amplitude, Karlen et al. 2013, tracked the belt worse than RSA on the neurokit2
    resting recording, so PPG uses RSA.)
    """
    if len(beat_t) < 8:
        return None
    grid = np.arange(beat_t[0], beat_t[-1], 1.0 / fs)
    y = np.interp(grid, beat_t, amp)
    f, p = welch_psd(y - y.mean(), fs)
    return respiratory_peak(f, p, (0.10, 0.50), 0.35)


def hf_power(beat_t: np.ndarray, rr_ms: np.ndarray, fs: float = 4.0) -> tuple[float | None, float | None]:
    """HF power (ms²) and the respiratory sinus arrhythmia (RSA) peak frequency (Hz) of one window
    of NN intervals.

    RSA tracks breathing in healthy adults at rest (Hirsch & Bishop 1981, Am J Physiol
    241(4)), but below ~0.15 Hz it cannot be told from baroreflex (Mayer) waves, so the peak is
    searched in the HF band only (0.15-0.40 Hz, 9-24 /min) and reported only when it holds at
    least half of that band's power; otherwise ``None``.
    """
    if len(rr_ms) < 4:
        return None, None
    y = resample_tachogram(np.asarray(beat_t, float), np.asarray(rr_ms, float), fs)
    y = y - y.mean()  # neurokit2 signal_psd removes the mean of the whole series first
    f, p = welch_psd(y, fs)
    if not len(f):
        return None, None
    fmin = (2 * fs) / (len(y) / 2)  # neurokit2 signal_psd min_frequency="default"
    keep = (f >= fmin) & (f <= 0.5)
    f, p = f[keep], p[keep]
    band = (f >= HF_BAND[0]) & (f < HF_BAND[1])
    hf = float(np.trapezoid(p[band], f[band])) if band.sum() >= 2 else None
    peak = respiratory_peak(f, p, HF_BAND, 0.5)
    return (hf if hf and hf > 0 else None), peak
