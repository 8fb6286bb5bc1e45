"""Significance of windowed synchrony against pseudo-synchrony from segment-shifted surrogates.

Two people's series correlate by chance (shared trends, slow rhythms, autocorrelation), so a raw
correlation says little. Ramseyer & Tschacher (2010, 2011) compare genuine synchrony with
*pseudo-synchrony*: the same windowed statistic computed after shuffling one person's series in
segments (they used segments of the window length), which keeps each series' own dynamics but
destroys the temporal alignment between the two people. Synchrony is then reported as an effect
size against that surrogate distribution.

Live version (what this module implements, deterministic and with bounded memory):

* The surrogate pairings are the client's window at ``t`` with the therapist's window ending
  ``d`` seconds earlier, and vice versa, for a fixed set of offsets ``d`` that are whole multiples
  of ``segment_s`` (``>= segment_s``, so the segments never overlap the genuine alignment). Each
  window of a segment-shuffled series is exactly such a non-matching segment pairing; fixing the
  offsets lets every pseudo-pair keep incremental running sums
  (:class:`~coregulate.models.synchrony.LaggedCorrelationBank`), so one second costs
  ``O(n_surrogates × lags)``. The offsets are drawn once with a seeded generator.
* The statistic is the same peak (``max_k z_k``, or ``max_k |z_k|`` with ``peak="abs"``) for the
  genuine and every pseudo-pair window, so the selection of the best lag is in the null too.
* The null pool is a ring buffer of the last ``pool_size`` surrogate peaks (bounded memory, slowly
  adapting to the session). Only the past is used, so live and replay give the same numbers.
* ``effect = (peak - mean_null) / sd_null`` (Ramseyer & Tschacher's standardised effect) and
  ``p = (1 + #{null >= |z|}) / (1 + N)`` (Davison & Hinkley 1997 Monte-Carlo p-value).
  Significance: ``p < alpha``.

:func:`shuffled_session_null` is the offline, session-level counterpart (true segment shuffling of
one series, as in SUSY), used for batch summaries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .synchrony import (
    LaggedCorrelationBank, SyncParams, SyncResult, constant, copy_sharing_constants, peak_statistic, wclc_offline,
)


@dataclass(frozen=True)
class SurrogateParams:
    """Parameters of the surrogate null.

    Parameters
    ----------
    segment_s : int
        Segment length; offsets are whole multiples of it. Default 30 s (= the window).
    n_surrogates : int
        Number of pseudo-pairs advanced every second (half per direction; rounded up to even).
    max_offset_s : int
        Largest offset; offsets are drawn from ``segment_s, 2·segment_s, ... <= max_offset_s``.
    pool_size : int
        Capacity of the ring buffer of surrogate peaks.
    min_null : int
        Fewer surrogate values than this -> effect and significance are ``None`` (warm-up).
    alpha : float
        Per-test significance level.
    seed : int
        Seed of the offset draw (deterministic sessions).
    """

    segment_s: int = 30
    n_surrogates: int = 20
    max_offset_s: int = 600
    pool_size: int = 12000
    min_null: int = 200
    alpha: float = 0.05
    seed: int = 0

    def __deepcopy__(self, memo: dict[int, Any]) -> "SurrogateParams":
        return self  # frozen, its fields immutable: a copy would be equal and never differ

    def offsets(self) -> np.ndarray:
        """The seeded, sorted surrogate offsets (seconds), one set used for both directions."""
        seg = int(self.segment_s)
        candidates = np.arange(seg, int(self.max_offset_s) + 1, seg)
        k = max(1, math.ceil(int(self.n_surrogates) / 2))
        if len(candidates) < k:
            raise ValueError("max_offset_s too small for n_surrogates offsets of segment_s")
        rng = np.random.default_rng(self.seed)
        return np.sort(rng.choice(candidates, size=k, replace=False))


@dataclass(frozen=True)
class SurrogateResult:
    """Genuine peak with its standing against the surrogate pool."""

    sync: SyncResult | None
    effect: float | None  # (peak - mean_null) / sd_null
    p: float | None
    significant: bool | None
    n_null: int


class SurrogateSynchrony:
    """Live WCLC of one pair of series plus its segment-shift surrogate null.

    ``update(x, y)`` takes one second (client ``x``, therapist ``y``; ``None`` = missing) and
    returns a :class:`SurrogateResult` (every field ``None`` when not computable).
    """

    def __init__(self, sync: SyncParams | None = None, surr: SurrogateParams | None = None):
        self.sync_params = sync or SyncParams()
        self.params = surr or SurrogateParams()
        off = self.params.offsets()
        zeros = np.zeros_like(off)
        # Pairing 0 is genuine; then therapist delayed by d (client's present vs therapist's past)
        # and client delayed by d.
        xd = np.concatenate([[0], zeros, off])
        yd = np.concatenate([[0], off, zeros])
        self.bank = LaggedCorrelationBank(self.sync_params, xd, yd)
        self.offsets = constant(off)
        self._pool = np.full(int(self.params.pool_size), np.nan)
        self._pool_next = 0
        self._pool_n = 0
        self.t_s = 0
        #: True: :meth:`update` gives the effect only (what a synchrony *level* reads), not the
        #: genuine peak's lag, ``p`` or ``significant`` (for the throwaway copies of
        #: :meth:`.dyad.DyadPipeline.rules_copy`); the effect and the pool are the same either way
        self.level_only = False
        #: the pool's (mean, SD) once :meth:`freeze_null` froze it (None: live, or not asked yet)
        self._frozen_stats: tuple[float, float] | None = None
        self.frozen = False

    __deepcopy__ = copy_sharing_constants

    def freeze_null(self) -> None:
        """From now on, test the genuine pairing against the null pool as it is, without adding to it.

        For the throwaway copies of the provisional tier (:meth:`.dyad.DyadPipeline.rules_copy`), which
        step a dozen provisional seconds past the newest final one: their effect sizes and ``p`` are
        those of the genuine peak against the surrogate peaks pooled up to the newest final second
        (the pool of the last ``pool_size`` peaks, of which a dozen seconds would add 20 each: 2 % of a
        full pool). The pseudo-pairs are then not computed at all (the bank keeps the genuine pairing,
        whose sums, z and peak are the same floats as before, :meth:`.LaggedCorrelationBank.keep_first_pairing`),
        and the pool's mean and SD are computed once. The final tier never freezes: its rows are
        tested against the pool before each second, as above.
        """
        self.bank.keep_first_pairing()
        self.frozen = True

    def _add_null(self, vals: np.ndarray, finite: bool = False) -> None:
        """Pool the finite ones of ``vals`` (``finite``: all of them are, known already)."""
        if not finite:
            vals = vals[np.isfinite(vals)]
        cap = len(self._pool)
        vals = vals[-cap:]
        start, n = self._pool_next, len(vals)
        if start + n <= cap:  # the slots the ring's modular index below gives, when it does not wrap
            self._pool[start:start + n] = vals
        else:
            self._pool[(start + np.arange(n)) % cap] = vals
        self._pool_next = (start + n) % cap
        self._pool_n = min(cap, self._pool_n + n)

    def null(self) -> np.ndarray:
        """Current surrogate pool (copy)."""
        return self._pool[np.isfinite(self._pool)].copy()

    def update(self, x: Any, y: Any) -> SurrogateResult:
        """Add one second of both series (as :meth:`.WindowedCrossCorrelation.update`) and, every
        ``step_s``, test the genuine peak.

        Returns
        -------
        SurrogateResult
            The genuine peak and its z and p against the surrogate pool, or ``None`` fields between
            steps, while the signal is absent, or until ``min_null`` surrogates are pooled.
        """
        return self.update_many([(x, y)])[0]

    def update_many(self, values: Sequence[tuple[Any, Any]]) -> list[SurrogateResult]:
        """:meth:`update` of each ``(x, y)`` in turn, the same results; the correlations of all of
        them (:meth:`.LaggedCorrelationBank.push_many`, their z and peaks) as whole arrays at once,
        the null pool a second at a time (each second is tested against the pool before it)."""
        sums = self.bank.push_many(values)
        live = [s for s in sums if s is not None]  # signal absent (e.g. no microphone): no arithmetic
        if live:
            # the z and peaks of all seconds at once, from their sums stacked (sums, m, P, K)
            zs = self.bank.z_of(live[0][:, None] if len(live) == 1 else np.stack(live, axis=1))
            stats = self.bank.peak_stat(zs)
            # per second: the genuine peak as a float, and whether every surrogate peak is finite
            # (all of them then go to the pool as they are), each asked of all seconds at once
            observed = stats[:, 0].tolist()
            all_finite = np.isfinite(stats[:, 1:]).all(axis=1).tolist()
        out, k = [], 0
        step = int(self.sync_params.step_s)
        for s in sums:
            self.t_s += 1
            if s is None:
                out.append(SurrogateResult(None, None, None, None, self._pool_n))
                continue
            # The null is fed every second (pseudo-pairs are independent of the reporting step).
            if not self.frozen:
                self._add_null(stats[k, 1:], all_finite[k])
            obs = observed[k]
            k += 1
            if self.t_s % step:
                out.append(SurrogateResult(None, None, None, None, self._pool_n))
                continue
            if self.level_only:  # NaN exactly when peak_of gives None below (both need every lag finite)
                out.append(SurrogateResult(None, None if math.isnan(obs) else self._effect(obs), None, None, self._pool_n))
                continue
            genuine = self.bank.peak_of(zs[k - 1], 0, s[0])
            if genuine is None or self._pool_n < int(self.params.min_null):
                out.append(SurrogateResult(genuine, None, None, None, self._pool_n))
                continue
            effect = self._effect(obs)
            p = (1.0 + float(np.count_nonzero(self._pooled() >= obs))) / (1.0 + self._pool_n)
            out.append(SurrogateResult(genuine, effect, p, p < self.params.alpha, self._pool_n))
        return out

    def _pooled(self) -> np.ndarray:
        """The filled part of the pool (all of it once full)."""
        return self._pool if self._pool_n == len(self._pool) else self._pool[: self._pool_n]

    def _effect(self, obs: float) -> float | None:
        """``(obs - mean_null) / sd_null`` (Ramseyer & Tschacher 2010); None during warm-up
        (fewer than ``min_null`` pooled) or without spread."""
        if self._pool_n < int(self.params.min_null):
            return None
        if not self.frozen:
            mean, sd = mean_and_sd(self._pooled())
        else:  # the pool does not change any more
            if self._frozen_stats is None:
                self._frozen_stats = mean_and_sd(self._pooled())
            mean, sd = self._frozen_stats
        return (obs - mean) / sd if sd > 0 else None


def mean_and_sd(values: np.ndarray) -> tuple[float, float]:
    """``float(np.mean(values))`` and ``float(np.std(values))`` (population SD) bit for bit, with
    one sum fewer: numpy's ``std`` sums once for the mean and once for the squared deviations, each
    an ``add.reduce`` divided by the count; these are the same operations on the same arrays.
    """
    n = len(values)
    mean = float(np.add.reduce(values)) / n
    dev = values - mean
    np.multiply(dev, dev, out=dev)
    return mean, math.sqrt(float(np.add.reduce(dev)) / n)


def _segment_shuffle(y: np.ndarray, seg: int, rng: np.random.Generator) -> np.ndarray:
    n_seg = len(y) // seg
    if n_seg < 2:
        raise ValueError("series too short for segment shuffling")
    order = rng.permutation(n_seg)
    while n_seg > 1 and np.any(order == np.arange(n_seg)):  # no segment stays aligned
        order = rng.permutation(n_seg)
    body = y[: n_seg * seg].reshape(n_seg, seg)[order].ravel()
    return np.concatenate([body, y[n_seg * seg :]])


def session_mean_peak(x: Sequence[Any], y: Sequence[Any], sync: SyncParams | None = None) -> float | None:
    """Mean over computable windows of the peak statistic (the SUSY/rMEA-style session score)."""
    sync = sync or SyncParams()
    stat = peak_statistic(wclc_offline(x, y, sync), sync.peak)
    if sync.step_s > 1:
        stat = stat[int(sync.step_s) - 1 :: int(sync.step_s)]
    stat = stat[np.isfinite(stat)]
    return float(np.mean(stat)) if len(stat) else None


def shuffled_session_null(
    x: Sequence[Any],
    y: Sequence[Any],
    sync: SyncParams | None = None,
    segment_s: int = 30,
    n_surrogates: int = 50,
    seed: int = 0,
) -> dict[str, Any]:
    """Session-level test: genuine mean peak z vs ``n_surrogates`` segment-shuffled pairs.

    The therapist series is cut into ``segment_s`` segments, shuffled so that no segment stays in
    place, and the whole WCLC is recomputed (Ramseyer & Tschacher 2011; Tschacher & Meier 2020,
    SUSY). Returns genuine score, null mean/sd, effect size and Monte-Carlo p.
    """
    x = np.asarray([np.nan if v is None else v for v in x], dtype=float)
    y = np.asarray([np.nan if v is None else v for v in y], dtype=float)
    genuine = session_mean_peak(x, y, sync)
    rng = np.random.default_rng(seed)
    null = [session_mean_peak(x, _segment_shuffle(y, int(segment_s), rng), sync) for _ in range(n_surrogates)]
    null_arr = np.array([v for v in null if v is not None])
    if genuine is None or len(null_arr) < 2:
        return {"genuine": genuine, "null_mean": None, "null_sd": None, "effect": None, "p": None}
    sd = float(np.std(null_arr, ddof=1))
    return {
        "genuine": genuine,
        "null_mean": float(np.mean(null_arr)),
        "null_sd": sd,
        "effect": (genuine - float(np.mean(null_arr))) / sd if sd > 0 else None,
        "p": (1.0 + float(np.count_nonzero(null_arr >= genuine))) / (1.0 + len(null_arr)),
    }
