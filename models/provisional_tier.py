"""One person's provisional tier: values for live viewers before the final rows (issue #15).

Live viewers also get a *provisional* tier, with ``SessionPipeline(..., provisional=True)``; each of its
values is a dict with ``participant``, ``family`` and ``t`` (the session time it describes), and
goes out in :attr:`.pipeline.PipelineOutput.provisional`:

- ``family="heart"``: each person's heart chunks also feed a
  :class:`~.provisional_heart.ProvisionalHeart` (a beat's HR within a fraction of a second of its data);
- ``family="voice"``, ``"eda"``, ``"movement"``: a stream estimator that declares a
  :attr:`~.base.StreamEstimator.provisional_family` has its seconds shown as soon as it emits
  them (``t`` = ``t_s``, the columns it returned), instead of when the person's row is complete,
  which waits for the slowest estimator (the heart's look-ahead: 8-15 s). Those columns are the
  final values, early; seconds whose row becomes final in the same update are not repeated.

Every value carries the arousal and zone it would give (:meth:`~.tolerance.ToleranceEstimator.peek`):
the ``hr`` component from the provisional beats, every other component (skin conductance, ...)
from the newest early second where it is newer than the newest final row. The tier reads the
final tier's state and never writes it: the final rows are the same with or without it, and
``analyze`` leaves it off.

Zone changes are pushed on that tier too (issue #15, item 3): once per second of provisional data,
:meth:`ProvisionalTier.zone_events` steps a copy of the tolerance estimator's zone rule over the
seconds the final tier has not finished yet, and :class:`~.provisional_events.ProvisionalEvents`
pushes the changes it finds, then confirms or withdraws them as the final events arrive
(:attr:`.pipeline.PipelineOutput.event_updates`). The ``hypo`` corroboration of those seconds comes from the
early seconds' voice, skin conductance and movement where they are in (the rest from the newest final row).
The stepping is resumed from one call to the next (:class:`~.zone_peek.ZonePeeker`): only the seconds
from the first whose inputs changed are stepped again, with the same changes as a fresh copy.
The dyad's events (rupture, repair, co-regulation, therapist) likewise:
:class:`~.provisional_dyad.ProvisionalDyad` steps a copy of the dyad estimator over the seconds
after the newest final dyad second, on the provisional tiers of both people. The final events are the same with or without them.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import TYPE_CHECKING, Any

from ..sensors.chunk import Chunk
from .base import Event
from .tolerance import HR_MEDIAN_S, ToleranceEstimator, median
from .zone_peek import ZonePeeker

if TYPE_CHECKING:
    from .pipeline import ParticipantPipeline


class ProvisionalTier:
    """One person's provisional values (module docstring), with the arousal and zone they would give.

    The ``hr`` component of a provisional arousal is the median of the provisional beat-level HR
    over the last ``HR_MEDIAN_S`` seconds, the final tier's rule (:mod:`.tolerance`) on the
    newest beats. The other components are the newest early seconds' columns where those are
    newer than the person's newest final row, else that row's.

    :meth:`zone_events` applies the same rule to each second after the newest final row, up to
    :data:`MAX_AHEAD_S` of them.

    Parameters
    ----------
    heart : ProvisionalHeart or None
        The person's provisional heart values (None: the person has no heart stream).
    person : ParticipantPipeline
        The person's final tier, read (its newest row, its row estimators' ``peek``), never written.
    """

    #: provisional seconds past the newest final row evaluated for zone changes, at most (a final
    #: tier further behind than this, e.g. waiting for a stalled stream, gets no provisional events)
    MAX_AHEAD_S = 60

    def __init__(self, heart: Any, person: ParticipantPipeline) -> None:
        self.heart = heart
        self.person = person
        # beat-level HR (times, bpm), in arrival order; ``_dropped`` entries were forgotten before them
        self._beat_t: list[float] = []
        self._beat_h: list[float] = []
        self._dropped = 0
        # times non-decreasing (beats arrive in order; a device-HR sample could precede a late beat):
        # windows are then list slices found by bisection, else scanned as a whole
        self._in_order = True
        #: s -> (absolute index range of its beats, their median): hr_by_second's seconds whose beats
        #: did not change are not sorted again
        self._hr_cache: dict[int, tuple[int, int, float | None]] = {}
        #: hr_by_second's newest answer: (first, last, answer, its first second's window start and the
        #: beats then, both absolute, its first second's cache entry); see there
        self._hr_memo: tuple[int, int, list[tuple[int, float | None]], int, int, tuple] | None = None
        self._newest_t = float("-inf")
        # (first second after the newest final row, newest provisional heart second, each family's
        # newest early second up to it) evaluated
        self._zones_seen: tuple[int, int, tuple[int, ...]] | None = None
        self._early: dict[str, tuple[int, Any]] = {}  # column -> (t_s, value) of its newest early second
        #: t_s -> columns of the early seconds whose row is not final yet (zone_events' corroboration)
        self._early_seconds: dict[int, dict[str, Any]] = {}
        self._early_upto: dict[str, int] = {}  # family -> its newest early second
        # the zone rule stepped over the seconds after the newest final row, resumed at each call
        self._zone_peeker = ZonePeeker()
        # (the person's row estimators, how many, the first with a zone rule): zone_changes_between's
        self._zone_rule: tuple[list[Any], int, Any] | None = None

    def update(self, chunk: Chunk) -> list[dict[str, Any]]:
        """The provisional heart values one chunk brings, with the arousal and zone they would give.

        Returns
        -------
        list of dict
            One value per provisional beat update (``family="heart"``); ``arousal`` and ``zone`` are
            added from the median of the heart rate of the last ``HR_MEDIAN_S`` seconds and the newest
            early columns when the tolerance can judge them. Empty without a provisional heart.
        """
        if self.heart is None:
            return []
        values = self.heart.update(chunk)
        for v in values:
            v["family"] = "heart"
            times = v.get("beat_times") or []
            hrs = v.get("beat_hr_bpm") or [None] * len(times)
            for tb, h in zip(times, hrs):
                if h is not None:
                    self._add_beat_hr(float(tb), float(h))
            if not times and v.get("hr_inst_bpm") is not None:  # device HR: no beats, one sample
                self._add_beat_hr(float(v["t"]), float(v["hr_inst_bpm"]))
            t = float(v["t"])
            if t > self._newest_t:
                self._newest_t = t
            # kept for zone_events' seconds too, which start up to MAX_AHEAD_S back
            self._forget_until(t - HR_MEDIAN_S - self.MAX_AHEAD_S)
            self._peek(v, self.beat_hr_between(t - HR_MEDIAN_S, t))
        return values

    def zone_events(self) -> list[Event]:
        """Zone changes on provisional evidence, once per new second of data or of final rows.

        For each whole second ``s`` after the newest final row up to the newest provisional value,
        the ``hr`` component is the median of the provisional beat-level HR in ``(s - HR_MEDIAN_S, s]``
        (the final tier's rule), then
        :meth:`~.tolerance.ToleranceEstimator.peek_zone_changes` steps the zone rule over them, with
        the ``hypo`` corroboration of the early seconds' columns (voice, skin conductance, movement)
        where they are in. Evaluated again when a new early second came in, even without a new heart second.
        """
        last = self.person.last_row
        if last is None or self._newest_t == float("-inf"):
            return []
        first, newest = int(last["t_s"]) + 1, int(self._newest_t + 1e-9)
        if self._early_seconds:
            for t in [t for t in self._early_seconds if t < first]:
                del self._early_seconds[t]
        # evaluated again when an early second within the evaluated ones came in (one after them changes nothing)
        seen = (first, newest, tuple(min(t, newest) for _, t in sorted(self._early_upto.items())) if self._early_upto else ())
        if newest < first or newest - first >= self.MAX_AHEAD_S or self._zones_seen == seen:
            return []
        self._zones_seen = seen
        return self.zone_changes_between(first, newest, self._early_seconds)

    def zone_changes_between(self, first: int, last: int, newer_by_second: dict[int, dict[str, Any]] | None = None,
                             hr_by_second: list[tuple[int, float | None]] | None = None) -> list[Event]:
        """The zone changes over ``[first, last]``: exactly
        ``person.peek_zone_changes(self.hr_by_second(first, last), newer_by_second)``, stepping only
        the seconds whose inputs changed since the previous call (:class:`.zone_peek.ZonePeeker`).

        Parameters
        ----------
        first, last : int
            The seconds (``first``: the one after the newest final row, for the incremental path).
        newer_by_second : dict, optional
            ``t_s -> columns`` of the provisional seconds (the ``hypo`` corroboration).
        hr_by_second : list, optional
            ``self.hr_by_second(first, last)``, if the caller has it already (not asked again).
        """
        person = self.person
        if hr_by_second is None:
            hr_by_second = self.hr_by_second(first, last)
        estimators = person.row_estimators
        found = self._zone_rule
        if found is None or found[0] is not estimators or found[1] != len(estimators):  # looked up once per list
            found = self._zone_rule = (estimators, len(estimators),
                                       next((e for e in estimators if hasattr(e, "peek_zone_changes")), None))
        est = found[2]
        if not isinstance(est, ToleranceEstimator):  # another zone rule (a test's fake): asked as it is
            return person.peek_zone_changes(hr_by_second, newer_by_second)
        return self._zone_peeker.changes(est, person.last_row, hr_by_second, newer_by_second)

    @property
    def newest_second(self) -> int | None:
        """The newest whole second the provisional heart values reach (None before the first)."""
        return None if self._newest_t == float("-inf") else int(self._newest_t + 1e-9)

    def hr_by_second(self, first: int, last: int) -> list[tuple[int, float | None]]:
        """``(s, hr)`` for ``s`` in ``[first, last]``: the median of the provisional beat-level HR
        in ``(s - HR_MEDIAN_S, s]`` (the final tier's ``hr`` component rule), None without beats."""
        times, hrs = self._beat_t, self._beat_h
        if not self._in_order:  # a late beat: bisection over the list as it is, nothing reused
            return [(s, median(hrs[lo:hi]) if hi > lo else None)
                    for s in range(first, last + 1)
                    for lo, hi in [(bisect_right(times, s - HR_MEDIAN_S), bisect_right(times, s))]]
        # The previous answer's seconds before the first beat that came since keep their windows
        # (beats come in time order and only the oldest are forgotten), so they are reused as they
        # are: asked once per new second by the zone events and again by the dyad, only the newest
        # second or two differ. Valid while the per-second cache was not cleared (a late beat
        # restarts the absolute indices) and no beat of its first second's window was forgotten.
        dropped, memo = self._dropped, self._hr_memo
        out: list[tuple[int, float | None]] | None = None
        if memo is not None:
            memo_first, memo_last, memo_out, memo_lo, memo_n, anchor = memo
            if memo_lo >= dropped and self._hr_cache.get(memo_first) is anchor:
                reused_last = min(last, memo_last)
                if memo_n < dropped + len(times):  # the first new beat's second and later may have moved
                    reused_last = min(reused_last, math.ceil(times[memo_n - dropped]) - 1)
                reused_first = max(first, memo_first)
                if reused_first <= reused_last:
                    out = (self._hr_seconds(first, reused_first - 1)
                           + memo_out[reused_first - memo_first:reused_last - memo_first + 1]
                           + self._hr_seconds(reused_last + 1, last))
        if out is None:
            out = self._hr_seconds(first, last)
        cache = self._hr_cache
        anchor = cache.get(first)
        if out and anchor is not None:
            self._hr_memo = (first, last, out, anchor[0], dropped + len(times), anchor)
        if len(cache) > 4 * self.MAX_AHEAD_S:  # seconds long final are not asked again (if they are: sorted again)
            for s in [s for s in cache if s < first - self.MAX_AHEAD_S]:
                del cache[s]
        return list(out)

    def _hr_seconds(self, first: int, last: int) -> list[tuple[int, float | None]]:
        """:meth:`hr_by_second` of ``[first, last]`` second by second, beats in time order; a second
        whose beats did not change (the same absolute indices) keeps its median."""
        if last < first:
            return []
        times, hrs = self._beat_t, self._beat_h
        # seconds by absolute beat index (the list only grows at its end and forgets from its start)
        lo, hi = bisect_right(times, first - HR_MEDIAN_S), bisect_right(times, first)
        cache, dropped = self._hr_cache, self._dropped
        out: list[tuple[int, float | None]] = []
        n = len(times)
        for s in range(first, last + 1):
            # the window (s - HR_MEDIAN_S, s] slides right: both ends only move forward (= bisect_right)
            while lo < n and times[lo] <= s - HR_MEDIAN_S:
                lo += 1
            while hi < n and times[hi] <= s:
                hi += 1
            # a second whose beats are the same (same absolute indices) keeps its median: only the
            # newest seconds change as beats come, the others were sorted at an earlier call
            cached = cache.get(s)
            if cached is not None and cached[0] == lo + dropped and cached[1] == hi + dropped:
                out.append((s, cached[2]))
                continue
            value = median(hrs[lo:hi]) if hi > lo else None
            cache[s] = (lo + dropped, hi + dropped, value)
            out.append((s, value))
        return out

    def beat_hr_between(self, t0: float, t1: float) -> list[float]:
        """Provisional beat-level HR (bpm) of the beats in ``(t0, t1]``, in time order."""
        if self._in_order:
            return self._beat_h[bisect_right(self._beat_t, t0):bisect_right(self._beat_t, t1)]
        return [h for tb, h in zip(self._beat_t, self._beat_h) if t0 < tb <= t1]

    def _add_beat_hr(self, t: float, hr: float) -> None:
        if self._beat_t and t < self._beat_t[-1]:
            self._in_order = False
            self._hr_cache.clear()
        self._beat_t.append(t)
        self._beat_h.append(hr)

    def _forget_until(self, t0: float) -> None:
        """Forget the beat-level HR of the beats at or before ``t0``."""
        if self._in_order:  # they are a prefix
            if not self._beat_t or self._beat_t[0] > t0:
                return  # nothing that old: the oldest beat is newer
            k = bisect_right(self._beat_t, t0)
            del self._beat_t[:k], self._beat_h[:k]
            self._dropped += k
            return
        kept = [(tb, h) for tb, h in zip(self._beat_t, self._beat_h) if tb > t0]
        self._beat_t, self._beat_h = [tb for tb, _ in kept], [h for _, h in kept]
        # in order again once the late beat is forgotten (absolute indices restart: the cache is empty)
        self._in_order = all(a <= b for a, b in zip(self._beat_t, self._beat_t[1:]))

    def early_columns(self, first: int, last: int) -> dict[int, dict[str, Any]]:
        """The early seconds' columns (voice, skin conductance, movement) of ``[first, last]`` still kept."""
        return {t: cols for t, cols in self._early_seconds.items() if first <= t <= last}

    def seconds(self, early: list[tuple[str, int, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Provisional values of the early seconds of the person's stream estimators.

        Parameters
        ----------
        early : list of (str, int, dict)
            ``(family, t_s, columns)`` as :attr:`ParticipantPipeline.early` collected them, in order.

        Returns
        -------
        list of dict
            One value per second whose row is not final yet: ``participant``, ``family``, ``t``
            (= ``t_s``), the columns, and the arousal and zone the newest data give.
        """
        out = []
        for family, t, columns in early:
            for k, x in columns.items():
                self._early[k] = (t, x)
            if t <= self.person.final_upto:
                continue  # its row went out in the same update: nothing to anticipate
            self._early_seconds.setdefault(t, {}).update(columns)
            self._early_upto[family] = t
            v: dict[str, Any] = {"participant": self.person.participant, "family": family, "t": float(t), **columns}
            # HR of the HR_MEDIAN_S seconds before the newest moment known, as for a beat
            newest = max([float(t)] + (self._beat_t[-1:] if self._in_order else self._beat_t))
            self._peek(v, self.beat_hr_between(newest - HR_MEDIAN_S, newest))
            out.append(v)
        for t in [t for t in self._early_seconds if t <= self.person.final_upto]:
            del self._early_seconds[t]  # its row is final: the tolerance estimator has it
        return out

    def _peek(self, v: dict[str, Any], recent_hr: list[float]) -> None:
        newer: dict[str, Any] = {}
        if self._early:  # only early columns can be newer than the newest final row
            row = self.person.last_row
            row_t = row["t_s"] if row is not None else 0
            newer = {k: x for k, (t, x) in self._early.items() if t > row_t}
        peek = self.person.peek_arousal(median(recent_hr) if recent_hr else None, newer)
        if peek is not None:
            v.update(peek)
