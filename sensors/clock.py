"""Sensor clock → session clock, per device, from (sensor time, host arrival time) pairs.

A strap time-stamps samples on its own crystal (drifting by about ±20 ppm) and delivers them in
batches over BLE, so host arrival times are late by a delay that varies from a few ms (one
connection interval) to hundreds of ms. Arrival is never *before* the sample, so the best
estimate of the mapping is the lower envelope of arrival versus sensor time, not a mean fit
(the convex-hull / minimum-delay idea of clock synchronisation: Cristian, 1989; Moon, Skelly &
Towsley, 1999, "Estimation and removal of clock skew from network delay measurements").

Estimator (deterministic, O(bins) per observation): the residual ``r = arrival - sensor`` is
binned by sensor time; per bin only its minimum is kept (the least-delayed packet). Once the
minima span ``min_span_s`` the drift is the slope of the line that lies under every minimum and
is as high as possible at their mean sensor time (the linear programme of Moon et al., 1999,
solved exactly as the edge of the lower convex hull above the mean); the offset makes that
line touch the hull. A sensor clock that goes back (reset) or jumps against the envelope by more
than ``max_latency_s`` (lost beats, stalled clock) starts a new *segment* with a fresh fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ClockConfig:
    """Options of :class:`SensorClock`.

    bin_s : sensor seconds per minimum bin.
    max_bins : bins kept (window of the fit = ``bin_s * max_bins``).
    min_span_s : sensor span needed before drift is estimated (before that: drift 0).
    max_drift_ppm : clamp of the drift estimate (crystals are ±20 ppm; host clocks add some).
    max_latency_s : an arrival this much later than the envelope predicts, or earlier than it,
        means the sensor clock no longer counts the same time: new segment.
    reset_back_s : the sensor time going back by more than this is a clock reset.
    """

    bin_s: float = 5.0
    max_bins: int = 120
    min_span_s: float = 30.0
    max_drift_ppm: float = 200.0
    max_latency_s: float = 2.0
    reset_back_s: float = 1.0


@dataclass
class SensorClock:
    """Maps one device's sensor time (s) to session time (s). Pure: no I/O, no clocks."""

    config: ClockConfig = field(default_factory=ClockConfig)
    segment: int = -1
    _ref: float = 0.0
    _last_s: float | None = None
    _bins: dict = field(default_factory=dict)
    _drift: float = 0.0
    _offset: float = 0.0
    _force_new: bool = False

    @property
    def drift_ppm(self) -> float:
        """Estimated drift of the sensor clock against the session clock (parts per million)."""
        return self._drift * 1e6

    @property
    def started(self) -> bool:
        """Whether a first sample has anchored the mapping."""
        return self.segment >= 0

    def new_segment(self) -> None:
        """Forget the fit: the next observation starts a new segment (e.g. after a reconnect)."""
        self._force_new = True

    def observe(self, sensor_s: float, arrival_s: float) -> bool:
        """Add one (sensor time of the newest sample, host arrival time) pair.

        Returns True when this observation opened a new segment (including the first one).
        """
        cfg = self.config
        new = self._force_new or self.segment < 0
        if not new and self._last_s is not None and sensor_s < self._last_s - cfg.reset_back_s:
            new = True
        if not new:
            resid = arrival_s - self.to_session(sensor_s)
            if resid > cfg.max_latency_s or resid < -cfg.max_latency_s:
                new = True
        if new:
            self.segment += 1
            self._force_new = False
            self._ref = float(sensor_s)
            self._bins = {}
            self._drift = 0.0
        self._last_s = sensor_s if self._last_s is None or new else max(self._last_s, sensor_s)
        x = float(sensor_s) - self._ref
        r = float(arrival_s) - x
        b = int(np.floor(x / cfg.bin_s))
        old = self._bins.get(b)
        if old is None or r < old[1]:
            self._bins[b] = (x, r)
            if len(self._bins) > cfg.max_bins:
                del self._bins[min(self._bins)]
            self._refit()
        return new

    def _refit(self) -> None:
        cfg = self.config
        pts = sorted(self._bins.values())
        xs = np.array([p[0] for p in pts])
        rs = np.array([p[1] for p in pts])
        drift = 0.0
        if len(xs) >= 3 and xs[-1] - xs[0] >= cfg.min_span_s:
            drift = _hull_slope(pts, float(xs.mean()))
            lim = cfg.max_drift_ppm * 1e-6
            drift = min(max(drift, -lim), lim)
        self._drift = drift
        self._offset = float(np.min(rs - drift * xs))

    def to_session(self, sensor_s):
        """Session time of a sensor time (scalar or array) under the current fit."""
        x = np.asarray(sensor_s, dtype=np.float64) - self._ref
        out = x * (1.0 + self._drift) + self._offset
        return float(out) if out.ndim == 0 else out


def _hull_slope(pts: list[tuple[float, float]], x_mid: float) -> float:
    """Slope of the lower convex hull edge of ``pts`` (sorted by x) spanning ``x_mid``."""
    hull: list[tuple[float, float]] = []
    for p in pts:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            # drop the middle point when it lies on or above the chord: not a lower-hull vertex
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    for (x1, y1), (x2, y2) in zip(hull, hull[1:]):
        if x2 >= x_mid:
            return (y2 - y1) / (x2 - x1)
    return 0.0
