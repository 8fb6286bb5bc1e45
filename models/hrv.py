"""Time-domain HRV over a sliding window of NN intervals, updated incrementally.

:class:`TimeDomainWindow` keeps running sums over a deque of beats, so one update costs O(beats
entering + leaving) instead of recomputing the window. Definitions follow neurokit2 0.2
``hrv_time`` / ``hrv_nonlinear`` exactly (so that the two agree on identical beats), which in turn
follow the Task Force (1996) standard:

- ``MeanNN``, ``SDNN`` (sample SD, ddof = 1) and ``RMSSD`` = sqrt(mean of squared successive
  differences): Task Force of the ESC and NASPE (1996), Circulation 93(5), 1043-1065.
- ``pNN50`` = 100 * #(|successive difference| > 50 ms) / #(NN intervals) (neurokit2's
  denominator; Ewing et al. 1984 for the index).
- ``SD1``, ``SD2``: sample SDs of (NN_n - NN_n+1)/sqrt(2) and (NN_n + NN_n+1)/sqrt(2)
  (Brennan, Palaniswami & Kamen 2001, IEEE TBME 48(11), eqs. 7-8).
- Stress index (Baevsky & Chernikova 2017, Cardiometry 10; Baevsky 2002):
  SI = AMo / (2 * Mo * MxDMn) with AMo the share (%) of NN intervals in the modal 50-ms bin,
  Mo the median NN (s) as in Kubios HRV (Tarvainen et al. 2014; the user's guide sets Mo to the
  median) and MxDMn = max - min NN (s). Reported as sqrt(SI), as Kubios does.
- HR = 60000 / MeanNN (bpm).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Any

import numpy as np

_REF = 800.0  # ms; sums are kept on (x - ref) to keep float cancellation negligible
SQRT2 = math.sqrt(2.0)


class TimeDomainWindow:
    """NN intervals ending inside the window, with running sums for the time-domain indices.

    ``add(t, rr, corrected)`` appends a beat (``rr`` = NN interval ending at ``t`` in ms, or
    ``None`` for the first beat after a gap, which starts a new run). ``expire(t0)`` drops beats
    at or before ``t0``. Successive differences are only formed between intervals that are both
    in the window and belong to the same run, so no difference ever spans a gap.
    """

    def __init__(self, hr_only: bool = False) -> None:
        #: keep only what :meth:`hr_bpm` and :attr:`covered_ms` read (the intervals' count and sum):
        #: the provisional tier asks nothing else, once per beat; :meth:`features` needs the default
        self.hr_only = hr_only
        self.q: deque[list[Any]] = deque()  # [t, rr, d (diff to previous rr or None), pair sum, corrected]
        self.n = 0
        self.s1 = self.s2 = 0.0  # rr sums
        self.m = 0
        self.d1 = self.d2 = 0.0  # successive differences
        self.p1 = self.p2 = 0.0  # pair sums (Poincare SD2)
        self.nn50 = 0
        self.corrected = 0
        self.sorted: list[float] = []
        self.bins: dict[int, int] = {}

    def reset(self) -> None:
        """Forget every interval and zero the running sums (also when the window empties: no float residue)."""
        self.__init__(self.hr_only)

    def __len__(self) -> int:
        return self.n

    @property
    def covered_ms(self) -> float:
        """Sum of the NN intervals in the window (ms): the time the window's beats account for."""
        return self.s1 + self.n * _REF

    @property
    def t_first(self) -> float | None:
        """Time (s) of the oldest interval in the window, ``None`` if empty."""
        return self.q[0][0] if self.q else None

    def add(self, t: float, rr: float | None, corrected: int = 0) -> None:
        """Append one interval and update the running sums.

        Parameters
        ----------
        t : float
            Time (s) of the beat that ends the interval.
        rr : float or None
            The NN interval (ms); ``None`` marks a beat whose interval is unknown.
        corrected : int, optional
            Beats the artefact correction changed for this interval.
        """
        d = pair = None
        if not self.hr_only and rr is not None and self.q and self.q[-1][1] is not None:
            d = rr - self.q[-1][1]
            pair = rr + self.q[-1][1]
        self.q.append([t, rr, d, pair, corrected])
        self.corrected += corrected
        if rr is None:
            return
        x = rr - _REF
        self.n += 1
        self.s1 += x
        if self.hr_only:
            return
        self.s2 += x * x
        bisect.insort(self.sorted, rr)
        b = int(rr // 50.0)
        self.bins[b] = self.bins.get(b, 0) + 1
        if d is not None:
            self._pair(d, pair, +1)

    def _pair(self, d: float, pair: float, sign: int) -> None:
        y = pair - 2 * _REF
        self.m += sign
        self.d1 += sign * d
        self.d2 += sign * d * d
        self.p1 += sign * y
        self.p2 += sign * y * y
        if abs(d) > 50.0:
            self.nn50 += sign

    def expire(self, t0: float) -> None:
        """Drop the intervals ending at or before ``t0`` (s) and take them out of the running sums."""
        q = self.q
        while q and q[0][0] <= t0:
            t, rr, d, pair, c = q.popleft()
            self.corrected -= c
            if rr is not None:
                x = rr - _REF
                self.n -= 1
                self.s1 -= x
                if not self.hr_only:
                    self.s2 -= x * x
                    del self.sorted[bisect.bisect_left(self.sorted, rr)]
                    b = int(rr // 50.0)
                    self.bins[b] -= 1
                    if not self.bins[b]:
                        del self.bins[b]
                    if d is not None:
                        self._pair(d, pair, -1)
            if q and q[0][2] is not None:  # the new oldest interval lost its predecessor
                self._pair(q[0][2], q[0][3], -1)
                q[0][2] = q[0][3] = None
        if not q:  # start clean: no float residue carried across runs
            self.reset()

    def hr_bpm(self) -> float | None:
        """Mean heart rate of the window (60000 / mean NN interval in ms); ``None`` below 2 intervals
        (:meth:`features`' ``hr_bpm``, without the other indices: the provisional tier needs only it)."""
        if self.n < 2:
            return None
        return 60000.0 / (_REF + self.s1 / self.n)

    def features(self) -> dict[str, float | None]:
        """Indices of the current window; ``None`` where too few intervals exist."""
        if self.hr_only:
            raise ValueError("a window kept for hr_bpm only has no other indices")
        out: dict[str, float | None] = dict.fromkeys(
            ("hr_bpm", "rmssd_ms", "ln_rmssd", "sdnn_ms", "pnn50", "sd1_ms", "sd2_ms", "stress_index")
        )
        n, m = self.n, self.m
        if n < 2:
            return out
        out["hr_bpm"] = self.hr_bpm()
        out["sdnn_ms"] = math.sqrt(max(0.0, (self.s2 - self.s1 * self.s1 / n) / (n - 1)))
        if m >= 1:
            rmssd = math.sqrt(max(0.0, self.d2 / m))
            out["rmssd_ms"] = rmssd
            out["ln_rmssd"] = math.log(rmssd) if rmssd > 0 else None
            out["pnn50"] = 100.0 * self.nn50 / (m + 1)
        if m >= 2:
            out["sd1_ms"] = math.sqrt(max(0.0, (self.d2 - self.d1 * self.d1 / m) / (m - 1) / 2.0))
            out["sd2_ms"] = math.sqrt(max(0.0, (self.p2 - self.p1 * self.p1 / m) / (m - 1) / 2.0))
        out["stress_index"] = stress_index_sqrt(self.sorted, self.bins)
        return out

    def intervals(self) -> tuple[np.ndarray, np.ndarray]:
        """Beat times and NN intervals of the longest recent run without a gap (for spectra)."""
        ts, rr = [], []
        for t, r, *_ in self.q:
            if r is None:
                ts, rr = [], []
                continue
            ts.append(t)
            rr.append(r)
        return np.asarray(ts), np.asarray(rr)


def stress_index_sqrt(sorted_rr: list[float], bins: dict[int, int]) -> float | None:
    """sqrt of Baevsky's stress index from sorted NN intervals (ms) and 50-ms bin counts.

    SI = AMo / (2 * Mo * MxDMn) with AMo in %, Mo (median NN, Kubios convention) in s and
    MxDMn in s (Baevsky & Chernikova 2017). ``None`` when all intervals are equal.
    """
    n = len(sorted_rr)
    if n < 2:
        return None
    mxdmn = (sorted_rr[-1] - sorted_rr[0]) / 1000.0
    if mxdmn <= 0:
        return None
    h = n // 2
    mo = (sorted_rr[h] if n % 2 else 0.5 * (sorted_rr[h - 1] + sorted_rr[h])) / 1000.0
    amo = 100.0 * max(bins.values()) / n
    return math.sqrt(amo / (2.0 * mo * mxdmn))


def stress_index_batch(rr_ms: np.ndarray) -> float | None:
    """Reference (non-incremental) sqrt stress index of an array of NN intervals (ms)."""
    rr = np.sort(np.asarray(rr_ms, dtype=float))
    if len(rr) < 2:
        return None
    _, counts = np.unique(np.floor(rr / 50.0), return_counts=True)
    return stress_index_sqrt(rr.tolist(), {i: int(c) for i, c in enumerate(counts)})
