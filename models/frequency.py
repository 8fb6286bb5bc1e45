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
    spl = make_interp_spline(x, rr_ms, k=2)
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


def hf_power(beat_t: np.ndarray, rr_ms: np.ndarray, fs: float = 4.0) -> tuple[float | None, float | None]:
    """HF power (ms²) and the respiratory peak frequency (Hz) of one window of NN intervals.

    The peak is the maximum of the PSD in 0.10-0.50 Hz (6-30 breaths/min), refined by a
    parabola; RSA tracks breathing rate in healthy adults at rest (Hirsch & Bishop 1981,
    Am J Physiol 241(4)); it is ``None`` when the peak is not clearly above the band median.
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
    resp = (f >= 0.10) & (f <= 0.50)
    peak = None
    if resp.sum() >= 3:
        idx = np.flatnonzero(resp)
        k = idx[int(np.argmax(p[idx]))]
        if p[k] > 3.0 * np.median(p[idx]) and 0 < k < len(p) - 1:
            den = p[k - 1] - 2 * p[k] + p[k + 1]
            off = 0.5 * (p[k - 1] - p[k + 1]) / den if den else 0.0
            peak = float(f[k] + np.clip(off, -0.5, 0.5) * (f[1] - f[0]))
    return (hf if hf and hf > 0 else None), peak
