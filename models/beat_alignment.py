"""Whether a device's beat series is on the same clock as the beats detected from a signal.

Devices that date their beat intervals on arrival (Polar Sensor Logger's PPI rows: the phone's
time when the packet came, ~16 s after the beat on the shared Verity Sense record) put them on
another clock than the same device's sampled signals (dated by the sensor). The heart fusion
would then switch between two clocks. The two beat series describe the same heart, so their
interval series match only at the right time shift: :func:`interval_offset` finds it by
scanning shifts and scoring each by the median absolute difference between the device's
intervals and the detected beats' intervals at the shifted times (the cross-correlation of the
two interval series in a robust form; the same matching ``bench/validate_heart.py`` uses).
Heart rate variability makes the match unambiguous: a wrong shift pairs unrelated intervals.

Pure functions and a small accumulator, no I/O (used by :mod:`.heart`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Shifts scanned (s): device delays seen in practice are seconds to tens of seconds.
SEARCH_S = 30.0
STEP_S = 0.1  # coarse scan, then refined to REFINE_STEP_S around the best shift
REFINE_STEP_S = 0.01
#: A shift counts as misalignment above this (s): BLE arrival jitter of a strap's RR is < 1 s.
MISALIGNED_S = 1.0
#: Unambiguous: the best shift matches intervals to within this median (ms) ...
MATCH_MS = 25.0
#: ... and every shift more than ``MIN_SEPARATION_S`` away scores at least this many times worse.
RUNNER_UP_RATIO = 2.0
MIN_SEPARATION_S = 1.0
#: Beats of each series collected before deciding (~2 min at rest).
BEATS_NEEDED = 120


@dataclass(frozen=True)
class Offset:
    """Result of :func:`interval_offset`: the device series plus ``shift_s`` is on the detected
    series' clock (negative: the device dates its beats late)."""

    shift_s: float
    median_err_ms: float
    runner_up_ms: float
    compared: int

    @property
    def unambiguous(self) -> bool:
        """Whether the best shift is both close (median error <= ``MATCH_MS``) and clearly better
        than the runner-up (by ``RUNNER_UP_RATIO``).
        """
        return self.median_err_ms <= MATCH_MS and self.runner_up_ms >= RUNNER_UP_RATIO * self.median_err_ms


def _intervals(t: np.ndarray, max_s: float = 2.5) -> tuple[np.ndarray, np.ndarray]:
    """Intervals (ms) between consecutive beats and the time each ends; long ones are gaps."""
    d = np.diff(t)
    ok = (d > 0) & (d < max_s)
    return t[1:][ok], 1000.0 * d[ok]


def interval_offset(device_t: np.ndarray, detected_t: np.ndarray, search_s: float = SEARCH_S,
                    step_s: float = STEP_S) -> Offset | None:
    """The shift that puts ``device_t`` beats on ``detected_t``'s clock; None without overlap.

    Parameters
    ----------
    device_t, detected_t : ndarray
        Beat times (s) of the two series, increasing.
    search_s, step_s : float
        Shifts from ``-search_s`` to ``+search_s`` in steps of ``step_s``.
    """
    dt, di = _intervals(np.asarray(device_t, float))
    st, si = _intervals(np.asarray(detected_t, float))
    if len(dt) < 20 or len(st) < 20:
        return None
    def scan(shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cost = np.full(len(shifts), np.inf)
        n = np.zeros(len(shifts), int)
        for k, o in enumerate(shifts):
            at = dt + o
            inside = (at >= st[0]) & (at <= st[-1])
            if inside.sum() >= 20:
                # the detected interval series at each shifted device beat, linearly interpolated
                # (a nearest-beat pairing would score every shift within half a beat the same)
                cost[k] = float(np.median(np.abs(np.interp(at[inside], st, si) - di[inside])))
                n[k] = int(inside.sum())
        return cost, n

    shifts = np.arange(-search_s, search_s + step_s / 2, step_s)
    cost, _ = scan(shifts)
    if not np.isfinite(cost).any():
        return None
    best = int(np.argmin(cost))
    far = np.abs(shifts - shifts[best]) > MIN_SEPARATION_S
    runner = float(cost[far].min()) if far.any() else float("inf")
    fine = shifts[best] + np.arange(-step_s, step_s + REFINE_STEP_S / 2, REFINE_STEP_S)
    fcost, fn = scan(fine)
    k = int(np.argmin(fcost))
    return Offset(round(float(fine[k]), 3), float(fcost[k]), runner, int(fn[k]))


class ClockCheck:
    """Collects the first beats of a device series and of a detected series, then decides once.

    ``add(which, t)`` with ``which`` in ``("device", "detected")``, each series in time order;
    :meth:`ready` tells when both have :data:`BEATS_NEEDED` beats; :meth:`decide` returns the
    :class:`Offset` (or None) once. Only the first beats of each series are kept, so the decision
    does not depend on how the two series' chunks interleave.
    """

    def __init__(self, needed: int = BEATS_NEEDED) -> None:
        self.needed = needed
        self.beats: dict[str, list[float]] = {"device": [], "detected": []}
        self.done = False

    def add(self, which: str, t: float) -> None:
        """Collect one beat of a series until both series have ``needed`` beats.

        Parameters
        ----------
        which : str
            The series the beat belongs to (a key of ``beats``: the device's or the detected one).
        t : float
            Beat time (s, session clock).
        """
        b = self.beats[which]
        if not self.done and len(b) < self.needed:  # the first beats of each, whatever the interleaving
            b.append(t)

    def ready(self) -> bool:
        """Whether both series have their beats and the verdict is still to be made."""
        return not self.done and all(len(b) >= self.needed for b in self.beats.values())

    def decide(self) -> Offset | None:
        """The offset from the beats collected (at the end of data: however many there are)."""
        self.done = True
        return interval_offset(np.array(self.beats["device"]), np.array(self.beats["detected"]))
