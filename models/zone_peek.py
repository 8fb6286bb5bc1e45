"""Provisional zone changes: the zone rule stepped over the seconds after the newest final row
(issue #15), resumed from one call to the next.

:meth:`.tolerance.ToleranceEstimator.peek_zone_changes` is a :class:`ZonePeeker` used once. The
provisional tier asks for those seconds once per new second of data, and the provisional dyad asks
again for the same seconds (:mod:`.provisional_dyad`), so with ECG input (the final tier 8-15 s
behind) every second would be stepped a dozen times or more: the tier keeps one peeker per person
(:meth:`.provisional_tier.ProvisionalTier.zone_changes_between`).

Stepping is deterministic, and what second ``t`` gives depends only on the state after ``t - 1``
and on second ``t``'s inputs: its ``hr`` component, and the value of each corroborating channel
stepped at ``t``. The ``hypo`` corroboration is the final rule (``_channel_low``) stepped on copies of
the estimator's recent values with the provisional seconds' columns, for each channel while ``t`` is
not after its newest provisional second; a channel whose data do not reach ``t`` (a voice or movement
second not in yet) keeps its verdict of the newest second it has data for, at first the newest final
row's. :class:`ZonePeeker` keeps, for the newest final row, the inputs
of every second it stepped and the state after each (the zone rule's counters, the corroboration's
verdicts and recent values), and answers a call from the longest prefix of seconds whose inputs are
unchanged: a late beat moves the newest second or two, a late voice second the seconds from its
channel's previous newest one. A fresh peeker and a resumed one give the same events by
construction (the same calls in the same order on the same values); a new final row starts over.
"""

from __future__ import annotations

from collections import deque
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Mapping

from .base import Event

if TYPE_CHECKING:  # tolerance.py imports this module (its peek_zone_changes is a peeker used once)
    from .tolerance import ToleranceEstimator

#: The zone rule's counters, as :meth:`.tolerance.ToleranceEstimator._zone_step` returns them.
_COUNTERS = ("bad", "above", "below", "inside_hi", "inside_lo", "corr_run")
_counters = attrgetter(*_COUNTERS)  # an estimator's counters, as a tuple in that order


