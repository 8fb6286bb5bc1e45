"""Energy-based voice activity detection per channel, with an adaptive noise floor.

The noise floor follows the frame energy down at once and creeps up slowly (a minimum tracker
in the spirit of Martin's minimum statistics, 2001), so it settles on the room's background
level whatever the microphone gain. A frame is speech when its energy exceeds the floor by
``onset_db`` (and an absolute floor), stays speech while it exceeds it by ``offset_db``
(hysteresis), and the decision is held for ``hangover_s`` after the last speech frame so the
short dips between syllables do not split a phrase (Sohn et al., 1999, use the same hang-over
idea on top of their statistical detector).

The recursion runs frame by frame in order, so its output depends only on the frame sequence,
never on how the audio was chunked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VadConfig:
    """Parameters of :class:`EnergyVad` (defaults tuned for 10-ms frames of 16-kHz speech)."""

    onset_db: float = 12.0
    offset_db: float = 7.0
    min_level_db: float = -55.0
    floor_rise_db_per_s: float = 2.0
    hangover_s: float = 0.2
    voiced_gate: bool = True
    hop_s: float = 0.01


class EnergyVad:
    """Frame-wise speech/non-speech decisions for one channel."""

    def __init__(self, cfg: VadConfig | None = None) -> None:
        self.cfg = cfg or VadConfig()
        self.floor: float | None = None
        self.active = False
        self.hang = 0
        self._hang_frames = int(round(self.cfg.hangover_s / self.cfg.hop_s))
        self._rise = self.cfg.floor_rise_db_per_s * self.cfg.hop_s

    def update(self, energy_db: np.ndarray, voiced: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decisions for consecutive frames.

        Parameters
        ----------
        energy_db : ndarray
            Frame energies (dBFS).
        voiced : ndarray of bool, optional
            Frames with a pitch; with ``voiced_gate`` a segment can only *start* on a voiced
            frame, which keeps clicks, breaths and fan noise out.

        Returns
        -------
        speech : ndarray of bool
            Decision with hangover.
        active : ndarray of bool
            Decision without hangover (frames that are themselves clearly above the floor).
        floor : ndarray
            Noise floor estimate per frame (dBFS).
        """
        cfg = self.cfg
        n = len(energy_db)
        speech = np.zeros(n, dtype=bool)
        raw = np.zeros(n, dtype=bool)
        floors = np.empty(n)
        if voiced is None or not cfg.voiced_gate:
            voiced = np.ones(n, dtype=bool)
        floor, active, hang = self.floor, self.active, self.hang
        for i in range(n):
            e = float(energy_db[i])
            if floor is None:
                # Start low: a session that opens mid-sentence must not take speech as the floor.
                floor = min(e, cfg.min_level_db - 5.0)
            elif e < floor:
                floor = e
            else:
                floor += self._rise
            floors[i] = floor
            if active:
                active = e > floor + cfg.offset_db and e > cfg.min_level_db
            else:
                active = e > floor + cfg.onset_db and e > cfg.min_level_db and bool(voiced[i])
            if active:
                hang = self._hang_frames
                speech[i] = raw[i] = True
            elif hang > 0:
                hang -= 1
                speech[i] = True
        self.floor, self.active, self.hang = floor, active, hang
        return speech, raw, floors
