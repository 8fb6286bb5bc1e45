"""Skin conductance: tonic level (SCL) and phasic responses per minute, streaming.

The signal is averaged into 4 Hz bins on the session clock and split causally into a tonic
(2nd-order Butterworth low-pass at 0.05 Hz) and a phasic part (the remainder), the high-pass
decomposition of Biopac AcqKnowledge and neurokit2 ``eda_phasic(method="highpass")``, run
forward only so that each value is final when computed. A skin conductance response (SCR) is a
rise of the phasic signal from a trough to a peak of at least ``scr_min_us`` with a rise time
of at most ``scr_max_rise_s``. Published minimum amplitudes run from 0.01 to 0.05 µS (Boucsein
et al. 2012, Psychophysiology 49:1017); the default takes the conservative 0.05 µS because
non-specific responses are counted without a stimulus: on the neurokit2 resting recording it
gives ~1 /min (the textbook 1-3 /min at rest), 0.01 µS gives ~5.6 /min there. Every second: ``eda_scl_us`` = mean tonic level over that second,
``scr_per_min`` = SCR peaks in the trailing window (``config.window_s``) per minute, once at least
half the window is covered. A dropout restarts the filters and the SCR window.

Nothing here looks ahead of the second it reports: an SCR is counted at the 4-Hz bin that
confirms its peak (0.25 s after it), and ``scr_per_min`` of second ``t`` counts the responses
confirmed by ``t``. A second is therefore final the moment the data reach its end, and the live
provisional tier shows both columns then (:attr:`EdaEstimator.provisional_family`), long before
the person's row waits out the heart estimator's look-ahead.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi

from ..sensors.chunk import Chunk, StreamInfo, StreamKind
from .base import Second, SecondTicker, StreamEstimator
from .config import PipelineConfig, family_options
from .window import Binner


@dataclass
class EdaOptions:
    """Options of the ``eda`` family."""

    fs: float = 4.0  # analysis rate (Hz)
    tonic_cutoff_hz: float = 0.05
    scr_min_us: float = 0.05
    scr_max_rise_s: float = 5.0
    min_coverage: float = 0.5

    @classmethod
    def from_config(cls, config: PipelineConfig) -> "EdaOptions":
        """The ``eda`` options in ``config``, defaults where unset (:func:`.family_options`)."""
        return family_options(config, "eda", cls)


class EdaEstimator(StreamEstimator):
    """Per-second ``eda_scl_us`` and ``scr_per_min`` from one EDA stream (µS)."""

    accepts = frozenset({StreamKind.EDA})
    # forward-only filters and SCRs counted when confirmed: a second, once emitted, is final
    provisional_family = "eda"

    def __init__(self, participant: str, streams: list[StreamInfo], config: PipelineConfig) -> None:
        self.participant = participant
        self.o = EdaOptions.from_config(config)
        self.window_s = float(config.window_s)
        self.sos = butter(2, self.o.tonic_cutoff_hz, btype="lowpass", output="sos", fs=self.o.fs)
        self.bins = Binner(1.0 / self.o.fs)
        self.ticker = SecondTicker()
        self.wm = -math.inf
        self.per_second: dict[int, list[float]] = {}
        self.scr_times: deque[float] = deque()
        self._restart(None)

    def _restart(self, t: float | None) -> None:
        self.zi = None
        self.seg_start = t
        self.scr_times.clear()
        self.trough: tuple[float, float] | None = None  # (time, phasic value)
        self.prev: tuple[float, float] | None = None
        self.rising = False

    def update(self, chunk: Chunk) -> list[Second]:
        """Take one chunk and return the seconds it completed.

        Parameters
        ----------
        chunk : Chunk
            Any chunk; only this participant's EDA (µS) is used. A gap or lost skin contact restarts
            the level and response detection.

        Returns
        -------
        list of Second
            Finished seconds with ``eda_scl_us`` and ``scr_per_min``.
        """
        if chunk.kind != StreamKind.EDA or chunk.participant != self.participant:
            return []
        if chunk.gap_before or chunk.meta.get("contact") is False:
            self._process(self.bins.push(np.empty(0), np.empty(0), chunk.start))
            self._restart(None)
        v = np.asarray(chunk.values, dtype=float).reshape(len(chunk), -1)[:, 0] if len(chunk) else np.empty(0)
        t = chunk.sample_times()
        ok = np.isfinite(v) & (v >= 0)
        self.wm = max(self.wm, float(chunk.t_end))
        self._process(self.bins.push(t[ok], v[ok], self.wm))
        return self._emit(self.wm)

    def finish(self) -> list[Second]:
        """End of data: the seconds still open, up to the last sample."""
        return self._emit(self.wm)

    def _process(self, bins) -> None:
        for k, _, vals in bins:
            tb = (k + 1) / self.o.fs  # end of the bin
            if not len(vals):
                if self.zi is not None and self.prev is not None and tb - self.prev[0] > 2.0:
                    self._restart(None)  # more than 2 s without samples: a gap
                continue
            x = float(vals.mean())
            if self.zi is None:
                self.zi = sosfilt_zi(self.sos) * x
                self.seg_start = tb
            y, self.zi = sosfilt(self.sos, [x], zi=self.zi)
            tonic = float(y[0])
            self.per_second.setdefault(math.ceil(tb - 1e-9), []).append(tonic)
            self._scr(tb, x - tonic)

    def _scr(self, t: float, p: float) -> None:
        """Trough-to-peak detection on the phasic signal, one sample at a time."""
        if self.prev is None:
            self.trough, self.prev = (t, p), (t, p)
            return
        pt, pv = self.prev
        if p > pv:
            if not self.rising:
                self.trough = (pt, pv)
                self.rising = True
        elif p < pv and self.rising:  # pv was a peak
            self.rising = False
            if self.trough and pv - self.trough[1] >= self.o.scr_min_us and pt - self.trough[0] <= self.o.scr_max_rise_s:
                # counted from the sample that confirms the peak: known then, whatever the chunking
                self.scr_times.append(t)
        self.prev = (t, p)

    def _emit(self, wm: float) -> list[Second]:
        out: list[Second] = []
        if not math.isfinite(wm):
            return out
        for t in self.ticker.ticks(wm):
            row: dict[str, Any] = {"eda_scl_us": None, "scr_per_min": None}
            vals = self.per_second.pop(t, None)
            if vals:
                row["eda_scl_us"] = float(np.mean(vals))
            while self.scr_times and self.scr_times[0] <= t - self.window_s:
                self.scr_times.popleft()
            if self.seg_start is not None:
                cover = min(self.window_s, t - self.seg_start)
                if cover >= self.o.min_coverage * self.window_s:
                    n = sum(1 for s in self.scr_times if s <= t)
                    row["scr_per_min"] = 60.0 * n / cover
            out.append((t, row))
        return out
