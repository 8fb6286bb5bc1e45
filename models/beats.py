"""Streaming heartbeat detection on a regular signal (ECG or PPG).

The detector runs neurokit2 on overlapping blocks whose positions depend only on the sample
count since the start of the current contiguous segment, never on chunk boundaries, so the beats
found are identical however the signal was chunked. A block finalises the beats in its central
``step_s`` seconds; ``margin_s`` of signal on each side keeps filter start-up transients and the
detector's moving averages away from every beat it finalises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable

import numpy as np
from scipy.signal import butter, filtfilt, sosfiltfilt


def parabolic_offset(y0: float, y1: float, y2: float) -> float:
    """Sub-sample offset of a local extremum from three equally spaced samples.

    Fits a parabola through ``(-1, y0), (0, y1), (1, y2)`` and returns the abscissa of its
    vertex, clipped to ``[-0.5, 0.5]`` (Smith & Serra 1987, "PARSHL", quadratic peak
    interpolation). At 130 Hz an R peak is only known to 7.7 ms; the vertex recovers most of
    that resolution, which matters for RMSSD at low HRV.
    """
    # Python floats: the same IEEE operations as on numpy scalars, without numpy's per-call cost
    # (called once per beat by both tiers)
    y0, y1, y2 = float(y0), float(y1), float(y2)
    den = y0 - 2.0 * y1 + y2
    if den == 0.0 or not math.isfinite(den):
        return 0.0
    return min(max(0.5 * (y0 - y2) / den, -0.5), 0.5)


def parabolic_value(y0: float, y1: float, y2: float, offset: float) -> float:
    """The height of the parabola through ``(-1, y0), (0, y1), (1, y2)`` at its vertex ``offset``
    (:func:`parabolic_offset`): ``y1 - (y0 - y2) * offset / 4`` (Smith & Serra 1987)."""
    return float(y1) - 0.25 * (float(y0) - float(y2)) * offset


def refine_peaks(signal: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Peak positions in fractional samples, by parabolic interpolation on ``signal``.

    A peak that is not a local maximum of ``signal`` (or sits on the edge) is left unrefined.
    """
    out = peaks.astype(float)
    n = len(signal)
    for k, p in enumerate(peaks):
        if 0 < p < n - 1 and signal[p] >= signal[p - 1] and signal[p] >= signal[p + 1]:
            out[k] = p + parabolic_offset(signal[p - 1], signal[p], signal[p + 1])
    return out


def refine_peaks_lsq(signal: np.ndarray, peaks: np.ndarray, half_width: int) -> np.ndarray:
    """Peak positions in fractional samples from a least-squares parabola over ``+-half_width``
    samples (the vertex of a quadratic Savitzky-Golay fit; Savitzky & Golay 1964).

    For broad, noisy peaks (a camera PPG at 30 frames/s) a fit over more than three samples
    averages out sample noise the three-point vertex (:func:`parabolic_offset`) passes on.
    Peaks that are not local maxima, sit too near an edge, or whose fit is not concave are left
    unrefined; offsets are clipped to one sample.
    """
    h = max(1, int(half_width))
    out = peaks.astype(float)
    n = len(signal)
    xs = np.arange(-h, h + 1, dtype=float)
    for k, p in enumerate(peaks):
        if h <= p < n - h and signal[p] >= signal[p - 1] and signal[p] >= signal[p + 1]:
            a, b, _ = np.polyfit(xs, signal[p - h : p + h + 1], 2)
            if a < 0:
                out[k] = p + float(np.clip(-b / (2 * a), -1.0, 1.0))
    return out


@lru_cache(maxsize=16)
def _clean_filters(fs: float) -> tuple[np.ndarray, np.ndarray]:
    sos = butter(5, 0.5, btype="highpass", output="sos", fs=fs)
    b = np.ones(int(fs / 50) if fs >= 100 else 2)
    return sos, b


def ecg_clean(segment: np.ndarray, fs: float) -> np.ndarray:
    """neurokit2 ``ecg_clean(method="neurokit")`` with the filter designed once per rate.

    Same operations as neurokit2 0.2: 5th-order Butterworth high-pass at 0.5 Hz (``sosfiltfilt``)
    then the 50 Hz moving-average "powerline" smoother (``filtfilt``, pad method); designing the
    Butterworth filter on every call was a third of the detector's cost.
    """
    sos, b = _clean_filters(float(fs))
    y = sosfiltfilt(sos, segment)
    return filtfilt(b, [len(b)], y, method="pad")


