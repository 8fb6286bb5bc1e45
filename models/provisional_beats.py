"""Streaming beat detection (ECG R peaks, PPG systolic peaks) with a short, bounded look-ahead,
for the *provisional* live tier.

The final detector (:class:`.beats.BeatDetector`) runs neurokit2 on 12-s blocks and zero-phase
filters, so a beat is final 8-10 s after it happened. This module detects the same R peaks
causally, sample by sample, so a beat is known a fraction of a second after its sample arrives:

1. **Cleaning**, as neurokit2's ``ecg_clean(method="neurokit")`` but causal: the same 5th-order
   Butterworth high-pass at 0.5 Hz run forward only (``scipy.signal.sosfilt``; unlike the
   zero-phase original it shifts phase, which moves a real R wave by a median 0.5-2.6 ms but a
   broad, smooth simulated complex by about one sample at 130 Hz) and the same ``fs/50``-sample
   moving average (a linear-phase FIR: its delay of ``(L-1)/2`` samples is subtracted from
   every peak time).
2. **QRS search**, the gradient method of neurokit2's ``ecg_findpeaks(method="neurokit")``
   (Makowski et al. 2021, Behav Res Methods 53:1689): the absolute gradient smoothed over
   0.1 s; a QRS complex is where it exceeds 1.5 x its average over 0.75 s, a window that
   reaches ``avg_lookahead_s`` = 0.3 s past the sample judged (neurokit2 centres it: 0.375 s;
   a purely trailing one misses the beat after a large ectopic complex); complexes shorter
   than 0.4 x the mean length of the recent ones are ignored (neurokit2: of the whole block);
   the R peak is the most prominent local maximum of the cleaned signal inside the complex; a
   peak closer than 0.3 s to the previous one is dropped.
3. **Refinement**: the three-point parabolic vertex (:func:`.beats.parabolic_offset`), as the
   final detector does.

A beat is confirmed when its complex closes (the smoothed gradient falls below the threshold):
about half a QRS width, the 0.05-s smoothing delay and the threshold's 0.3-s look-ahead after
the R peak (0.42-0.45 s measured), whatever the chunk size. Every filter keeps its state
(``zi``) between chunks, as MNE-LSL's stream filters do (:mod:`.carried_filters`), and all
decisions are taken in sample order, so the beats do not depend on how the signal was cut
(``tests/models/test_provisional_beats.py`` checks bit-identical output over chunkings).
A complex still open after ``max_qrs_s`` is closed there, which bounds the look-ahead.

What is *not* claimed: these beats are not artefact-corrected and carry no template quality;
they are a live preview that the final tier replaces (``bench/RESULTS.md``, "Provisional beats",
gives their sensitivity, positive predictivity and agreement with the final beats).
A segment (after a dropout, a hole of missing samples, or at the start) needs ``warmup_s`` of
signal before its first beat can be confirmed: the threshold average must fill first.

PPG (:class:`StreamingPpgDetector`) follows the same pattern with Elgendi et al.'s detector, as
neurokit2's ``ppg_clean`` + ``ppg_findpeaks`` (Elgendi et al. 2013, PLoS ONE 8(10):e76585): a
3rd-order Butterworth band-pass 0.5-8 Hz run forward only; the clipped, squared signal averaged
over 0.111 s (the "peak" average) against its average over 0.667 s (the "beat" average, centred
as in neurokit2, so the peak average is judged 0.333 s late; a trailing one found 76 % instead
of 98 % of the final beats on ICU record a103l) plus 0.02 x its running mean (neurokit2: the
block's mean; here a one-pole average with a 10-s time constant); a wave at least 0.111 s long
holds one systolic peak, placed as the final detector places it (a least-squares parabola over
``PPG_PEAK_FIT_S``).
The forward-only band-pass delays the pulse wave (it is not zero-phase): provisional PPG beats
sit a roughly constant time after the final ones (measured in ``bench/RESULTS.md``); intervals,
hence heart rate, are not shifted. No per-beat template quality is judged here: the final tier
drops beats below ``PPG_MIN_BEAT_QUALITY``, the provisional tier shows them (noisy stretches
therefore show more provisional than final PPG beats).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import butter, sosfilt_zi

from .beats import PPG_PEAK_FIT_S, parabolic_offset, refine_peaks_lsq
from .carried_filters import (
    CarriedFir,
    CarriedMeanThreshold,
    CarriedSos,
    fir_section,
    linear_filter,
    sequential_fir,
)


@dataclass
class StreamingEcgOptions:
    """Settings of :class:`StreamingEcgDetector` (neurokit2's names and defaults where they exist)."""

    smooth_s: float = 0.1  # neurokit2 smoothwindow: boxcar on the absolute gradient
    avg_s: float = 0.75  # neurokit2 avgwindow: the threshold's average
    #: look-ahead of that average (s): 0 = trailing; avg_s / 2 = centred as in neurokit2. A
    #: trailing average still holds a large ectopic complex when the next beat comes (Polar H10
    #: recording: 9 of its 538 beats missed); 0.3 s recovers most of them at ~0.3 s of delay
    #: (chosen among 0, 0.2, 0.3, 0.375 s on the bench records, bench/RESULTS.md)
    avg_lookahead_s: float = 0.3
    grad_threshold: float = 1.5  # neurokit2 gradthreshweight
    min_len_weight: float = 0.4  # neurokit2 minlenweight
    min_delay_s: float = 0.3  # neurokit2 mindelay: refractory period between R peaks
    recent_qrs: int = 16  # complexes whose mean length sets the minimum length
    max_qrs_s: float = 0.3  # an open complex is closed after this long (bounds the look-ahead)
    warmup_s: float = 1.0  # no beat in the first second of a segment (the averages fill first)


@dataclass
class StreamingPpgOptions:
    """Settings of :class:`StreamingPpgDetector` (neurokit2's Elgendi names and defaults)."""

    peak_s: float = 0.111  # peakwindow; also the shortest wave (Elgendi's threshold 2)
    beat_s: float = 0.667  # beatwindow
    #: look-ahead of the beat average (s): 0 = trailing; beat_s / 2 = centred as in neurokit2
    beat_lookahead_s: float = 0.333
    beat_offset: float = 0.02  # beatoffset, times the running mean of the squared signal
    mean_tau_s: float = 10.0  # time constant of that running mean
    min_delay_s: float = 0.3  # mindelay
    max_wave_s: float = 0.6  # an open wave is closed after this long (bounds the look-ahead)
    warmup_s: float = 2.0  # the band-pass and the averages settle first


def _boxcar(n: int) -> np.ndarray:
    return np.ones(n) / n


_GRADIENT = np.array([0.5, 0.0, -0.5])  # numpy.gradient's centred difference, one sample late
_HALF = np.array(0.5)  # a 0-d operand: the float64 product of 0.5, without converting a Python float per call
_ZERO = np.array(0.0)


@lru_cache(maxsize=16)
def _ecg_filters(fs: float):
    """The high-pass (sections, steady state), the moving average, and the cleaning cascade: the
    high-pass with the average as one more section where it has at most 3 taps (below 200 Hz;
    :func:`.carried_filters.fir_section`), else None."""
    hp = butter(5, 0.5, btype="highpass", output="sos", fs=fs)
    ma_n = int(fs / 50) if fs >= 100 else 2  # neurokit2's "powerline" moving average, as beats.ecg_clean
    hp_zi, ma = sosfilt_zi(hp), _boxcar(ma_n)
    cascade = None
    if ma_n <= 3:  # the average starts from zeros, as CarriedFir's state: a zero state row
        cascade = (np.vstack((hp, fir_section(ma))), np.vstack((hp_zi, np.zeros(2))))
    return hp, hp_zi, ma, cascade


@lru_cache(maxsize=16)
def _ppg_filters(fs: float):
    bp = butter(3, [0.5, 8.0], btype="bandpass", output="sos", fs=fs)
    return bp, sosfilt_zi(bp)


def _most_prominent_peak(x: list[float]) -> int | None:
    """Index of the most prominent local maximum of ``x`` (the first of equals); None if it has none.

    What ``scipy.signal.find_peaks(x, prominence=(None, None))`` and an argmax of the prominences
    give, following scipy's ``_local_maxima_1d`` and ``_peak_prominences`` (no window): a local
    maximum is higher than its left neighbour and than the first different sample on its right
    (a flat top counts at its middle, rounded down); its prominence is its height above the higher
    of the lowest samples between it and a higher sample (or the edge) on either side. Written
    out for the few dozen samples of one complex, where ``find_peaks``'s argument handling costs
    more than the search (``tests/models/test_provisional_beats.py`` compares the two). A lone
    maximum needs no prominence, and one whose height above the lowest sample (a bound on its
    prominence) does not exceed the best so far cannot win.
    """
    n = len(x)
    if n < 3:
        return None
    peaks = []
    a, b = x[0], x[1]
    for i in range(2, n):  # b = x[i - 1], a maximum if higher than a and not lower than c
        c = x[i]
        if a < b >= c:
            if b == c:  # a flat top: a maximum if the first different sample after it is lower
                ahead = i
                while ahead < n - 1 and x[ahead] == b:
                    ahead += 1
                if x[ahead] < b:
                    peaks.append((i - 1 + ahead - 1) // 2)
            else:
                peaks.append(i - 1)
        a, b = b, c
    if len(peaks) < 2:
        return peaks[0] if peaks else None
    floor = min(x)
    best, best_prominence = None, -math.inf
    for peak in peaks:
        if x[peak] - floor <= best_prominence:  # its prominence is at most that: it cannot win
            continue
        prominence = _prominence(x, peak)
        if prominence > best_prominence:
            best, best_prominence = peak, prominence
    return best


def _prominence(x: list[float], peak: int) -> float:
    """Prominence of the local maximum ``x[peak]`` over the whole of ``x`` (scipy's definition)."""
    top = x[peak]
    left_min = right_min = top
    j = peak
    while j >= 0 and x[j] <= top:
        if x[j] < left_min:
            left_min = x[j]
        j -= 1
    j, n = peak, len(x)
    while j < n and x[j] <= top:
        if x[j] < right_min:
            right_min = x[j]
        j += 1
    return top - max(left_min, right_min)


def _round_us(t: float) -> float:
    """``numpy.round(t, 6)`` for one finite float, the same bits: numpy multiplies by ``1e6``, rounds
    half to even (``rint``) and divides by ``1e6``; Python's ``round`` rounds half to even exactly, and
    a zero keeps the sign of ``t`` as ``rint`` does."""
    r = round(t * 1e6)
    return r / 1e6 if r else math.copysign(0.0, t)


def regular_time(t0: float, rate: float, i: int) -> float:
    """Session time of sample ``i`` of a regular chunk starting at ``t0``: ``t0 + i / rate``, the
    operations of :meth:`.sensors.chunk.Chunk.sample_times` (``t0 + arange(n) / rate``), so the same bits."""
    return t0 + i / rate


#: How many recent beats keep their confirmation time when nobody pops them.
CONFIRMED_MEMORY = 4096

#: Samples the cleaned-signal buffer holds before it is compacted (at least twice what is kept)
BUFFER = 4096


class _WaveDetector:
    """Causal beat detector: a *feature* crossing a *threshold* opens a wave, the wave closing
    confirms the most prominent local maximum of the cleaned signal inside it.

    Subclasses filter (:meth:`_filter`, keeping every filter state between chunks) and set the
    delays that map feature samples back to cleaned samples and cleaned samples back to input
    samples. Decisions are taken sample by sample in order, so chunking never changes them.
    """

    #: cleaned sample m shows the input at m - clean_delay (fractional: a linear-phase FIR)
    clean_delay: float = 0.0
    #: the feature at m describes the cleaned signal at m - feature_delay
    feature_delay: int = 0

    def __init__(self, fs: float, min_delay_s: float, max_wave_s: float, warmup_s: float) -> None:
        self.fs = float(fs)
        self.min_delay = int(np.rint(min_delay_s * self.fs))
        self.max_wave = max(2, int(np.rint(max_wave_s * self.fs)))
        self.warmup = int(np.rint(warmup_s * self.fs))
        self.keep = int(np.ceil(2.0 * self.fs)) + self.max_wave + self.feature_delay  # kept for the peak search
        #: for each beat returned, the session time of the newest sample that had arrived when it
        #: was confirmed (the last sample of that chunk); the consumer pops them (the most recent
        #: CONFIRMED_MEMORY are kept if nobody does)
        self.confirmed_at: dict[float, float] = {}
        self._reset()

    def _reset(self) -> None:
        self._reset_filters()
        self.n = 0  # samples seen in the segment
        self.base = 0  # segment index of the oldest sample kept (clean[0])
        # the cleaned samples kept, buf[0, lo:hi] (segment indices base to n), filtered in place where
        # they arrive; the two before lo are zeros at a segment's start (the gradient's initial state)
        self._buf = np.zeros((1, max(BUFFER, 2 * self.keep + 2)))
        self._lo = self._hi = 2
        #: each chunk still kept: (segment index of its first sample, t0, rate, None) for a regular
        #: chunk (times computed when read, :func:`regular_time`), (index, 0, 0, times) otherwise
        self._times: deque[tuple[int, float, float, np.ndarray | None]] = deque()
        self.wave_beg: int | None = None  # segment index where the open wave began (feature time)
        self.above = False  # the feature was above the threshold at the last sample
        self.last_peak = -(10**9)

    @property
    def clean(self) -> np.ndarray:
        """The cleaned samples kept (segment indices :attr:`base` to :attr:`n`), a view."""
        return self._buf[0, self._lo : self._hi]

    def _time(self, k: int) -> float:
        """Session time of the sample with segment index ``k`` (kept)."""
        for first, t0, rate, times in reversed(self._times):
            if k >= first:
                return regular_time(t0, rate, k - first) if times is None else float(times[k - first])
        raise IndexError(k)  # pragma: no cover - the caller reads kept samples only

    def _room(self, m: int) -> None:
        """Room for ``m`` more samples at the buffer's end: the kept ones (and the two before) moved
        to its start, into a larger buffer if need be."""
        lo, hi = self._lo, self._hi
        if hi + m <= self._buf.shape[1]:
            return
        kept = hi - lo + 2
        buf = np.empty((1, max(self._buf.shape[1], 2 * (kept + m))))
        buf[0, :kept] = self._buf[0, lo - 2 : hi]
        self._buf, self._lo, self._hi = buf, 2, kept

    def _reset_filters(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _filter(self, y: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """Clean the new samples in place (``y``: shape ``(1, m)``, the buffer's newest ``m``, which
        follow the samples kept before them); return "feature above threshold" for them."""
        raise NotImplementedError

    def _accept(self, length: int) -> bool:  # pragma: no cover - abstract
        """Whether a wave of ``length`` samples may hold a beat (also learns from it)."""
        raise NotImplementedError

    def _refine(self, j: int, around: list[float]) -> float:
        """Sub-sample offset of the peak at buffer index ``j`` from ``j`` (three-point vertex of
        ``around``: the cleaned samples at ``j - 1, j, j + 1``, as Python floats)."""
        return parabolic_offset(*around)

    def push(self, values: np.ndarray, times: np.ndarray) -> list[float]:
        """Add samples with their session times; returns the beats confirmed by them, in order.

        The values must be finite: a NaN would stay in every filter's state until
        :meth:`end_segment`, so the caller ends the segment at a hole (as
        :class:`.provisional_heart.ProvisionalHeart` and :class:`.beat_track.BeatTrack` do).
        """
        return self._push(values, 0.0, 0.0, np.array(times, dtype=float))  # a copy: kept for the beats

    def push_regular(self, values: np.ndarray, t0: float, rate: float) -> list[float]:
        """:meth:`push` for the samples of a regular chunk: sample ``i`` at ``t0 + i / rate``, as
        :meth:`.sensors.chunk.Chunk.sample_times` gives it (the same beats, without the times array)."""
        return self._push(values, float(t0), float(rate), None)

    def _push(self, values: np.ndarray, t0: float, rate: float, times: np.ndarray | None) -> list[float]:
        x = np.asarray(values, dtype=float)
        m = len(x)
        if not m:
            return []
        first = self.n
        n = self.n = first + m
        # times are rounded to 1 us as the final detector's, but only the few a beat reads (_round_us)
        self._times.append((first, t0, rate, times))
        self._room(m)
        hi = self._hi
        y = self._buf[:, hi : hi + m]
        y[0] = x
        self._hi = hi + m
        above = self._filter(y).tobytes()
        beats: list[float] = []
        # only the samples where the comparison flips matter: walk them in sample order (found in
        # the comparison's bytes, 0 or 1 each, from where the last chunk ended)
        flips = []
        state = self.above
        at = above.find(b"\0" if state else b"\1")
        while at >= 0:
            flips.append(first + at)
            state = not state
            at = above.find(b"\0" if state else b"\1", at + 1)
        rising = not self.above
        self.above = state
        flips.append(n)
        beg, cap = self.wave_beg, self.max_wave
        for at in flips:
            if beg is not None and beg + cap < at:
                self._close(beg, beg + cap, beats)  # capped: the look-ahead stays bounded
                beg = None
            if at == n:
                break
            if rising:
                if beg is None and at >= self.warmup:
                    beg = at - 1  # neurokit2: the last sample below the threshold
            elif beg is not None:
                self._close(beg, at, beats)
                beg = None
            rising = not rising
        self.wave_beg = beg
        if beats:
            newest = _round_us(self._time(n - 1))
            confirmed = self.confirmed_at
            for b in beats:
                confirmed[b] = newest
            while len(confirmed) > CONFIRMED_MEMORY:  # nobody pops them on the live path
                del confirmed[next(iter(confirmed))]
        drop = n - self.base - self.keep
        if drop > 0 and beg is not None:
            drop = min(drop, beg - self.feature_delay - 2 - self.base)
        if drop > 0:
            self.base += drop
            self._lo += drop
            chunks = self._times
            while len(chunks) > 1 and chunks[1][0] <= self.base:
                chunks.popleft()  # every sample of the oldest chunk is dropped
        return beats

    def _close(self, beg: int, end: int, beats: list[float]) -> None:
        """The wave open since segment index ``beg`` ends: its last sample above the threshold is
        segment index ``end - 1``."""
        if not self._accept(end - 1 - beg):  # neurokit2: end = the last sample above threshold
            return
        base, delay = self.base, self.feature_delay
        lo = max(beg - delay, base)
        hi = end - 1 - delay
        if hi - lo < 3:  # fewer than 3 samples (the buffer holds them all: hi <= n - 1 - delay)
            return
        values = self._buf[0, self._lo + lo - base : self._lo + hi - base].tolist()
        top = _most_prominent_peak(values)
        if top is None:
            return
        peak = lo + top
        if peak - self.last_peak <= self.min_delay:
            return
        self.last_peak = peak
        # the peak's input sample plus a fraction, between two buffered sample times (rate drift is
        # harmless); the fraction is split off before the buffer offset enters, so where the buffer
        # starts (which depends on the chunking) cannot change a bit of the result
        # (a local maximum is never the first or last sample: its neighbours are in values)
        shift = self._refine(peak - base, values[top - 1 : top + 2]) - self.clean_delay
        whole = math.floor(shift)
        k = peak + whole - base
        if k < 0 or k + 1 >= self.n - base:  # pragma: no cover - the buffer keeps 2 s before a wave
            return
        t0, t1 = _round_us(self._time(base + k)), _round_us(self._time(base + k + 1))
        beats.append(t0 + (t1 - t0) * (shift - whole))

    def end_segment(self) -> list[float]:
        """A dropout, a hole or the end of data: forget the segment (an open wave is dropped).

        Returns no beats (a list, for symmetry with :meth:`.beats.BeatDetector.end_segment`):
        a wave still open has not been confirmed.
        """
        self._reset()
        return []


class StreamingEcgDetector(_WaveDetector):
    """Causal, incremental R-peak detector for one ECG stream (module docstring).

    Feed samples with :meth:`push`; call :meth:`end_segment` at a dropout or a hole. Both return
    the beats confirmed by that call, as session times (sub-sample precision), in order.

    Parameters
    ----------
    fs : float
        Nominal sample rate (Hz); sample times come from the caller, so rate drift is harmless.
    options : StreamingEcgOptions, optional
        Detector settings.

    Attributes
    ----------
    confirmed_at : dict[float, float]
        For each beat returned, the session time of the newest sample that had arrived when it was
        confirmed (the last sample of that chunk); the consumer pops them (bench: confirmation delay).
    """

    def __init__(self, fs: float, options: StreamingEcgOptions | None = None) -> None:
        o = self.o = options or StreamingEcgOptions()
        hp, hp_zi, self.ma, cascade = _ecg_filters(float(fs))
        # the high-pass and the moving average: one cascade where the average fits a section (its
        # outputs differ at most in the sign of an exact zero, which no comparison, gradient
        # magnitude or vertex below can tell), else the average after the high-pass
        self.f_hp = CarriedSos(*(cascade or (hp, hp_zi)))
        self.f_ma = None if cascade else CarriedFir(self.ma)
        self.smooth = _boxcar(max(1, int(np.rint(o.smooth_s * fs))))
        self.avg = _boxcar(max(1, int(np.rint(o.avg_s * fs))))
        self.clean_delay = (len(self.ma) - 1) / 2.0
        # the smoothed gradient is compared with its average once that average has seen
        # lookahead samples past it: a delay line of that many samples
        self.lookahead = min(len(self.avg) - 1, int(np.rint(o.avg_lookahead_s * fs)))
        # gradient (centred difference: 1 sample), the boxcar (half its length), the delay line
        self.feature_delay = int(round(1 + (len(self.smooth) - 1) / 2.0)) + self.lookahead
        # the smoothed gradient, lookahead samples late, above 1.5 x its average
        self.f_above = CarriedMeanThreshold(self.avg, o.grad_threshold, self.lookahead)
        self._filters = tuple(f for f in (self.f_hp, self.f_ma, self.f_above) if f is not None)
        super().__init__(fs, o.min_delay_s, o.max_qrs_s, o.warmup_s)

    def _reset_filters(self) -> None:
        for f in self._filters:
            f.reset()
        self.zi_smooth = np.zeros(len(self.smooth) - 1)  # the smoothing boxcar's lfilter state
        self.qrs_lens: deque[int] = deque()
        self.qrs_sum = 0  # of qrs_lens: integers, so the running sum is exact

    def _filter(self, y: np.ndarray) -> np.ndarray:
        self.f_hp.in_place(y)
        if self.f_ma is not None:
            y[0] = self.f_ma(y[0])
        # the centred difference (CarriedFir(_GRADIENT): 0.5 x[k] - 0.5 x[k-2], the product taken
        # once) read from the buffer, which holds the segment's two cleaned samples before the chunk
        # (it keeps 2 s), or the two zeros before its start (the filter's initial state)
        hi = self._hi
        half = _HALF * self._buf[0, hi - y.shape[1] - 2 : hi]
        grad = np.abs(half[2:] - half[:-2])
        smooth, self.zi_smooth = sequential_fir(self.smooth, grad, self.zi_smooth)
        return self.f_above(smooth)

    def _accept(self, length: int) -> bool:
        self.qrs_lens.append(length)
        self.qrs_sum += length
        if len(self.qrs_lens) > self.o.recent_qrs:
            self.qrs_sum -= self.qrs_lens.popleft()
        # the mean of a few small integers, as np.mean gives it (an exact sum, one division)
        return length >= self.o.min_len_weight * (self.qrs_sum / len(self.qrs_lens))


class StreamingPpgDetector(_WaveDetector):
    """Causal, incremental systolic-peak detector for one PPG stream (module docstring).

    Same interface as :class:`StreamingEcgDetector`.

    Parameters
    ----------
    fs : float
        Nominal sample rate (Hz).
    options : StreamingPpgOptions, optional
        Detector settings.
    """

    def __init__(self, fs: float, options: StreamingPpgOptions | None = None) -> None:
        o = self.o = options or StreamingPpgOptions()
        self.f_bp = CarriedSos(*_ppg_filters(float(fs)))
        self.ma_peak = _boxcar(max(1, int(np.rint(o.peak_s * fs))))
        self.ma_beat = _boxcar(max(1, int(np.rint(o.beat_s * fs))))
        self.alpha = 1.0 - np.exp(-1.0 / (o.mean_tau_s * fs))
        # the running mean's lfilter coefficients and the offset's factor, as arrays once
        self.mean_b, self.mean_a = np.array([self.alpha]), np.array([1.0, self.alpha - 1.0])
        self.offset = np.array(o.beat_offset)
        self.lookahead = min(len(self.ma_beat) - 1, int(np.rint(o.beat_lookahead_s * fs)))
        self.delay_line = np.zeros(self.lookahead + 1)
        self.delay_line[-1] = 1.0
        self.feature_delay = int(round((len(self.ma_peak) - 1) / 2.0)) + self.lookahead
        self.fit = max(1, int(round(PPG_PEAK_FIT_S * fs)))
        self.f_peak, self.f_beat = CarriedFir(self.ma_peak), CarriedFir(self.ma_beat)
        self.f_delay = CarriedFir(self.delay_line)
        super().__init__(fs, o.min_delay_s, o.max_wave_s, o.warmup_s)

    def _reset_filters(self) -> None:
        for f in (self.f_bp, self.f_peak, self.f_beat, self.f_delay):
            f.reset()
        self.zi_mean: np.ndarray | None = None

    def _filter(self, y: np.ndarray) -> np.ndarray:
        self.f_bp.in_place(y)
        clean = y[0]
        sqrd = np.square(np.maximum(clean, _ZERO))  # ``** 2`` is numpy's square
        peak, beat = self.f_peak(sqrd), self.f_beat(sqrd)
        if self.zi_mean is None:
            self.zi_mean = np.array([(1.0 - self.alpha) * sqrd[0]])
        mean, self.zi_mean = linear_filter(self.mean_b, self.mean_a, sqrd, self.zi_mean)
        if self.lookahead:
            peak = self.f_delay(peak)
        return peak > beat + self.offset * mean

    def _accept(self, length: int) -> bool:
        return length >= len(self.ma_peak)  # Elgendi's threshold 2: a wave as long as the peak average

    def _refine(self, j: int, around: list[float]) -> float:
        """The final detector's least-squares vertex where the fit's samples are buffered."""
        if j - self.fit >= 0 and j + self.fit < len(self.clean):
            lo = j - self.fit  # fit on a slice so the offset does not depend on where the buffer starts
            seg = self.clean[lo : j + self.fit + 1]
            return float(refine_peaks_lsq(seg, np.array([self.fit]), self.fit)[0]) - self.fit
        return super()._refine(j, around)
