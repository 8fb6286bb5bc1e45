"""Shared buffers for regular streams: cut samples into complete, time-aligned bins.

Bins are aligned on the session clock (bin ``k`` of width ``w`` covers ``[k*w, (k+1)*w)``), and a
bin is handed out only once the stream's watermark has passed its end, with *all* its samples at
once. Statistics computed on a bin therefore never depend on how the samples were chunked.
"""

from __future__ import annotations

import math

import numpy as np


class Binner:
    """Collects ``(time, value)`` samples and releases complete bins in order.

    ``push(times, values, watermark)`` returns ``[(k, times_k, values_k), ...]`` for every bin
    ``k`` that the watermark has closed; empty bins are released too (``values_k`` of length 0),
    so the caller sees every bin exactly once.
    """

    def __init__(self, width: float, start_bin: int = 0) -> None:
        self.w = float(width)
        self.next = start_bin  # next bin to release
        self.t: list[np.ndarray] = []
        self.v: list[np.ndarray] = []

    def push(self, times: np.ndarray, values: np.ndarray, watermark: float) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Add samples and release the bins the watermark completes.

        Parameters
        ----------
        times : ndarray
            Sample times (s), increasing.
        values : ndarray
            One value (or row) per time.
        watermark : float
            Session time (s) up to which the input is complete.

        Returns
        -------
        list of (int, ndarray, ndarray)
            ``(bin index, times, values)`` of each complete bin, in order (empty bins included).
        """
        if len(times):
            self.t.append(np.asarray(times, dtype=float))
            self.v.append(np.asarray(values, dtype=float))
        upto = math.floor(watermark / self.w + 1e-9)  # bins < upto are complete
        if upto <= self.next:
            return []
        t = np.concatenate(self.t) if self.t else np.empty(0)
        v = np.concatenate(self.v) if self.v else np.empty((0,) + (self.v[0].shape[1:] if self.v else ()))
        # 1-us rounding: t0 + i/rate and a re-cut chunk's t0 differ in the last bits
        k = np.floor(np.round(t, 6) / self.w + 1e-9).astype(np.int64)
        edges = np.searchsorted(k, np.arange(self.next, upto + 1))  # times are increasing
        out = [(b, t[edges[i] : edges[i + 1]], v[edges[i] : edges[i + 1]]) for i, b in enumerate(range(self.next, upto))]
        rest = edges[-1]
        self.t, self.v = ([t[rest:]], [v[rest:]]) if rest < len(t) else ([], [])
        self.next = upto
        return out
