"""Where a video sits on the session clock, from sound: cross-correlation of two loudness envelopes.

The session knows each person's per-second ``loudness_db`` (from the microphones); the video's
own soundtrack gives a per-second level too. Both follow who speaks when, so the lag at which the
two envelopes correlate best is the session second of the video's first second. Pearson r is
computed over the seconds both envelopes have (missing seconds are skipped, never filled), for
every whole-second lag with enough overlap; the peak is refined to a fraction of a second by a
parabola through it and its neighbours (the usual sub-sample peak interpolation).

Not claimed: a second-level envelope cannot place the video closer than a few tenths of a
second; the offset control in the replay view is for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Alignment:
    """Result of :func:`envelope_offset`: ``offset_s`` (session second of the video's second 0),
    ``r`` (Pearson r at the peak), ``overlap_s`` (seconds correlated) and ``runner_up_r`` (best
    r at least ``exclusion_s`` away from the peak: a peak barely above it is ambiguous)."""

    offset_s: float
    r: float
    overlap_s: int
    runner_up_r: float


def power_sum_db(levels_db: np.ndarray) -> np.ndarray:
    """Per-second level of several people heard together (rows = seconds, columns = people):
    ``10 log10(sum 10^(L/10))`` over the people with a value; NaN where nobody has one."""
    levels = np.asarray(levels_db, float)
    power = np.where(np.isfinite(levels), 10.0 ** (levels / 10.0), 0.0).sum(axis=1)
    any_value = np.isfinite(levels).any(axis=1)
    with np.errstate(divide="ignore"):
        return np.where(any_value, 10.0 * np.log10(np.where(power > 0, power, 1.0)), np.nan)


def envelope_offset(session_env: np.ndarray, video_env: np.ndarray, min_overlap_s: int = 60,
                    exclusion_s: int = 5) -> Alignment | None:
    """Best lag of ``video_env`` (second ``k`` of the video) against ``session_env`` (second ``k``
    of the session, index 0 = the second starting at 0).

    Parameters
    ----------
    session_env, video_env : array of float
        Per-second levels (dB); NaN = no value.
    min_overlap_s : int
        Fewest seconds with both values for a lag to count.
    exclusion_s : int
        Half-width around the peak ignored when reporting the runner-up.

    Returns
    -------
    Alignment or None
        ``None`` when no lag has ``min_overlap_s`` seconds in common with variance in both.
    """
    a = np.asarray(session_env, float)
    b = np.asarray(video_env, float)
    lags = np.arange(-(len(b) - 1), len(a))
    r = np.full(len(lags), np.nan)
    n_at = np.zeros(len(lags), int)
    for i, d in enumerate(lags):
        # video second k <-> session second k + d
        k0, k1 = max(0, -d), min(len(b), len(a) - d)
        if k1 - k0 < min_overlap_s:
            continue
        x, y = a[k0 + d: k1 + d], b[k0:k1]
        ok = np.isfinite(x) & np.isfinite(y)
        n = int(ok.sum())
        if n < min_overlap_s:
            continue
        x, y = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
        den = np.sqrt((x * x).sum() * (y * y).sum())
        if den > 0:
            r[i], n_at[i] = float((x * y).sum() / den), n
    if not np.isfinite(r).any():
        return None
    best = int(np.nanargmax(r))
    frac = 0.0
    if 0 < best < len(r) - 1 and np.isfinite(r[best - 1]) and np.isfinite(r[best + 1]):
        curv = r[best - 1] - 2 * r[best] + r[best + 1]
        if curv < 0:
            frac = 0.5 * (r[best - 1] - r[best + 1]) / curv
    far = np.abs(lags - lags[best]) > exclusion_s
    runner = float(np.nanmax(r[far])) if np.isfinite(r[far]).any() else float("nan")
    return Alignment(float(lags[best] + frac), float(r[best]), int(n_at[best]), runner)
