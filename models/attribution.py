"""Who is speaking, with one microphone per person: crosstalk-aware attribution and overlap.

Each person's microphone also picks up the other person, attenuated by the *leakage* ``L_i``
(dB): when only the other speaks, channel ``i`` is ``L_i`` dB below the loudest other channel.
Channel ``i``'s own voice is present when its level ratio to the loudest other channel,
``r_i = E_i - max_j E_j``, is clearly above that leakage level::

    own_i  <=>  VAD_i  and  r_i > -L_i + m_i

with margin ``m_i = min(margin_db, (L_i + L_other) / 2)`` (so the thresholds never cross the
midpoint between the two single-talker modes). Both persons passing at once is *overlap*. This
is the energy-ratio crosstalk detection used for close-talk meeting microphones (Wrigley et al.,
2005, IEEE TSAP 13(1); Laskowski & Schultz, 2006), reduced to its robust core.

Calibration: during the first ``calibration_s`` of audio, ``L_i`` is estimated as the median
of ``-r_i`` over frames where channel ``i`` hears speech but another channel is louder; until
then (or if too few such frames occur) ``default_leak_db`` is used. Decisions get hysteresis
(``±hysteresis_db``) and a hangover, and are computed frame by frame so the output does not
depend on chunking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AttributionConfig:
    """Settings of the crosstalk-aware attribution (module docstring: formula and sources).

    Levels in dB, times in s. ``default_leak_db`` is the leakage ``L_i`` used until calibration
    (the first ``calibration_s`` of audio, with at least ``min_calibration_frames`` usable frames)
    has estimated it; ``margin_db`` caps the margin ``m_i``; ``hysteresis_db`` and ``hangover_s``
    steady the decision from one frame of ``hop_s`` to the next.
    """

    default_leak_db: float = 10.0
    margin_db: float = 6.0
    hysteresis_db: float = 1.5
    calibration_s: float = 120.0
    min_calibration_frames: int = 100
    hangover_s: float = 0.2
    hop_s: float = 0.01


class CrosstalkAttributor:
    """Attributes VAD-detected speech to channels (persons) and marks overlap."""

    def __init__(self, n_channels: int, cfg: AttributionConfig | None = None) -> None:
        self.cfg = cfg or AttributionConfig()
        self.n = n_channels
        self.leak_db = np.full(n_channels, self.cfg.default_leak_db)
        self.calibrated = np.zeros(n_channels, dtype=bool)
        self._calib: list[list[float]] = [[] for _ in range(n_channels)]
        self._calib_done = n_channels < 2
        self._cal_end: float | None = None
        self.active = np.zeros(n_channels, dtype=bool)
        self.hang = np.zeros(n_channels, dtype=int)
        self._hang_frames = int(round(self.cfg.hangover_s / self.cfg.hop_s))

    def _thresholds(self) -> np.ndarray:
        L = self.leak_db
        if self.n < 2:
            return np.full(self.n, -np.inf)
        other = np.array([np.max(np.delete(L, i)) for i in range(self.n)])
        m = np.minimum(self.cfg.margin_db, 0.5 * (L + other))
        return -L + m

    def _finish_calibration(self) -> None:
        for i, vals in enumerate(self._calib):
            if len(vals) >= self.cfg.min_calibration_frames:
                self.leak_db[i] = max(0.0, -float(np.median(vals)))
                self.calibrated[i] = True
        self._calib = [[] for _ in range(self.n)]
        self._calib_done = True

    def update(self, times: np.ndarray, energy_db: np.ndarray, vad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Own-speech decisions for frames ``times`` (session s).

        Parameters
        ----------
        times : ndarray, shape (n,)
        energy_db : ndarray, shape (n_channels, n)
        vad : ndarray of bool, shape (n_channels, n)
            Frame-level activity *without* hangover: in the pauses between syllables both
            channels sit at their noise floors and their ratio says nothing about who speaks, so
            those frames end the decision and only the hangover bridges them.

        Returns
        -------
        own : ndarray of bool, shape (n_channels, n)
            Speech attributed to each channel's person (with hangover).
        overlap : ndarray of bool, shape (n,)
            Two or more persons' own voices present in the same frame (hangover excluded, so a
            quick turn switch is not counted as overlap).
        """
        nch, n = energy_db.shape
        own = np.zeros((nch, n), dtype=bool)
        live = np.zeros((nch, n), dtype=bool)
        if self.n < 2:
            self._hold(vad, own)
            return own, np.zeros(n, dtype=bool)
        # r_i against the loudest other channel, for all frames at once.
        ratio = np.empty_like(energy_db)
        for i in range(nch):
            others = np.delete(energy_db, i, axis=0)
            ratio[i] = energy_db[i] - others.max(axis=0)
        start = 0
        if not self._calib_done:
            if self._cal_end is None and len(times):
                self._cal_end = float(times[0]) + self.cfg.calibration_s
            in_cal = times <= (self._cal_end if self._cal_end is not None else np.inf)
            ncal = int(np.count_nonzero(in_cal))
            for i in range(nch):
                sel = in_cal & vad[i] & (ratio[i] < 0)
                self._calib[i].extend(ratio[i][sel].tolist())
            # Frames inside the calibration period use the default leakage; the calibrated
            # values apply from the first frame after it (causal: no frame is revisited).
            if ncal < n:
                self._decide(ratio[:, :ncal], vad[:, :ncal], own[:, :ncal], live[:, :ncal])
                start = ncal
                self._finish_calibration()
        self._decide(ratio[:, start:], vad[:, start:], own[:, start:], live[:, start:])
        overlap = live.sum(axis=0) >= 2
        return own, overlap

    def _decide(self, ratio: np.ndarray, vad: np.ndarray, out: np.ndarray, live: np.ndarray) -> None:
        thr = self._thresholds()
        h = self.cfg.hysteresis_db
        on = (ratio > (thr + h)[:, None]) & vad
        stay = (ratio > (thr - h)[:, None]) & vad
        # Plain Python scalars: for a handful of channels this beats per-frame numpy calls.
        for i in range(ratio.shape[0]):
            a = bool(self.active[i])
            on_i, stay_i = on[i].tolist(), stay[i].tolist()
            res = [False] * len(on_i)
            for k in range(len(on_i)):
                a = stay_i[k] if a else on_i[k]
                res[k] = a
            live[i] = res
            self.active[i] = a
        self._hold(live, out)

    def _hold(self, live: np.ndarray, out: np.ndarray) -> None:
        """Hangover: keep each decision on for ``hangover_s`` after its last live frame."""
        for i in range(live.shape[0]):
            hg = int(self.hang[i])
            res = live[i].tolist()
            for k, a in enumerate(res):
                if a:
                    hg = self._hang_frames
                elif hg > 0:
                    hg -= 1
                    res[k] = True
            out[i] = res
            self.hang[i] = hg