def _common_prefix(old: list, new: list) -> int:
    """How many leading items ``old`` and ``new`` share (``==``), found by comparing slices: a
    call's seconds are mostly the previous call's, with the newest one or two changed."""
    n = min(len(old), len(new))
    if old[:n] == new[:n]:
        return n
    lo, hi = 0, n - 1  # the longest equal prefix is in [lo, hi]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if old[:mid] == new[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class ZonePeeker:
    """The provisional zone changes of one person, resumed from call to call (module docstring).
    Reads the estimator and its newest final row, never writes them.
    """

    def __init__(self) -> None:
        self._est: ToleranceEstimator | None = None
        self._row: Mapping[str, Any] | None = None  # the newest final row the seconds follow (held: compared by identity)
        #: per stepped second: (t, hr), with ((channel, value), ...) of the channels stepped at t if any
        self._inputs: list[tuple] = []
        #: (index in _inputs, the zone change its second made), in order: changes are rare
        self._changes: list[tuple[int, Event]] = []
        #: state after 0, 1, ... stepped seconds: (zone, counters, verdicts, recent windows). Held, not
        #: copied: a step replaces the verdicts and windows it changes (with new ones), never edits them
        self._states: list[tuple[str, tuple[int, ...], dict[str, float], dict[str, tuple[deque, deque]]]] = []
        self._zone = "unknown"  # the zone rule's zone and counters after the last stepped second
        self._counters: tuple[int, ...] = (0, 0, 0, 0, 0, 0)
        #: the corroboration's verdicts after the last stepped second, in the channels' order
        #: (tolerance.CORROBORATION's: what the final rule passes on)
        self._low: dict[str, float] = {}
        self._recent: dict[str, tuple[deque, deque]] = {}  # its recent values, per channel stepped so far

    def changes(self, est: ToleranceEstimator, row: Mapping[str, Any] | None,
                hr_by_second: list[tuple[int, float | None]],
                newer_by_second: Mapping[int, Mapping[str, Any]] | None = None) -> list[Event]:
        """The zone changes ``est`` would make over ``hr_by_second``'s seconds after ``row`` (module
        docstring), stepping only the seconds whose inputs (or whose predecessors' inputs) changed
        since the previous call.

        Parameters
        ----------
        est : ToleranceEstimator
            The person's final tolerance estimator (read).
        row : mapping or None
            Its newest final row.
        hr_by_second : list of (int, float or None)
            ``(t_s, hr)`` of the seconds after ``row``'s, in order (``ProvisionalTier.hr_by_second``).
        newer_by_second : mapping, optional
            ``t_s -> columns`` of the provisional seconds (voice, skin conductance, movement).

        Returns
        -------
        list of Event
            Each change as the :class:`Event` :meth:`~.tolerance.ToleranceEstimator.update` would
            emit for it, dated at its second; empty while the baseline is not frozen or without a row.
        """
        if est.stats is None or row is None:
            return []
        if est is not self._est or row is not self._row:
            self._start(est, row)
        inputs = self._inputs_of(est, int(row["t_s"]), hr_by_second, newer_by_second or {})
        same = _common_prefix(self._inputs, inputs)
        if same < len(inputs):
            self._resume(same)
            for second in inputs[same:]:
                self._step(row, second)
        n = len(inputs)
        return [e for i, e in self._changes if i < n]

    def _start(self, est: ToleranceEstimator, row: Mapping[str, Any]) -> None:
        """Forget everything: the final tier moved (a new newest row, so a new estimator state)."""
        self._est, self._row = est, row
        self._inputs, self._changes = [], []
        # est.low is replaced at each final second, never edited, and in the channels' order
        self._zone, self._counters, self._low, self._recent = est.zone, _counters(est), est.low, {}
        self._states = [self._snapshot()]

    @staticmethod
    def _inputs_of(est: ToleranceEstimator, row_t: int, hr_by_second: list[tuple[int, float | None]],
                   newer: Mapping[int, Mapping[str, Any]]) -> list[tuple]:
        """Each second's inputs: ``(t, hr)``, with the value of each corroborating channel stepped in it
        (those whose newest provisional second after ``row_t`` is not before it) as a third item
        where there are any."""
        upto: dict[str, int] = {}
        for t, cols in newer.items():
            if t > row_t:
                for k in est.recent:  # the corroborating channels (tolerance.CORROBORATION), in order
                    if k in cols and t > upto.get(k, row_t):
                        upto[k] = t
        if not upto:  # no early corroborating second (ECG alone): the HR is all that changes
            # hr_by_second's own pairs (held, never changed in place): compared as they are, and a
            # (t, hr) never equals a (t, hr, channels), so a channel coming or going steps again
            return list(hr_by_second)
        channels = [k for k in est.recent if k in upto]
        out = []
        for t, hr in hr_by_second:
            cols = newer.get(t, {})
            out.append((t, hr, tuple((k, cols.get(k)) for k in channels if t <= upto[k])))
        return out

    def _snapshot(self) -> tuple[str, tuple[int, ...], dict[str, float], dict[str, tuple[deque, deque]]]:
        return self._zone, self._counters, self._low, self._recent

    def _resume(self, seconds: int) -> None:
        """Back to the state after the first ``seconds`` stepped seconds (their inputs are unchanged)."""
        if seconds == len(self._inputs):
            return  # the live state is that one
        del self._inputs[seconds:], self._states[seconds + 1:]
        while self._changes and self._changes[-1][0] >= seconds:
            self._changes.pop()
        self._zone, self._counters, self._low, self._recent = self._states[seconds]

    def _step(self, row: Mapping[str, Any], second: tuple) -> None:
        """One second (``(t, hr)`` or ``(t, hr, channels)``, :meth:`_inputs_of`): the corroborating
        channels stepped in it, then the zone rule on the counters carried."""
        t, hr = second[0], second[1]
        est = self._est
        if len(second) > 2 and second[2]:
            # new verdicts and windows: the snapshots hold the old ones
            low, recent = dict(self._low), dict(self._recent)
            for k, value in second[2]:
                times, values = recent.get(k) or est.recent[k]
                window = recent[k] = (deque(times), deque(values))
                z = est._channel_low(k, window, t, value)
                if z is None:
                    low.pop(k, None)
                else:
                    low[k] = z
            self._low = {k: low[k] for k in est.recent if k in low} if low else {}
            self._recent = recent
        low = self._low
        arousal, confidence, zs = est._final_row_arousal(row, hr)
        new, self._counters = est._zone_rule(self._zone, self._counters, arousal, confidence, row, low)
        if new != self._zone:
            # the event holds its own verdicts (the snapshots share theirs)
            self._changes.append((len(self._inputs), est._event(t, self._zone, new, arousal, zs, dict(low), row)))
            self._zone = new
        self._inputs.append(second)
        self._states.append(self._snapshot())
