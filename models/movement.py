"""Movement per second from an accelerometer or video motion energy; breathing rate from a belt.

- ``ACC`` (x/y/z, milli-g): ``movement`` = standard deviation of the acceleration magnitude
  within the second (mg). Gravity contributes a constant to the magnitude, so the SD measures
  body movement whatever the sensor's orientation (cf. the vector-magnitude activity counts of
  van Hees et al. 2013, PLoS ONE 8:e61691, without their gravity calibration).
- ``MOTION`` (video motion energy analysis, MEA; Ramseyer & Tschacher 2011): ``movement`` =
  mean motion energy within the second, in the source's unit: the share of the region's pixels
  that changed (0-1) from a video or camera, the file's own numbers (often changed-pixel counts)
  from an MEA export. It has no absolute scale across cameras and framings, so everything that
  judges "low" or "high" movement from it is relative to the person's own baseline
  (:data:`coregulate.models.tolerance.MOVEMENT_SCALE_FLOORS`).
- ``RESP`` (belt): ``breathing_rpm`` from the last ``resp_window_s`` seconds, band-passed to
  0.1-0.7 Hz (6-42 breaths/min), as upward zero crossings per minute. The column is only
  written when it can be computed, so an ECG-derived (RSA) estimate from the heart estimator is
  used otherwise.
ACC is preferred to MOTION when both exist (body-worn, not confounded by camera framing):
:func:`movement_source` says which one feeds the column.

Nothing here looks past the second it reports (breathing reads the window that ends there), and a
second is emitted once every one of the person's ACC, MOTION and RESP streams has passed its end: it
is final then, and the live provisional tier shows it at once
(:attr:`MovementEstimator.provisional_family`), long before the person's row waits out the heart
estimator's look-ahead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.signal import butter, sosfiltfilt

from ..sensors.chunk import Chunk, StreamInfo, StreamKind
from .base import Second, SecondTicker, StreamEstimator
from .config import PipelineConfig, family_options
from .window import Binner


@dataclass
class MovementOptions:
    """Options of the ``movement`` family."""

    resp_window_s: float = 30.0
    resp_band_hz: tuple[float, float] = (0.1, 0.7)
    resp_min_cover: float = 0.8

    @classmethod
    def from_config(cls, config: PipelineConfig) -> "MovementOptions":
        """The ``movement`` options in ``config``, defaults where unset (:func:`.family_options`)."""
        return family_options(config, "movement", cls)


def breathing_rate(t: np.ndarray, x: np.ndarray, band: tuple[float, float]) -> float | None:
    """Breaths per minute from upward zero crossings of the band-passed respiration signal."""
    if len(x) < 16:
        return None
    fs = (len(t) - 1) / (t[-1] - t[0]) if t[-1] > t[0] else 0.0
    if fs <= 2 * band[1]:
        return None
    sos = butter(2, band, btype="bandpass", output="sos", fs=fs)
    y = sosfiltfilt(sos, x - np.mean(x))
    up = np.flatnonzero((y[:-1] < 0) & (y[1:] >= 0))
    if len(up) < 3:
        return None
    return 60.0 * (len(up) - 1) / (t[up[-1]] - t[up[0]])


def movement_source(kinds) -> StreamKind | None:
    """The stream kind that feeds ``movement`` for a person with streams of these ``kinds``:
    ``ACC`` (milli-g) before ``MOTION`` (video motion energy), ``None`` without either."""
    kinds = set(kinds)
    return StreamKind.ACC if StreamKind.ACC in kinds else (StreamKind.MOTION if StreamKind.MOTION in kinds else None)


class MovementEstimator(StreamEstimator):
    """Per-second ``movement`` (ACC or MOTION) and ``breathing_rpm`` (RESP)."""

    accepts = frozenset({StreamKind.ACC, StreamKind.MOTION, StreamKind.RESP})
    # each second from its own samples (breathing: the window ending there), emitted once every
    # stream passed it and never revised: the live view may show it early
    provisional_family = "movement"

    def __init__(self, participant: str, streams: list[StreamInfo], config: PipelineConfig) -> None:
        self.participant = participant
        self.o = MovementOptions.from_config(config)
        kinds = {s.kind for s in streams}
        self.move_kind = movement_source(kinds)
        self.has_resp = StreamKind.RESP in kinds
        self.bins = {k: Binner(1.0) for k in kinds if k in self.accepts}
        self.wm = {k: -math.inf for k in self.bins}
        self.done: dict[StreamKind, dict[int, Any]] = {k: {} for k in self.bins}
        self.resp: list[tuple[np.ndarray, np.ndarray]] = []
        self.ticker = SecondTicker()

    def update(self, chunk: Chunk) -> list[Second]:
        """Take one chunk and return the seconds it completed.

        Parameters
        ----------
        chunk : Chunk
            ACC, MOTION or RESP of this participant (others are ignored); a gap restarts breathing.

        Returns
        -------
        list of Second
            Finished seconds with ``movement`` and ``breathing_rpm``.
        """
        k = chunk.kind
        if k not in self.bins or chunk.participant != self.participant:
            return []
        if chunk.gap_before and k == StreamKind.RESP:
            self.resp = []
        vals = np.asarray(chunk.values, dtype=float)
        self.wm[k] = max(self.wm[k], float(chunk.t_end))
        for b, t, v in self.bins[k].push(chunk.sample_times(), vals, self.wm[k]):
            self.done[k][b + 1] = self._second(k, b + 1, t, v)
        return self._emit(min(self.wm.values()))

    def finish(self) -> list[Second]:
        """End of data: the seconds still open, up to the latest sample of any stream."""
        return self._emit(max(self.wm.values(), default=-math.inf), final=True)

    def _second(self, kind: StreamKind, s: int, t: np.ndarray, v: np.ndarray) -> Any:
        if kind == StreamKind.ACC:
            if len(v) < 2:
                return None
            mag = np.sqrt(np.sum(v.reshape(len(v), -1) ** 2, axis=1))
            return float(np.std(mag, ddof=1))
        if kind == StreamKind.MOTION:
            v = v.reshape(len(v), -1)[:, 0] if len(v) else v
            v = v[np.isfinite(v)]
            return float(np.mean(v)) if len(v) else None
        # RESP: keep the trailing window and estimate the rate at the end of this second
        v = v.reshape(len(v), -1)[:, 0] if len(v) else v
        self.resp.append((t, v))
        while self.resp and (not len(self.resp[0][0]) or self.resp[0][0][0] <= s - self.o.resp_window_s):
            tt, vv = self.resp[0]
            keep = tt > s - self.o.resp_window_s
            if keep.any():
                self.resp[0] = (tt[keep], vv[keep])
                break
            self.resp.pop(0)
        tt = np.concatenate([a for a, _ in self.resp]) if self.resp else np.empty(0)
        vv = np.concatenate([b for _, b in self.resp]) if self.resp else np.empty(0)
        ok = np.isfinite(vv)
        tt, vv = tt[ok], vv[ok]
        if not len(tt) or tt[-1] - tt[0] < self.o.resp_min_cover * self.o.resp_window_s:
            return None
        return breathing_rate(tt, vv, tuple(self.o.resp_band_hz))

    def _emit(self, wm: float, final: bool = False) -> list[Second]:
        out: list[Second] = []
        if not math.isfinite(wm):
            return out
        for s in self.ticker.ticks(wm):
            row: dict[str, Any] = {"movement": None} if self.move_kind else {}
            if self.move_kind:
                row["movement"] = self.done[self.move_kind].pop(s, None)
            if self.has_resp:
                br = self.done[StreamKind.RESP].pop(s, None)
                if br is not None:
                    row["breathing_rpm"] = br
            out.append((s, row))
        return out
