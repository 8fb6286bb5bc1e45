"""Windowed cross-lagged correlation (WCLC) between two equally sampled series, incrementally.

Boker, Xu, Rotondo & King (2002), "Windowed cross-correlation and peak picking for the analysis
of variability in the association between behavioral time series", *Psychological Methods* 7(3).

Conventions (used everywhere in Coregulate's dyad code):

* ``x`` is the **client**, ``y`` the **therapist**, one sample per second (``t_s``).
* Lag ``k > 0`` pairs ``x[j - k]`` with ``y[j]``: the therapist follows the client by ``k`` s,
  i.e. **positive lag = client leads**; ``k < 0`` means the therapist leads; ``k = 0`` is
  simultaneous.
* The window ending at second ``t`` holds, for every lag, the ``window`` pairs whose *later*
  member lies in ``(t - window, t]``; the earlier member may reach ``max_lag`` seconds further
  back. So every lag has the same number of pairs and nothing after ``t`` is used (causal, live).
* Per window the *peak* is the lag with the largest ``r`` (``peak="max"``, default: in-phase
  coupling, which is what physiological and movement synchrony mean) or the largest ``|r|``
  (``peak="abs"``, counts anti-phase coupling too); ties go to the smallest ``|lag|``. It is
  reported as Fisher ``z = atanh(r)`` with its sign. Boker et al. pick the local maximum nearest
  lag 0; with short lag ranges (±5 s) the global maximum is the simpler, close equivalent.

Incremental: for each lag (and each extra pairing, see :class:`LaggedCorrelationBank`) running
sums ``n, Σx, Σy, Σx², Σy², Σxy`` over valid pairs are kept; a new second adds one pair and
drops one pair per lag, so the cost is ``O(lags)`` instead of ``O(window × lags)``. To bound
floating-point drift the sums are recomputed exactly from the ring buffer once per ``window``
steps (amortised ``O(lags)``), and values are stored relative to the first finite value seen.
Several seconds can be pushed at once (:meth:`LaggedCorrelationBank.push_many`): the same sums
after each, from a few array operations for all of them.

Missing seconds (``None``/NaN) are never filled: a pair counts only when both members are
finite; a lag with fewer than ``min_valid_frac × window`` pairs, or with no variance, is not
computable, and a window in which any lag is not computable gives ``None``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

#: |r| is clipped below 1 so that z stays finite (identical series give z ≈ 7.25).
R_CLIP = 1.0 - 1e-6


@dataclass(frozen=True)
class SyncParams:
    """Parameters of the windowed cross-lagged correlation.

    Parameters
    ----------
    window_s : int
        Window length in seconds (samples at 1 Hz). Default 30 s.
    max_lag_s : int
        Lags ``-max_lag_s .. +max_lag_s`` are examined. Default ±5 s.
    step_s : int
        A window result is reported every ``step_s`` seconds (``t % step_s == 0``); the seconds
        in between are ``None``. The sums advance every second regardless. Default 1 s.
    min_valid_frac : float
        Minimum share of valid (both finite) pairs per lag for the window to count. Default 0.75.
    peak : {"max", "abs"}
        Peak of the cross-correlation function: largest ``r`` (in-phase) or largest ``|r|``.
    detrend : bool
        Remove a linear trend from both members of the pairs within each window (partial
        correlation controlling for time). Opposite slow drifts -- one person's HR settling while
        the other's rises -- otherwise dominate a 30-s window and read as (anti-)synchrony; the
        physiological-linkage literature often detrends for this reason (Palumbo et al. 2017).
        Default False, as in Boker et al. (2002) and SUSY/rMEA: on slow HR waves (periods of
        15-100 s) a 30-s linear detrend also removes much of the coupled signal (on the simulator
        the coupled-vs-uncoupled contrast fell from 0.15 to 0.06 in mean peak z).
    """

    window_s: int = 30
    max_lag_s: int = 5
    step_s: int = 1
    min_valid_frac: float = 0.75
    peak: str = "max"
    detrend: bool = False

    def __deepcopy__(self, memo: dict[int, Any]) -> "SyncParams":
        return self  # frozen, its fields immutable: a copy would be equal and never differ

    def __post_init__(self) -> None:
        if int(self.window_s) < 3 or int(self.max_lag_s) < 0 or int(self.step_s) < 1:
            raise ValueError("window_s >= 3, max_lag_s >= 0 and step_s >= 1 are required")
        if not 0.0 < self.min_valid_frac <= 1.0:
            raise ValueError("min_valid_frac must be in (0, 1]")
        if self.peak not in ("max", "abs"):
            raise ValueError("peak must be 'max' or 'abs'")

    @property
    def min_pairs(self) -> int:
        """Fewest valid pairs a window needs for a correlation: ``min_valid_frac`` of it, at least 3."""
        return max(3, math.ceil(self.min_valid_frac * int(self.window_s)))


@dataclass(frozen=True)
class SyncResult:
    """Peak of one window: Fisher ``z`` (signed) and ``r`` at ``lag`` (s, + = client leads)."""

    z: float
    r: float
    lag: int
    n: int  # valid pairs at the peak lag

    @property
    def leader(self) -> str:
        """Who leads at the peak lag (see :func:`lag_leader`)."""
        return lag_leader(self.lag)


def lag_leader(lag: int | float | None) -> str | None:
    """``"client"`` for positive lags, ``"therapist"`` for negative, ``"simultaneous"`` for 0."""
    if lag is None:
        return None
    return "client" if lag > 0 else "therapist" if lag < 0 else "simultaneous"


def constant(a: np.ndarray) -> np.ndarray:
    """``a`` made read-only: an estimator's constant (lags, delays), shared by its copies
    (:func:`copy_sharing_constants`); a write to it raises instead of reaching every copy."""
    a.flags.writeable = False
    return a


def copy_sharing_constants(obj: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy(obj, memo)`` of an estimator whose read-only arrays (:func:`constant`) are
    shared instead of copied; every other attribute is deep-copied. For the provisional tier's
    throwaway copies of the dyad (:meth:`.dyad.DyadPipeline.rules_copy`): copying the constants
    and walking the frozen parameters was about half of a copy's cost."""
    new = object.__new__(type(obj))
    memo[id(obj)] = new
    state = new.__dict__
    for k, v in vars(obj).items():
        state[k] = v if type(v) is np.ndarray and not v.flags.writeable else copy.deepcopy(v, memo)
    return new