def detect_ecg(segment: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """R peaks of an ECG segment: neurokit2 ``ecg_clean`` + ``ecg_peaks`` (method "neurokit").

    ``ecg_peaks(correct_artifacts=False)`` is ``ecg_findpeaks`` plus formatting, so the latter is
    called directly. Returns the integer peak indices and the cleaned signal used for
    refinement. neurokit2's own artefact correction is off: Lipponen & Tarvainen (2019) is
    applied downstream on a rolling beat buffer (:mod:`.artefacts`).
    """
    import neurokit2 as nk

    clean = ecg_clean(segment, fs)
    info = nk.ecg_findpeaks(clean, sampling_rate=fs, method="neurokit")
    return np.asarray(info["ECG_R_Peaks"], dtype=int), clean


#: Per-beat template matching (Orphanidou et al. 2015, "Signal-quality indices for the
#: electrocardiogram and photoplethysmogram", IEEE JBHI 19(3):832-838): each beat's waveform is
#: correlated with the block's median beat. Orphanidou et al. accept a 10-s window when the mean
#: correlation reaches 0.86 (PPG) or 0.66 (ECG); here the same measure is kept per beat, so one
#: motion artefact costs its own beats, not the whole block.
#: Acceptance is per beat here, slightly below the window-mean threshold (0.8 for PPG), because a
#: single beat's correlation is noisier than a window's mean; ECG beats are graded but never
#: dropped (the R-peak detector is validated on its own, see bench/validate_heart.py).
PPG_MIN_BEAT_QUALITY = 0.8
ECG_MIN_TEMPLATE_CORR = 0.66
#: Plausible pulse intervals (s): a beat whose intervals to both neighbours fall outside is poor.
PPG_RR_RANGE_S = (0.3, 2.0)
#: Half-width (s) of the least-squares parabola that places a PPG systolic peak (+-2 samples at
#: 30 Hz, +-3 at 55 Hz): on the bench data it beat the three-point vertex (Welltory RMSSD within
#: 20 %: 11 vs 9 of 21; Verity Sense intervals within 20 ms: 97.3 vs 96.5 %).
PPG_PEAK_FIT_S = 0.06
#: PPG fiducial point by default: "peak" (systolic peak, :func:`refine_peaks_lsq`), "slope"
#: (steepest upstroke, :func:`max_slope_points`) or "tangent" (intersecting-tangents foot,
#: :func:`tangent_foot_points`); a session chooses with ``heart.ppg_fiducial``.
PPG_FIDUCIAL = "peak"
#: ``heart.ppg_fiducial`` values -> this module's fiducial names.
PPG_FIDUCIALS = {"peak": "peak", "upstroke": "slope", "tangent": "tangent"}
#: How far before a systolic peak its upstroke is searched (s).
PPG_UPSTROKE_S = 0.4
#: Beat windows (s before, s after the fiducial point) for the template.
PPG_TEMPLATE_S = (0.25, 0.45)
ECG_TEMPLATE_S = (0.15, 0.25)  # QRS plus the start of the T wave: +-60 ms (QRS only) let random
# wiggles of a motion-corrupted wearable ECG pass (bench/validate_heart.py, gel run: 27 % vs 86 %
# of seconds marked poor)


def template_quality(signal: np.ndarray, points: np.ndarray, fs: float, span_s: tuple[float, float]) -> np.ndarray:
    """Correlation of each beat's waveform with the median beat of the block, clipped to [0, 1].

    Template matching of Orphanidou et al. (2015): windows of ``span_s`` seconds around each
    fiducial point, Pearson correlation with their sample-wise median (the median rather than
    the mean keeps a few artefactual beats from shaping the template). Beats too close to the
    block edge, or blocks with fewer than three whole beats, get NaN (not judged).
    """
    a, b = max(1, int(round(span_s[0] * fs))), max(1, int(round(span_s[1] * fs)))
    idx = np.round(points).astype(int)
    whole = (idx - a >= 0) & (idx + b <= len(signal))
    q = np.full(len(idx), np.nan)
    if whole.sum() < 3:
        return q
    pulses = signal[idx[whole][:, None] + np.arange(-a, b)]
    template = np.median(pulses, axis=0)
    pc = pulses - pulses.mean(axis=1, keepdims=True)
    tc = template - template.mean()
    den = np.sqrt((pc**2).sum(axis=1) * (tc**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        q[whole] = np.clip(np.where(den > 0, pc @ tc / den, 0.0), 0.0, 1.0)  # anti-correlated = 0
    return q


def interval_plausible(points: np.ndarray, fs: float, rr_range_s: tuple[float, float] = PPG_RR_RANGE_S) -> np.ndarray:
    """True where at least one of a beat's two intervals lies in ``rr_range_s`` seconds."""
    rr = np.diff(points) / fs
    ok = (rr >= rr_range_s[0]) & (rr <= rr_range_s[1])
    before = np.concatenate([[False], ok])
    after = np.concatenate([ok, [False]])
    return before | after if len(points) > 1 else np.zeros(len(points), bool)


def time_weighted_median(q: np.ndarray, points: np.ndarray) -> float:
    """Median of per-beat ``q`` weighted by each beat's interval to the next (the last beat takes
    the median interval), i.e. the typical quality per unit of time rather than per detected
    peak: noise yields many closely spaced pseudo-peaks, which must not outvote fewer real beats.
    NaN where no beat was judged."""
    ok = np.isfinite(q)
    if not ok.any():
        return float("nan")
    w = np.diff(points, append=points[-1] + (np.median(np.diff(points)) if len(points) > 1 else 1.0))
    qs, ws = q[ok], np.maximum(w[ok], 0)
    order = np.argsort(qs)
    c = np.cumsum(ws[order])
    if c[-1] <= 0:
        return float(np.median(qs))
    return float(qs[order][np.searchsorted(c, 0.5 * c[-1])])


def cap_by_typical(q: np.ndarray, points: np.ndarray, floor: float) -> np.ndarray:
    """Cap every beat's quality at the block's time-weighted median when that is below ``floor``.

    The median beat is only a template when most of the block looks like it: in a block of
    motion noise, chance correlations with the noise's own median beat are not quality.
    """
    judged = q[np.isfinite(q)]
    if judged.size == 0 or judged.min() >= floor:  # every beat passes: so does their median
        return q
    typical = time_weighted_median(q, points)
    return np.minimum(q, max(typical, 0.0)) if typical < floor else q


@dataclass
class Detection:
    """Beats of one block: fiducial points (fractional samples), peak samples (for amplitude),
    per-beat quality in [0, 1] and the cleaned signal."""

    points: np.ndarray
    peaks: np.ndarray
    quality: np.ndarray
    clean: np.ndarray


def ppg_clean(segment: np.ndarray, fs: float) -> np.ndarray:
    """neurokit2 ``ppg_clean`` (Elgendi: 3rd-order Butterworth band-pass 0.5-8 Hz, zero phase)."""
    import neurokit2 as nk

    return np.asarray(nk.ppg_clean(segment, sampling_rate=fs), dtype=float)


def detect_ppg(segment: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Systolic peaks of a PPG segment: neurokit2 ``ppg_clean`` + ``ppg_findpeaks`` (Elgendi et
    al. 2013, PLoS ONE 8(10):e76585, validated on 40 records / 5071 beats: Se 99.9 %, +P 99.8 %)."""
    import neurokit2 as nk

    clean = ppg_clean(segment, fs)
    peaks = np.asarray(nk.ppg_findpeaks(clean, sampling_rate=fs)["PPG_Peaks"], dtype=int)
    return peaks, clean


def _steepest_upstroke(d: np.ndarray, p: int, w: int) -> tuple[int, float] | None:
    """Sample ``k`` of the derivative ``d``'s maximum within ``w`` samples before peak ``p`` and its
    sub-sample offset (:func:`parabolic_offset`); None where there is no rising slope."""
    lo = max(1, p - w)
    if p - lo < 2:
        return None
    k = lo + int(np.argmax(d[lo : p + 1]))
    if d[k] <= 0:
        return None
    return k, (parabolic_offset(d[k - 1], d[k], d[k + 1]) if k + 1 < len(d) else 0.0)


def max_slope_points(clean: np.ndarray, peaks: np.ndarray, fs: float, search_s: float = PPG_UPSTROKE_S) -> np.ndarray:
    """The steepest point of each pulse's upstroke, in fractional samples.

    For every systolic peak, the maximum of the first derivative (``numpy.gradient``) within
    ``search_s`` before it, placed by a parabola through the derivative's three samples around
    that maximum (:func:`parabolic_offset`). The maximum-slope point is the fiducial point with the
    least beat-to-beat jitter in comparisons of PPG fiducials against ECG R peaks (Peralta et al.
    2019, Physiol. Meas. 40:025007): the systolic peak is blunt and its position moves with the
    pulse's shape. NaN where no upstroke is found.
    """
    d = np.gradient(clean)
    w = max(2, int(round(search_s * fs)))
    out = np.full(len(peaks), np.nan)
    for i, p in enumerate(peaks):
        up = _steepest_upstroke(d, int(p), w)
        if up is not None:
            out[i] = up[0] + up[1]
    return out


def tangent_foot_points(clean: np.ndarray, peaks: np.ndarray, fs: float, search_s: float = PPG_UPSTROKE_S) -> np.ndarray:
    """The intersecting-tangents foot of each pulse, in fractional samples.

    The intersection of the tangent at the steepest upstroke with the horizontal line through the
    minimum that precedes it (Chiu et al. 1991, Am. Heart J. 121:1460-1470). Against ECG RR
    intervals, Hemon & Phillips (2016, J. Clin. Monit. Comput. 30:157-168; earlobe PPG) found its
    pulse periods the closest of six foot-finding methods (RMSE 5.7 ms); Peralta et al. (2019,
    Physiol. Meas. 40:025007) compared it on finger and forehead PPG. The steepest upstroke is
    that of :func:`max_slope_points` (derivative maximum within ``search_s`` before the systolic
    peak, placed by a parabola); the tangent's slope is that parabola's vertex value and its
    height the signal linearly interpolated there (the second derivative vanishes at the steepest
    point, so the line is exact to second order). The minimum is searched within ``search_s``
    before the steepest point and after the previous systolic peak, and its value taken from a
    parabola through its three samples, so that neither line is tied to the sample grid. NaN
    where no upstroke is found.
    """
    d = np.gradient(clean)
    w = max(2, int(round(search_s * fs)))
    out = np.full(len(peaks), np.nan)
    prev = -1
    for i, p in enumerate(peaks):
        p = int(p)
        up = _steepest_upstroke(d, p, w)
        if up is not None:
            k, off = up
            # after the previous peak, unless that peak comes after this steepest point (a pair of
            # peaks closer than the upstroke, left to the quality and interval gates)
            lo = max(0, k - w, prev if prev < k else 0)
            m = lo + int(np.argmin(clean[lo : k + 1]))
            floor = float(clean[m])
            if lo < m < k:  # a minimum inside the window: its vertex value, off the sample grid
                y0, y2 = clean[m - 1], clean[m + 1]
                floor = parabolic_value(y0, floor, y2, parabolic_offset(y0, floor, y2))
            slope = parabolic_value(d[k - 1], d[k], d[k + 1] if k + 1 < len(d) else d[k], off)
            j = min(int(np.floor(k + off)), len(clean) - 2)
            height = float(clean[j] + (k + off - j) * (clean[j + 1] - clean[j]))
            if slope > 0:
                out[i] = k + off - (height - floor) / slope
        prev = p
    return out


def detect_ppg_beats(segment: np.ndarray, fs: float, fiducial: str | None = None) -> Detection:
    """PPG beats with fiducial points and per-beat quality.

    Elgendi peaks (:func:`detect_ppg`) refined to sub-sample position (:func:`refine_peaks_lsq`
    over ``PPG_PEAK_FIT_S``);
    quality = template correlation (:func:`template_quality`), 0 where neither neighbouring
    interval is plausible, and capped at the block's time-weighted median
    (:func:`time_weighted_median`) when that is below the acceptance floor (so a block mostly of
    noise also costs its few clean beats: conservative).

    The systolic peak is the fiducial point (``PPG_FIDUCIAL``). The steepest upstroke
    (:func:`max_slope_points`, Peralta et al. 2019, Physiol. Meas. 40:025007) brings Welltory
    RMSSD within 20 % on 13 instead of 11 of 21 recordings and PPG intervals slightly closer to
    the ECG's (NeuroKit finger 97.4 vs 96.7 %, ICU a103l 98.0 vs 96.7 % within 20 ms), but mean HR
    within 2 % on 17 instead of 20 of 21 and Verity Sense intervals within 20 ms of the device's
    PPI on 60 instead of 97.3 %: it stays an alternative for the bench
    (``bench/validate_heart.py --ppg-fiducial slope``; bench/RESULTS.md, "Heart leftovers").
    The intersecting-tangents foot (:func:`tangent_foot_points`) is the third choice: on Welltory
    it aligns as many recordings as the upstroke (19 of 21) but with noisier intervals (RMSSD within
    20 % on 11 of 21, mean HR within 2 % on 18), and on the Verity Sense, whose pulse rises over
    most of the cycle, 32 % of intervals are within 20 ms of the PPI (bench/RESULTS.md, "The
    intersecting-tangents foot").
    ``fiducial`` ("peak", "slope" or "tangent"; None: ``PPG_FIDUCIAL``) chooses per detector: a session
    sets it with the ``heart.ppg_fiducial`` option (:class:`.heart.HeartOptions`).
    """
    peaks, clean = detect_ppg(segment, fs)
    if len(peaks) == 0:
        return Detection(np.empty(0), peaks, np.empty(0), clean)
    fiducial = fiducial or PPG_FIDUCIAL
    if fiducial in ("slope", "tangent"):
        points = (max_slope_points if fiducial == "slope" else tangent_foot_points)(clean, peaks, fs)
        ok = np.isfinite(points)
        peaks, points = peaks[ok], points[ok]
    else:
        points = refine_peaks_lsq(clean, peaks, int(round(PPG_PEAK_FIT_S * fs)))
    q = template_quality(clean, points, fs, PPG_TEMPLATE_S)
    q = cap_by_typical(q, points, PPG_MIN_BEAT_QUALITY)
    q = np.where(interval_plausible(points, fs), q, 0.0)
    return Detection(points, peaks, q, clean)


def detect_ecg_beats(segment: np.ndarray, fs: float) -> Detection:
    """ECG R peaks (:func:`detect_ecg`, sub-sample refined) with per-beat template quality
    (:func:`template_quality` over ``ECG_TEMPLATE_S``, capped by :func:`cap_by_typical`)."""
    peaks, clean = detect_ecg(segment, fs)
    points = refine_peaks(clean, peaks)
    q = cap_by_typical(template_quality(clean, points, fs, ECG_TEMPLATE_S), points, ECG_MIN_TEMPLATE_CORR)
    return Detection(points, peaks, q, clean)


@dataclass
class BeatDetectorOptions:
    """Block geometry of :class:`BeatDetector` (seconds) and the per-beat quality floor."""

    step_s: float = 8.0  # beats finalised per block
    margin_s: float = 2.0  # context on both sides (filter transients, 0.75-s detector averages)
    #: beats below this quality are not returned; None: ``PPG_MIN_BEAT_QUALITY`` for PPG, no floor for ECG
    min_quality: float | None = None
    #: PPG fiducial point, "peak", "slope" or "tangent" (:func:`detect_ppg_beats`); None: ``PPG_FIDUCIAL``
    ppg_fiducial: str | None = None


#: How many recent beats keep their quality in :attr:`BeatDetector.quality` when nobody pops them.
QUALITY_MEMORY = 4096


class BeatDetector:
    """Incremental beat detector for one regular stream.

    Feed samples with :meth:`push`; :meth:`end_segment` at a dropout or at the end of data.
    Both return newly final beat times (session seconds, sub-sample precision), in order.
    ECG beats are R peaks, PPG beats systolic peaks, both refined to sub-sample position.

    Parameters
    ----------
    fs : float
        Nominal sample rate (Hz); sample times come from the chunks, so rate drift is harmless.
    kind : {"ecg", "ppg"}
        Which detector to run.
    options : BeatDetectorOptions, optional
        Block geometry and quality floor.

    Attributes
    ----------
    amplitudes : dict[float, float]
        Cleaned-signal amplitude at each returned beat (R peak or systolic peak), keyed by beat
        time; the consumer pops them.
    quality : dict[float, float]
        Template-match quality in [0, 1] of each returned beat (:func:`template_quality`; NaN
        where the segment was too short to judge), keyed by beat time; the most recent
        ``QUALITY_MEMORY`` are kept if nobody pops them.
    rejected : int
        Beats found but not returned because their quality was below the floor.
    rejected_times : list of float
        Times of those beats, in order; the consumer pops them (:class:`.beat_track.BeatTrack`
        ends the run of beats there, so that no interval spans a rejected beat); the most recent
        ``QUALITY_MEMORY`` are kept if nobody does.
    """

    def __init__(self, fs: float, kind: str = "ecg", options: BeatDetectorOptions | None = None) -> None:
        self.fs = float(fs)
        self.kind = kind
        o = options or BeatDetectorOptions()
        if kind == "ecg":
            self.detect: Callable[[np.ndarray, float], Detection] = detect_ecg_beats
        elif o.ppg_fiducial is None:
            self.detect = detect_ppg_beats
        else:
            self.detect = partial(detect_ppg_beats, fiducial=o.ppg_fiducial)
        self.step = max(1, int(round(o.step_s * self.fs)))
        self.margin = max(1, int(round(o.margin_s * self.fs)))
        if o.min_quality is not None:
            self.min_quality = float(o.min_quality)
        else:
            self.min_quality = PPG_MIN_BEAT_QUALITY if kind == "ppg" else 0.0  # ECG: graded only
        self.quality: dict[float, float] = {}
        self.rejected = 0
        self.rejected_times: list[float] = []
        self._reset()

    def _reset(self) -> None:
        #: amplitude of the cleaned signal at each beat returned (for ECG-/PPG-derived respiration),
        #: keyed by beat time; the consumer pops them
        self.amplitudes: dict[float, float] = getattr(self, "amplitudes", {})
        self.x = np.empty(0)  # buffered samples
        self.t = np.empty(0)  # their session times
        self.base = 0  # segment index of self.x[0]
        self.n = 0  # samples seen in the segment
        self.done = 0  # segment index up to which beats are final
        self.last_beat = -np.inf

    @property
    def watermark(self) -> float:
        """Session time before which no further beat can appear."""
        i = self.done - self.base
        if 0 <= i < len(self.t):
            return float(self.t[i])
        return float(self.t[-1]) if len(self.t) else -np.inf

    def push(self, values: np.ndarray, times: np.ndarray) -> list[float]:
        """Add samples (and their session times); returns the beats that became final."""
        self.x = np.concatenate([self.x, np.asarray(values, dtype=float)])
        # rounded to 1 us: t0 + i/rate and a re-cut chunk's t0 differ in the last bits
        self.t = np.concatenate([self.t, np.round(np.asarray(times, dtype=float), 6)])
        self.n += len(values)
        beats: list[float] = []
        while self.n >= self.done + self.step + self.margin:
            beats += self._block(self.done + self.step)
        return beats

    def end_segment(self) -> list[float]:
        """Finalise everything buffered (dropout or end of data) and start a new segment."""
        beats = self._block(self.n) if self.n > self.done else []
        self._reset()
        return beats

    def _block(self, upto: int) -> list[float]:
        lo = max(0, self.done - self.margin)
        hi = min(self.n, upto + self.margin)
        seg = self.x[lo - self.base : hi - self.base]
        beats: list[float] = []
        if len(seg) >= max(8, int(2 * self.fs)) and np.all(np.isfinite(seg)) and np.ptp(seg) > 0:
            try:
                det = self.detect(seg, self.fs)
            except Exception:  # neurokit2 raises on degenerate segments (e.g. no peaks at all)
                det = None
            if det is not None and len(det.peaks):
                # a beat belongs to the block holding its detected peak: each peak is judged once
                keep = (det.peaks + lo >= self.done) & (det.peaks + lo < upto)
                ts = np.interp(det.points[keep] + lo - self.base, np.arange(len(self.t)), self.t)
                for b, a, q in zip(ts, det.clean[det.peaks[keep]], det.quality[keep]):
                    if not b > self.last_beat:
                        continue
                    if q < self.min_quality:  # NaN (not judged) passes
                        self.rejected += 1
                        self.rejected_times.append(float(b))
                        continue
                    beats.append(float(b))
                    self.amplitudes[float(b)] = float(a)
                    self.quality[float(b)] = float(q)
                    self.last_beat = float(b)
                while len(self.quality) > QUALITY_MEMORY:
                    del self.quality[next(iter(self.quality))]
                del self.rejected_times[:-QUALITY_MEMORY]  # when nobody pops them
        self.done = upto
        drop = max(0, self.done - self.margin - self.base)
        if drop:
            self.x, self.t = self.x[drop:], self.t[drop:]
            self.base += drop
        return beats


#: Dynamic acceleration (root of the summed per-axis variances within one second, i.e. the RMS
#: of the acceleration vector around its mean: gravity and posture drop out, any direction of
#: movement counts), in milli-g, above which a second counts as strong motion. A project choice,
#: not a published threshold: at rest this is a few mg of sensor noise (Verity Sense recording:
#: median 4 mg, 99th percentile 62 mg, 3 of 513 s above 100 mg), while arm swing in walking reaches hundreds of mg.
STRONG_MOTION_MG = 100.0


class MotionGate:
    """Per-second motion from a 3-axis accelerometer, to mark PPG beats during strong motion.

    Feed ACC chunks (milli-g, columns x/y/z) with :meth:`push`; :meth:`quality_factor` tells a
    beat's quality multiplier (0 during strong motion, 1 otherwise, None while the ACC stream
    has not yet reached that second, so a consumer waits instead of guessing). Seconds are
    whole session seconds, so the result is independent of chunking.
    """

    def __init__(self, threshold_mg: float = STRONG_MOTION_MG) -> None:
        self.threshold_mg = float(threshold_mg)
        self._sec: int | None = None
        self._vals: list[np.ndarray] = []
        self.motion_mg: dict[int, float] = {}  # second -> RMS of acc around its mean (mg)
        self.watermark = -np.inf  # ACC seen up to this time

    def push(self, values: np.ndarray, times: np.ndarray, t_end: float | None = None) -> None:
        """Add ACC samples (n x 3, milli-g) with their session times; ``t_end``: the stream is
        complete up to there (a chunk's watermark, e.g. an empty chunk of a silent stream)."""
        v = np.asarray(values, dtype=float).reshape(len(times), -1)
        for t, row in zip(np.asarray(times, dtype=float), v):
            s = int(np.floor(t))
            if self._sec is not None and s != self._sec:
                self._close()
            self._sec = s
            self._vals.append(row)
        if len(times):
            self.watermark = max(self.watermark, float(np.floor(times[-1])))  # the current second is still open
        if t_end is not None and t_end > self.watermark:
            # no sample can come before t_end: seconds wholly before it are complete
            done = float(np.floor(t_end))
            if self._sec is not None and self._sec < done:
                self._close()
                self._sec = None
            self.watermark = max(self.watermark, done)

    def knows(self, t: float) -> bool:
        """The motion of second ``floor(t)`` is decided (:meth:`quality_factor` is not None)."""
        return int(np.floor(t)) < self.watermark

    def _close(self) -> None:
        if self._sec is not None and len(self._vals) >= 2:
            self.motion_mg[self._sec] = float(np.sqrt(np.var(np.array(self._vals), axis=0).sum()))
        self._vals = []

    def end(self) -> None:
        """Close the last second (end of data)."""
        self._close()
        self._sec = None
        self.watermark = np.inf

    def quality_factor(self, t: float) -> float | None:
        """0.0 if second ``floor(t)`` had strong motion, 1.0 if not or no ACC there, None if pending."""
        if not self.knows(t):
            return None
        s = int(np.floor(t))
        m = self.motion_mg.get(s)
        return 0.0 if m is not None and m > self.threshold_mg else 1.0
