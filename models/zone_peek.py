"""Provisional zone changes stepped incrementally (issue #15: the CPU of the provisional tier).

:meth:`.tolerance.ToleranceEstimator.peek_zone_changes` steps a copy of the zone rule over every
second after the newest final row. The provisional tier asks for those seconds once per new second
of data, and the provisional dyad asks again for the same seconds (:mod:`.provisional_dyad`), so
with ECG input (the final tier 8-15 s behind) every second was stepped a dozen times or more.

Stepping is deterministic, and what second ``t`` gives depends only on the state after ``t - 1``
and on second ``t``'s inputs: its ``hr`` component, and the value of each corroborating channel
stepped at ``t`` (a channel is stepped while ``t`` is not after its newest provisional second:
:class:`.tolerance._ProvisionalCorroboration`). :class:`ZonePeeker` keeps, for the newest final row,
the inputs of every second it stepped and the state after each (the zone rule's counters, the
corroboration's verdicts and recent values), and answers a call from the longest prefix of seconds
whose inputs are unchanged: a late beat moves the newest second or two, a late voice second the
seconds from its channel's previous newest one. The answer is the events
:meth:`~.tolerance.ToleranceEstimator.peek_zone_changes` returns for the same arguments, by
construction (the same calls in the same order on the same values); a new final row starts over.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any, Mapping

from .base import Event
from .tolerance import CORROBORATION, ToleranceEstimator

#: The zone rule's counters, as :meth:`.tolerance.ToleranceEstimator._zone_step` returns them.
_COUNTERS = ("bad", "above", "below", "inside_hi", "inside_lo", "corr_run")


class ZonePeeker:
    """Incremental :meth:`~.tolerance.ToleranceEstimator.peek_zone_changes` for one person
    (module docstring). Reads the estimator and its newest final row, never writes them.
    """

    def __init__(self) -> None:
        self._est: ToleranceEstimator | None = None
        self._row: Mapping[str, Any] | None = None  # the newest final row the seconds follow (held: compared by identity)
        self._probe: ToleranceEstimator | None = None  # a shallow copy whose zone counters step
        #: per stepped second: (t, hr, ((channel, value), ...) of the channels stepped at t)
        self._inputs: list[tuple[int, Any, tuple[tuple[str, Any], ...]]] = []
        self._changes: list[Event | None] = []  # per stepped second: the zone change it made
        #: state after 0, 1, ... stepped seconds: (zone, counters, verdicts, recent windows)
        self._states: list[tuple[str, tuple[int, ...], dict[str, float], dict[str, tuple[deque, deque]]]] = []
        self._low: dict[str, float] = {}  # the corroboration's verdicts after the last stepped second
        self._recent: dict[str, tuple[deque, deque]] = {}  # its recent values, per channel stepped so far

    def changes(self, est: ToleranceEstimator, row: Mapping[str, Any] | None,
                hr_by_second: list[tuple[int, float | None]],
                newer_by_second: Mapping[int, Mapping[str, Any]] | None = None) -> list[Event]:
        """``est.peek_zone_changes(row, hr_by_second, newer_by_second)``, stepping only the seconds
        whose inputs (or whose predecessors' inputs) changed since the previous call.

        Parameters
        ----------
        est : ToleranceEstimator
            The person's final tolerance estimator (read).
        row : mapping or None
            Its newest final row.
        hr_by_second : list of (int, float or None)
            ``(t_s, hr)`` of consecutive seconds in increasing order (``ProvisionalTier.hr_by_second``);
            resumed only when they start at the second after ``row``'s, else computed as is.
        newer_by_second : mapping, optional
            ``t_s -> columns`` of the provisional seconds (voice, skin conductance).

        Returns
        -------
        list of Event
            What :meth:`~.tolerance.ToleranceEstimator.peek_zone_changes` returns.
        """
        if est.stats is None or row is None:
            return []
        row_t = int(row["t_s"])
        if not hr_by_second or hr_by_second[0][0] != row_t + 1 or hr_by_second[-1][0] != row_t + len(hr_by_second):
            return est.peek_zone_changes(row, hr_by_second, newer_by_second)  # not the seconds after row: as is
        if est is not self._est or row is not self._row:
            self._start(est, row)
        inputs = self._inputs_of(row_t, hr_by_second, newer_by_second or {})
        same = 0
        for old, new in zip(self._inputs, inputs):
            if old != new:
                break
            same += 1
        if same < len(inputs):
            self._resume(same)
            for second in inputs[same:]:
                self._step(row, second)
        return [e for e in self._changes[:len(inputs)] if e is not None]

    def _start(self, est: ToleranceEstimator, row: Mapping[str, Any]) -> None:
        """Forget everything: the final tier moved (a new newest row, so a new estimator state)."""
        self._est, self._row = est, row
        self._probe = copy.copy(est)  # ints and a str change on the copy; the containers are only read
        self._inputs, self._changes = [], []
        self._low, self._recent = dict(est.low), {}
        self._states = [self._snapshot()]

    @staticmethod
    def _inputs_of(row_t: int, hr_by_second: list[tuple[int, float | None]],
                   newer: Mapping[int, Mapping[str, Any]]) -> list[tuple[int, Any, tuple[tuple[str, Any], ...]]]:
        """Each second's inputs: its ``hr`` and the value of each channel stepped in it (those whose
        newest provisional second is not before it, as :class:`.tolerance._ProvisionalCorroboration`)."""
        upto: dict[str, int] = {}
        for t, cols in newer.items():
            if t > row_t:
                for k in CORROBORATION:
                    if k in cols and t > upto.get(k, row_t):
                        upto[k] = t
        channels = [k for k in CORROBORATION if k in upto]
        if not channels:  # no early corroborating second (ECG alone): the HR is all that changes
            return [(t, hr, ()) for t, hr in hr_by_second]
        out = []
        for t, hr in hr_by_second:
            cols = newer.get(t, {})
            out.append((t, hr, tuple((k, cols.get(k)) for k in channels if t <= upto[k])))
        return out

    def _snapshot(self) -> tuple[str, tuple[int, ...], dict[str, float], dict[str, tuple[deque, deque]]]:
        probe = self._probe
        return (probe.zone, tuple(getattr(probe, c) for c in _COUNTERS), dict(self._low),
                {k: (deque(times), deque(values)) for k, (times, values) in self._recent.items()})

    def _resume(self, seconds: int) -> None:
        """Back to the state after the first ``seconds`` stepped seconds (their inputs are unchanged)."""
        if seconds == len(self._inputs):
            return  # the live state is that one
        del self._inputs[seconds:], self._changes[seconds:], self._states[seconds + 1:]
        zone, counters, low, recent = self._states[seconds]
        probe = self._probe
        probe.zone = zone
        for name, value in zip(_COUNTERS, counters):
            setattr(probe, name, value)
        self._low = dict(low)
        self._recent = {k: (deque(times), deque(values)) for k, (times, values) in recent.items()}

    def _step(self, row: Mapping[str, Any], second: tuple[int, Any, tuple[tuple[str, Any], ...]]) -> None:
        """One second of :meth:`~.tolerance.ToleranceEstimator.peek_zone_changes`' loop."""
        t, hr, stepped = second
        est, probe, low = self._est, self._probe, self._low
        for k, value in stepped:  # _ProvisionalCorroboration.step
            window = self._recent.get(k)
            if window is None:
                times, values = est.recent[k]
                window = self._recent[k] = (deque(times), deque(values))
            z = est._channel_low(k, window, t, value)
            if z is None:
                low.pop(k, None)
            else:
                low[k] = z
        corroborating = {k: low[k] for k in CORROBORATION if k in low}
        arousal, confidence, zs = probe._arousal(probe._peek_values(row, hr))
        new = probe._next_zone(arousal, confidence, row, corroborating)
        change = None
        if new != probe.zone:
            change = probe._event(t, probe.zone, new, arousal, zs, corroborating, row)
            probe.zone = new
        self._inputs.append(second)
        self._changes.append(change)
        self._states.append(self._snapshot())