def _as_float(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def _z_from_sums(n, sx, sy, sxx, syy, sxy, tsums, min_pairs: int) -> np.ndarray:
    """Fisher z from running sums; with ``tsums = (Σj, Σj², Σxj, Σyj)`` the linear trend in time
    is partialled out: ``r_xy·j = (C_xy - C_xj C_yj / C_jj) / sqrt(V_x·j V_y·j)``."""
    vx = n * sxx - sx**2
    vy = n * syy - sy**2
    cov = n * sxy - sx * sy
    scale_x = np.maximum(n * sxx, 1e-300)
    scale_y = np.maximum(n * syy, 1e-300)
    if tsums is not None:
        sj, sjj, sxj, syj = tsums
        vj = n * sjj - sj**2
        with np.errstate(invalid="ignore", divide="ignore"):
            inv = np.where(vj > 0, 1.0 / np.where(vj > 0, vj, 1.0), 0.0)
        cxj = n * sxj - sx * sj
        cyj = n * syj - sy * sj
        cov = cov - cxj * cyj * inv
        vx = vx - cxj**2 * inv
        vy = vy - cyj**2 * inv
    # No variance left (a still person's motion energy, a pure ramp) -> r undefined, not 0.
    ok = (n >= min_pairs) & (vx > 1e-10 * scale_x) & (vy > 1e-10 * scale_y)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(ok, cov / np.sqrt(np.where(ok, vx * vy, 1.0)), np.nan)
    # np.clip's minimum of the maximum (NaN kept), without its wrapper's cost
    return np.arctanh(np.minimum(np.maximum(r, -R_CLIP), R_CLIP))


class LaggedCorrelationBank:
    """Running windowed cross-lagged correlations for several pairings of the same two series.

    Pairing ``p`` correlates ``x`` delayed by ``x_delays[p]`` seconds with ``y`` delayed by
    ``y_delays[p]`` seconds; pairing ``(0, 0)`` is the genuine dyad, pairings with large delays
    are time-shifted pseudo-pairs (see :mod:`coregulate.models.surrogates`). All pairings share
    one ring buffer and are advanced together, vectorised over ``pairings × lags``.
    """

    def __init__(self, params: SyncParams, x_delays: Sequence[int] = (0,), y_delays: Sequence[int] = (0,)):
        if len(x_delays) != len(y_delays):
            raise ValueError("x_delays and y_delays differ in length")
        self.p = params
        w, L = int(params.window_s), int(params.max_lag_s)
        self.w = w
        self.lags = constant(np.arange(-L, L + 1))
        # Order used to break ties towards the smallest |lag| when picking the peak.
        self._tie_order = constant(np.argsort(np.abs(self.lags), kind="stable"))
        a = np.maximum(self.lags, 0)  # how far back x reaches at each lag
        b = np.maximum(-self.lags, 0)
        xd = np.asarray(x_delays, dtype=int)[:, None]
        yd = np.asarray(y_delays, dtype=int)[:, None]
        self._xoff = constant(xd + a[None, :])  # (P, K) offsets back from the newest pair time
        self._yoff = constant(yd + b[None, :])
        reach = int(max(self._xoff.max(), self._yoff.max()))  # the furthest any pair reaches back
        self.cap = reach + w + 1
        self._x = np.full(self.cap, np.nan)
        self._y = np.full(self.cap, np.nan)
        self._x0 = math.nan  # reference values subtracted before summing (numerical stability)
        self._y0 = math.nan
        self.t = -1  # index of the newest sample
        self._last_finite = -(10**9)  # index of the newest sample with x or y finite
        shape = self._xoff.shape
        #: the running sums per (pairing, lag), stacked: ``n, Σx, Σy, Σx², Σy², Σxy`` and, for the
        #: within-window linear detrend, the time sums ``Σj, Σj², Σxj, Σyj`` (time counted from
        #: _jref, reset at every exact refresh so that the numbers stay small)
        self._sums = np.zeros((10 if params.detrend else 6, *shape))
        self._jref = 0
        # the later members' time indices of the pairs added (t) and dropped (t - w), back from t
        self._back = constant(np.array([0, w])[:, None, None])

    __deepcopy__ = copy_sharing_constants

    def keep_first_pairing(self) -> None:
        """Drop every pairing but the first (the genuine one of :class:`.surrogates.SurrogateSynchrony`)
        from now on: its running sums, z and peaks are computed element by element, so they stay the
        same floats (:meth:`.surrogates.SurrogateSynchrony.freeze_null`)."""
        self._xoff, self._yoff = self._xoff[:1], self._yoff[:1]
        self._sums = self._sums[:, :1].copy()

    @property
    def idle(self) -> bool:
        """No finite value in reach of any pairing (signal absent): the sums are all zero."""
        return self.t - self._last_finite >= self.cap

    @property
    def n_pairings(self) -> int:
        """Number of pairings ``P`` (the delay pairs given at construction)."""
        return self._xoff.shape[0]

    def _history(self, seconds: int) -> tuple[int, np.ndarray, np.ndarray]:
        """The time of the oldest value the ring holds, and both series' values from it on, oldest
        first, with room for ``seconds`` more (:meth:`push_many` writes each value there too). Times
        before the first second are NaN: their slots are not written yet (the ring starts as NaN)."""
        cap = self.cap
        split = (self.t + 1) % cap  # the oldest value's slot
        hx, hy = np.empty(cap + seconds), np.empty(cap + seconds)
        hx[:cap - split], hx[cap - split:cap] = self._x[split:], self._x[:split]
        hy[:cap - split], hy[cap - split:cap] = self._y[split:], self._y[:split]
        return self.t - cap + 1, hx, hy

    def _recompute(self) -> None:
        j = np.arange(self.t - self.w + 1, self.t + 1)[:, None, None]  # (w, 1, 1): all pairs at once
        xi, yi = j - self._xoff, j - self._yoff
        xs = np.where(xi >= 0, self._x[xi % self.cap], np.nan)
        ys = np.where(yi >= 0, self._y[yi % self.cap], np.nan)
        ok = np.isfinite(xs) & np.isfinite(ys)
        xs, ys = np.where(ok, xs, 0.0), np.where(ok, ys, 0.0)
        sums = self._sums
        sums[0] = ok.sum(axis=0)
        sums[1] = xs.sum(axis=0)
        sums[2] = ys.sum(axis=0)
        sums[3] = (xs * xs).sum(axis=0)
        sums[4] = (ys * ys).sum(axis=0)
        sums[5] = (xs * ys).sum(axis=0)
        if self.p.detrend:
            self._jref = self.t
            jr = (j - self._jref).astype(float) * ok
            sums[6] = jr.sum(axis=0)
            sums[7] = (jr * jr).sum(axis=0)
            sums[8] = (jr * xs).sum(axis=0)
            sums[9] = (jr * ys).sum(axis=0)

    def _append(self, x: Any, y: Any) -> str:
        """Write one second into the ring; what it asks of the sums: ``"idle"`` (nothing finite in
        reach: every sum is zero already), ``"refresh"`` (an exact recomputation, once per window:
        bounded drift, amortised O(lags)) or ``"step"`` (the pairs in and out, :meth:`_add_up`)."""
        xv, yv = _as_float(x), _as_float(y)
        if math.isnan(self._x0) and not math.isnan(xv):
            self._x0 = xv
        if math.isnan(self._y0) and not math.isnan(yv):
            self._y0 = yv
        self.t += 1
        slot = self.t % self.cap
        self._x[slot] = xv - self._x0 if not math.isnan(xv) else math.nan
        self._y[slot] = yv - self._y0 if not math.isnan(yv) else math.nan
        if not (math.isnan(xv) and math.isnan(yv)):
            self._last_finite = self.t
        if self.idle:
            return "idle"
        return "refresh" if self.t % self.w == 0 and self.t > 0 else "step"

    def push(self, x: Any, y: Any) -> None:
        """Append one second of both series (``None``/NaN = missing)."""
        self.push_many([(x, y)])

    def push_many(self, values: Sequence[tuple[Any, Any]]) -> list[np.ndarray | None]:
        """Append several seconds of both series, one after the other (as :meth:`push` each).

        Returns
        -------
        list
            Per second, the running sums after it (``(sums, P, K)``, stacked as ``_sums``), or None
            for a second in which the bank was idle.

        The same IEEE operations in the same order as one second at a time: the seconds between two
        exact refreshes read the values of their pairs at once, from the ring's values before the call
        and each one written since (the ring forgets the oldest as they come, :meth:`_history`), and
        are added up in one array of their terms, the pair added then the pair dropped subtracted,
        whose rows are the sums after each second. A throwaway copy of the dyad steps
        a dozen seconds at once (:mod:`.provisional_dyad`): a few array operations for all of them.
        """
        out: list[np.ndarray | None] = [None] * len(values)
        # the ring's values and each one written after, oldest first: the seconds between two
        # refreshes read their pairs from here all at once (_add_up), when the ring forgot the oldest
        oldest, hx, hy = self._history(len(values))
        js: list[np.ndarray] = []  # the later members' times of the pairs in and out since the last refresh, in order
        dropped: set[int] = set()
        ends: list[tuple[int, int]] = []  # (second, how many pairs up to it)
        n = 0
        for i, (x, y) in enumerate(values):
            what = self._append(x, y)
            slot = self.t % self.cap
            hx[self.cap + i], hy[self.cap + i] = self._x[slot], self._y[slot]
            if what == "idle":
                continue
            if what == "refresh":
                self._add_up(js, oldest, hx, hy, dropped, ends, out)
                js, dropped, ends, n = [], set(), [], 0
                self._recompute()
                out[i] = self._sums.copy()
                continue
            j = self.t - (self._back if self.t >= self.w else self._back[:1])
            js.append(j)
            n += len(j)
            if len(j) > 1:
                dropped.add(n)
            ends.append((i, n))
        self._add_up(js, oldest, hx, hy, dropped, ends, out)
        return out

    def _add_up(self, js: list[np.ndarray], oldest: int, hx: np.ndarray, hy: np.ndarray, dropped: set[int],
                ends: list[tuple[int, int]], out: list[np.ndarray | None]) -> None:
        """Add the pairs whose later members are at the times ``js`` (per second: the pair in, then
        the pair out; ``dropped``: the positions, from 1, of the pairs out) to the running sums in
        order, their values read from ``hx``/``hy`` (both series from the time ``oldest`` on, NaN
        before the start: :meth:`_history`); ``out[i]``: the sums after the first ``end`` pairs."""
        if not js:
            return
        j = js[0] if len(js) == 1 else np.concatenate(js)
        back = j - oldest  # (pairs, 1, 1) positions in the history; minus the offsets, their earlier members'
        x, y = hx[back - self._xoff], hy[back - self._yoff]
        ok = np.isfinite(x) & np.isfinite(y)
        x = np.where(ok, x, 0.0)
        y = np.where(ok, y, 0.0)
        terms = np.empty((len(x) + 1, *self._sums.shape))  # (1 + pairs, sums, P, K): the sums, then each pair's terms
        terms[0] = self._sums
        terms[1:, 0] = ok  # 1.0 / 0.0
        terms[1:, 1] = x
        terms[1:, 2] = y
        np.multiply(x, x, out=terms[1:, 3])
        np.multiply(y, y, out=terms[1:, 4])
        np.multiply(x, y, out=terms[1:, 5])
        if self.p.detrend:
            # push's (sign·jr)·ok etc. with the sign as the operation: (-a)·b == -(a·b) in IEEE arithmetic
            jr = (j - self._jref).astype(float)
            terms[1:, 6] = jr * ok
            terms[1:, 7] = jr * jr * ok
            terms[1:, 8] = jr * x
            terms[1:, 9] = jr * y
        # one pair after the other, as push adds and drops them; each row's view made once (a dozen
        # seconds at once are some thirty rows)
        before = terms[0]
        for r in range(1, len(terms)):
            after = terms[r]
            (np.subtract if r in dropped else np.add)(before, after, out=after)
            before = after
        for i, end in ends:
            out[i] = terms[end]
        self._sums[...] = terms[-1]

    def z_of(self, sums: np.ndarray) -> np.ndarray:
        """Fisher z per (pairing, lag) from stacked running sums (``(sums, P, K)``, as :meth:`push_many`
        gives them, or ``(sums, m, P, K)``: m seconds at once); NaN where not computable."""
        return _z_from_sums(*sums[:6], tuple(sums[6:]) if self.p.detrend else None, self.p.min_pairs)

    def z_matrix(self) -> np.ndarray:
        """Fisher z per (pairing, lag) for the current window; NaN where not computable."""
        return self.z_of(self._sums)

    def peak_of(self, z: np.ndarray, p: int = 0, n: np.ndarray | None = None) -> SyncResult | None:
        """Peak of pairing ``p`` in a :meth:`z_matrix` result (``None`` if not computable); ``n``:
        the valid pairs per (pairing, lag) of the second ``z`` is of (the current ones by default)."""
        row = z[p]
        if not np.all(np.isfinite(row)):
            return None
        ordered = row[self._tie_order]
        crit = ordered if self.p.peak == "max" else np.abs(ordered)
        k = int(self._tie_order[int(np.argmax(crit))])
        zk = float(row[k])
        return SyncResult(z=zk, r=math.tanh(zk), lag=int(self.lags[k]), n=int((self._sums[0] if n is None else n)[p, k]))

    def peaks(self) -> list[SyncResult | None]:
        """Peak result per pairing for the window ending at the newest second."""
        z = self.z_matrix()
        return [self.peak_of(z, p) for p in range(z.shape[0])]

    def peak_stat(self, z: np.ndarray | None = None) -> np.ndarray:
        """Peak statistic per pairing (``max_k z`` or ``max_k |z|``; NaN if not computable)."""
        z = self.z_matrix() if z is None else z
        # z is finite or NaN (|r| is clipped below 1), and a maximum with a NaN is NaN: the same as
        # peak_statistic's explicit mask, in one pass
        return np.max(z, axis=-1) if self.p.peak == "max" else np.max(np.abs(z), axis=-1)


class WindowedCrossCorrelation:
    """Live WCLC of one pair of series (client ``x``, therapist ``y``).

    ``update(x, y)`` takes the values of the next second and returns the :class:`SyncResult`
    of the window ending there, or ``None`` (warm-up, too many missing values, no variance,
    or a second between steps).
    """

    def __init__(self, params: SyncParams | None = None):
        self.params = params or SyncParams()
        self.bank = LaggedCorrelationBank(self.params)
        self.t_s = 0

    def update(self, x: Any, y: Any) -> SyncResult | None:
        """Add one second of both series; every ``step_s`` seconds, the window's peak.

        Parameters
        ----------
        x, y : float or None
            The client's and the therapist's value of the second (``None`` if missing).

        Returns
        -------
        SyncResult or None
            The peak of the current window, or ``None`` between steps.
        """
        self.bank.push(x, y)
        self.t_s += 1
        if self.t_s % int(self.params.step_s):
            return None
        return self.bank.peaks()[0]


def wclc_series(x: Sequence[Any], y: Sequence[Any], params: SyncParams | None = None) -> list[SyncResult | None]:
    """Offline convenience: the live estimator run over two whole series (identical results)."""
    if len(x) != len(y):
        raise ValueError("x and y must be equally sampled and of equal length")
    est = WindowedCrossCorrelation(params)
    return [est.update(a, b) for a, b in zip(x, y)]


def wclc_offline(x: Sequence[Any], y: Sequence[Any], params: SyncParams | None = None) -> np.ndarray:
    """Vectorised batch WCLC: Fisher z of shape ``(len(x), 2*max_lag+1)`` (row ``t`` = window
    ending at second ``t + 1``), NaN where not computable.

    Same definition (pairs, validity, variance rule) as the live estimator, computed with
    cumulative sums in ``O(n × lags)`` array operations; used for batch studies and pseudo-pair
    analyses where thousands of pairings are needed.
    """
    params = params or SyncParams()
    x = np.array([_as_float(v) for v in x]) if not isinstance(x, np.ndarray) else np.asarray(x, dtype=float)
    y = np.array([_as_float(v) for v in y]) if not isinstance(y, np.ndarray) else np.asarray(y, dtype=float)
    if len(x) != len(y):
        raise ValueError("x and y must be equally sampled and of equal length")
    x = np.where(np.isfinite(x), x, np.nan)
    y = np.where(np.isfinite(y), y, np.nan)
    n, w, L = len(x), int(params.window_s), int(params.max_lag_s)
    fx = x[np.isfinite(x)]
    fy = y[np.isfinite(y)]
    x = x - (fx[0] if len(fx) else 0.0)
    y = y - (fy[0] if len(fy) else 0.0)
    out = np.full((n, 2 * L + 1), np.nan)
    j = np.arange(n)
    for col, k in enumerate(range(-L, L + 1)):
        a, b = max(k, 0), max(-k, 0)
        xs = np.where(j - a >= 0, x[np.clip(j - a, 0, None)], np.nan)
        ys = np.where(j - b >= 0, y[np.clip(j - b, 0, None)], np.nan)
        ok = np.isfinite(xs) & np.isfinite(ys)
        xs, ys = np.where(ok, xs, 0.0), np.where(ok, ys, 0.0)
        jj = np.where(ok, j - (n - 1) / 2.0, 0.0)  # centred time keeps the sums small
        sums = []
        lo = np.clip(j + 1 - w, 0, None)
        for v in (ok.astype(float), xs, ys, xs * xs, ys * ys, xs * ys, jj, jj * jj, jj * xs, jj * ys):
            c = np.concatenate([[0.0], np.cumsum(v)])
            sums.append(c[j + 1] - c[lo])
        cnt, sx, sy, sxx, syy, sxy = sums[:6]
        tsums = tuple(sums[6:]) if params.detrend else None
        out[:, col] = _z_from_sums(cnt, sx, sy, sxx, syy, sxy, tsums, params.min_pairs)
    return out


def peak_statistic(z: np.ndarray, peak: str = "max") -> np.ndarray:
    """Per-row peak (``max z`` or ``max |z|``) of a :func:`wclc_offline` result; NaN if any lag is."""
    ok = np.all(np.isfinite(z), axis=1)
    zz = np.where(np.isfinite(z), z, 0.0)
    stat = np.max(zz, axis=1) if peak == "max" else np.max(np.abs(zz), axis=1)
    return np.where(ok, stat, np.nan)


def wclc_reference(x: Sequence[float], y: Sequence[float], t: int, params: SyncParams) -> np.ndarray:
    """Direct (non-incremental) per-lag Pearson r (of detrended pairs when ``params.detrend``)
    for the window ending at index ``t``.

    Used by tests to check the running sums; NaN where not computable.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    w, L = int(params.window_s), int(params.max_lag_s)
    out = []
    for k in range(-L, L + 1):
        a, b = max(k, 0), max(-k, 0)
        j = np.arange(t - w + 1, t + 1)
        xi, yi = j - a, j - b
        ok = (xi >= 0) & (yi >= 0)
        xs = np.where(ok, x[np.clip(xi, 0, None)], np.nan)
        ys = np.where(ok, y[np.clip(yi, 0, None)], np.nan)
        m = np.isfinite(xs) & np.isfinite(ys)
        xv, yv = xs[m], ys[m]
        if params.detrend and m.sum() >= 2:  # residuals of a least-squares line in time
            xv = xv - np.polyval(np.polyfit(j[m], xv, 1), j[m])
            yv = yv - np.polyval(np.polyfit(j[m], yv, 1), j[m])
        if m.sum() < params.min_pairs or np.std(xv) < 1e-9 or np.std(yv) < 1e-9:
            out.append(np.nan)
        else:
            out.append(float(np.corrcoef(xv, yv)[0, 1]))
    return np.array(out)
