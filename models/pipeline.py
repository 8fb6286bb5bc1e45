"""The wiring of estimators for one session: per participant, then for the dyad.

Data path (all pure, no I/O, no clocks)::

    AUDIO chunks ──► AudioFrontEnd (session level: needs every microphone to attribute speech)
                          │ PROSODY chunks
    other chunks ─────────┴──► per participant: stream estimators ──► per-second merge
                                  ──► row estimators (autonomic indices, window of tolerance)
                                  ──► rows of all participants ──► dyad estimators

Each stream estimator reports finished seconds in order; a participant's row for second ``t``
is assembled once every one of its estimators has finished ``t``. Because every estimator's
output depends only on its own input stream, the rows do not depend on how the sources
interleave or cut their chunks -- the property that makes live, replay at any speed and
offline analysis agree.

Live viewers also get a *provisional* tier (issue #15), with ``provisional=True``; each of its
values is a dict with ``participant``, ``family`` and ``t`` (the session time it describes), and
goes out in :attr:`PipelineOutput.provisional`:

- ``family="heart"``: each person's heart chunks also feed a
  :class:`~.provisional_heart.ProvisionalHeart` (a beat's HR within a fraction of a second of its data);
- ``family="voice"``, ``"eda"``, ...: a stream estimator that declares a
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
(:attr:`PipelineOutput.event_updates`). The ``hypo`` corroboration of those seconds comes from the
early seconds' voice and skin conductance where they are in (the rest from the newest final row).
The stepping is resumed from one call to the next (:class:`~.zone_peek.ZonePeeker`): only the seconds
from the first whose inputs changed are stepped again, with the same changes as a fresh copy.
The dyad's events (rupture, repair, co-regulation, therapist) likewise:
:class:`~.provisional_dyad.ProvisionalDyad` steps a copy of the dyad estimator over the seconds
after the newest final dyad second, on the provisional tiers of both people. The final events are the same with or without them.
"""

from __future__ import annotations

from collections import defaultdict
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..sensors.chunk import Chunk, StreamInfo
from .base import Event, RowEstimator, StreamEstimator
from .columns import DYAD_COLUMNS, FEATURE_COLUMNS
from .config import PipelineConfig
from .provisional_dyad import ProvisionalDyad
from .provisional_events import DYAD_EVENT_KINDS, ZONE_EVENT_KINDS, EventUpdate, ProvisionalEvents
from .registry import AUDIO_KINDS, DEFAULT_REGISTRY, HEART_KINDS, Registry
from .tolerance import HR_MEDIAN_S, ToleranceEstimator, median
from .zone_peek import ZonePeeker


def utc_iso(utc0: float | None, t: float) -> str | None:
    """ISO 8601 UTC time of session time ``t`` (None when the origin is unknown)."""
    if utc0 is None:
        return None
    return datetime.fromtimestamp(utc0 + t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class PipelineOutput:
    """What became final after one update, and the provisional values it brought (live only)."""

    features: list[dict[str, Any]] = field(default_factory=list)
    dyad: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    #: provisional values for viewers, never recorded as features (module docstring)
    provisional: list[dict[str, Any]] = field(default_factory=list)
    #: provisional events pushed, confirmed or withdrawn (live only; never final events)
    event_updates: list[EventUpdate] = field(default_factory=list)

    def extend(self, other: "PipelineOutput") -> None:
        """Append everything of ``other`` (in order) to this output."""
        self.features.extend(other.features)
        self.dyad.extend(other.dyad)
        self.events.extend(other.events)
        self.provisional.extend(other.provisional)
        self.event_updates.extend(other.event_updates)

    def __bool__(self) -> bool:
        return bool(self.features or self.dyad or self.events or self.provisional or self.event_updates)


class ParticipantPipeline:
    """Stream estimators, per-second merge and row estimators of one person."""

    def __init__(self, participant: str, stream_estimators: list[StreamEstimator],
                 row_estimators: list[RowEstimator], utc0: float | None):
        self.participant = participant
        self.stream_estimators = stream_estimators
        self.row_estimators = row_estimators
        self.utc0 = utc0
        self._done = [0] * len(stream_estimators)
        self._partial: dict[int, dict[str, Any]] = defaultdict(dict)
        self._emitted = 0
        #: the newest final row (the provisional tier reads it, never writes it)
        self.last_row: dict[str, Any] | None = None
        #: seconds of estimators with a ``provisional_family``, as they come: ``(family, t_s, columns)``;
        #: None unless the provisional tier asks for them (:class:`SessionPipeline` drains it)
        self.early: list[tuple[str, int, dict[str, Any]]] | None = None

    @property
    def final_upto(self) -> int:
        """The newest second whose row is final (0 before the first)."""
        return self._emitted

    def _take(self, i: int, seconds) -> None:
        family = getattr(self.stream_estimators[i], "provisional_family", None)
        for t, values in seconds:
            if t != self._done[i] + 1:
                name = type(self.stream_estimators[i]).__name__
                raise RuntimeError(f"{name} emitted second {t} after {self._done[i]}: seconds must be consecutive")
            self._done[i] = t
            self._partial[t].update(values)
            if family is not None and self.early is not None:
                self.early.append((family, t, dict(values)))

    def update(self, chunk: Chunk, events: list[Event]) -> list[dict[str, Any]]:
        """Feed one chunk to the stream estimators that accept its kind.

        Parameters
        ----------
        chunk : Chunk
            One of this person's chunks.
        events : list of Event
            Receives the events the estimators and row estimators raised (appended in place).

        Returns
        -------
        list of dict
            The person's rows of the seconds every stream estimator has now finished.
        """
        for i, est in enumerate(self.stream_estimators):
            if chunk.kind in est.accepts:
                self._take(i, est.update(chunk))
                events.extend(est.events())
        return self._rows(min(self._done, default=0), events)

    def finish(self, events: list[Event]) -> list[dict[str, Any]]:
        """End of data: finish every stream estimator and return the rows still to come.

        Parameters
        ----------
        events : list of Event
            Receives the events raised on the way (appended in place).
        """
        for i, est in enumerate(self.stream_estimators):
            self._take(i, est.finish())
            events.extend(est.events())
        rows = self._rows(max(self._done, default=0), events)
        for row_est in self.row_estimators:
            events.extend(row_est.finish())
        return rows

    def _rows(self, upto: int, events: list[Event]) -> list[dict[str, Any]]:
        rows = []
        for t in range(self._emitted + 1, upto + 1):
            row: dict[str, Any] = dict.fromkeys(FEATURE_COLUMNS)
            row.update(t_s=t, utc=utc_iso(self.utc0, t), participant=self.participant)
            row.update(self._partial.pop(t, {}))
            for est in self.row_estimators:
                added, evs = est.update(row)
                row.update(added)
                events.extend(evs)
            rows.append(row)
            self.last_row = row
        self._emitted = max(self._emitted, upto)
        return rows

    def peek_zone_changes(self, hr_by_second: list[tuple[int, float | None]],
                          newer_by_second: dict[int, dict[str, Any]] | None = None) -> list[Event]:
        """The zone changes the row estimators would make over the next seconds (no state changes);
        ``newer_by_second``: the provisional seconds' columns (``t_s -> columns``)."""
        for est in self.row_estimators:
            peek = getattr(est, "peek_zone_changes", None)
            if peek is not None:
                return peek(self.last_row, hr_by_second, newer_by_second)
        return []

    def peek_arousal(self, hr: float | None, newer: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """What the row estimators' arousal would be now; no state changes.

        Parameters
        ----------
        hr : float or None
            The provisional ``hr`` component (median of the newest beat-level HR).
        newer : dict, optional
            Columns of seconds newer than the last final row (the provisional tier's early seconds).

        Returns
        -------
        dict or None
            ``arousal``, ``arousal_confidence``, ``zone``, ``zone_provisional``
            (:meth:`.tolerance.ToleranceEstimator.peek`); None without a row estimator that can peek,
            before the baseline or before the first final row.
        """
        for est in self.row_estimators:
            peek = getattr(est, "peek", None)
            if peek is not None:
                return peek(self.last_row, hr, newer)
        return None


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
            self._newest_t = max(self._newest_t, t)
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
        the ``hypo`` corroboration of the early seconds' columns (voice, skin conductance) where they
        are in. Evaluated again when a new early second came in, even without a new heart second.
        """
        last = self.person.last_row
        if last is None or self._newest_t == float("-inf"):
            return []
        first, newest = int(last["t_s"]) + 1, int(self._newest_t + 1e-9)
        for t in [t for t in self._early_seconds if t < first]:
            del self._early_seconds[t]
        # evaluated again when an early second within the evaluated ones came in (one after them changes nothing)
        seen = (first, newest, tuple(min(t, newest) for _, t in sorted(self._early_upto.items())))
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
        est = next((e for e in person.row_estimators if hasattr(e, "peek_zone_changes")), None)
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
        if len(cache) > 4 * self.MAX_AHEAD_S:  # seconds long final are not asked again (if they are: sorted again)
            for s in [s for s in cache if s < first - self.MAX_AHEAD_S]:
                del cache[s]
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
            k = bisect_right(self._beat_t, t0)
            del self._beat_t[:k], self._beat_h[:k]
            self._dropped += k
            return
        kept = [(tb, h) for tb, h in zip(self._beat_t, self._beat_h) if tb > t0]
        self._beat_t, self._beat_h = [tb for tb, _ in kept], [h for _, h in kept]
        # in order again once the late beat is forgotten (absolute indices restart: the cache is empty)
        self._in_order = all(a <= b for a, b in zip(self._beat_t, self._beat_t[1:]))

    def early_columns(self, first: int, last: int) -> dict[int, dict[str, Any]]:
        """The early seconds' columns (voice, skin conductance) of ``[first, last]`` still kept."""
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
        row = self.person.last_row
        row_t = row["t_s"] if row is not None else 0
        newer = {k: x for k, (t, x) in self._early.items() if t > row_t}
        peek = self.person.peek_arousal(median(recent_hr) if recent_hr else None, newer)
        if peek is not None:
            v.update(peek)


class SessionPipeline:
    """All estimators of a session, built from its streams and configuration.

    Parameters
    ----------
    streams : list of StreamInfo
        Every stream the session's sources will produce.
    config : PipelineConfig
        Window lengths, baseline, thresholds; saved with the session.
    utc0 : float or None
        Absolute time of session time 0 (for the ``utc`` columns).
    registry : Registry
        Estimator factories (tests may swap in fakes).
    provisional : bool
        Also compute the provisional tier (live viewers; module docstring). Off for ``analyze``.
    """

    def __init__(self, streams: list[StreamInfo], config: PipelineConfig | None = None,
                 utc0: float | None = None, registry: Registry = DEFAULT_REGISTRY, *, provisional: bool = False):
        self.config = config or PipelineConfig()
        self.utc0 = utc0
        audio = [s for s in streams if s.kind in AUDIO_KINDS]
        self.frontend = registry.audio_frontend(audio, self.config) if audio else None
        routed = [s for s in streams if s.kind not in AUDIO_KINDS]
        if self.frontend is not None:
            routed += list(self.frontend.prosody_streams)
        by_person: dict[str, list[StreamInfo]] = defaultdict(list)
        for s in routed:
            by_person[s.participant].append(s)
        self.participants: dict[str, ParticipantPipeline] = {}
        for who, mine in by_person.items():
            est = registry.stream_estimators(who, mine, self.config)
            if est:
                self.participants[who] = ParticipantPipeline(who, est, registry.row_estimators(who, self.config, mine), utc0)
        self.provisional: dict[str, ProvisionalTier] = {}
        if provisional:
            for who, pp in self.participants.items():
                heart = registry.provisional_heart(who, by_person[who], self.config)
                early = any(getattr(e, "provisional_family", None) for e in pp.stream_estimators)
                if heart is not None or early:
                    self.provisional[who] = ProvisionalTier(heart, pp)
                if early:
                    pp.early = []
        self.dyad_estimators = registry.dyad_estimators(list(self.participants), self.config)
        self._rows: dict[str, dict[int, dict[str, Any]]] = {p: {} for p in self.participants}
        # the dyad's event rules on the provisional tier, read-only
        dyad = next((e for e in self.dyad_estimators if hasattr(e, "open_candidates")), None)
        self.provisional_dyad = ProvisionalDyad(dyad, self.provisional, self._rows) \
            if self.provisional and dyad is not None else None
        self.provisional_events = ProvisionalEvents(kinds=ZONE_EVENT_KINDS | DYAD_EVENT_KINDS) \
            if self.provisional else None
        self._seen: dict[str, int] = {p: 0 for p in self.participants}
        self._dyad_emitted = 0

    def update(self, chunk: Chunk) -> PipelineOutput:
        """Feed one chunk; return the rows and events that became final."""
        out = PipelineOutput()
        if chunk.meta.get("late"):
            # samples that reached a live session after their stream was declared silent there
            # (sensors.live.SilenceWatch): recorded, but the seconds were already computed without them
            return out
        if chunk.kind in AUDIO_KINDS:
            if self.frontend is not None:
                for prosody in self.frontend.update(chunk):
                    self._route(prosody, out)
            return out
        self._route(chunk, out)
        return out

    def _route(self, chunk: Chunk, out: PipelineOutput) -> None:
        pp = self.participants.get(chunk.participant)
        if pp is None:
            return
        n_events = len(out.events)
        rows = pp.update(chunk, out.events)
        self._collect(rows, out, final=False)
        # after the final tier: a provisional arousal uses the newest final row
        tier = self.provisional.get(chunk.participant)
        beats = []
        if tier is not None and chunk.kind in HEART_KINDS:
            beats = tier.update(chunk)
            out.provisional.extend(beats)
        early = []
        if tier is not None and pp.early:
            early, pp.early = pp.early, []
            out.provisional.extend(tier.seconds(early))
        if self.provisional_events is not None:
            # settle against the final events first: a change the final tier just made is not
            # proposed again (the provisional seconds start after the newest final row).
            # With nothing pending there is nothing to confirm or withdraw (settle would return []
            # and change nothing), so the final clocks and the open candidates are not asked then
            if self.provisional_events.pending:
                # the final tier's open candidates hold pending dyad events
                held = self.provisional_dyad.dyad.open_candidates(held=True) \
                    if self.provisional_dyad is not None else []
                out.event_updates += self.provisional_events.settle(out.events[n_events:], self._final_upto(), held)
            # early seconds (voice, skin conductance) may move the hypo corroboration on their own
            if tier is not None and (chunk.kind in HEART_KINDS or early) and self._news(beats, early, rows):
                out.event_updates += self.provisional_events.propose(tier.zone_events())
                if self.provisional_dyad is not None:
                    out.event_updates += self.provisional_events.propose(*self.provisional_dyad.events(self._dyad_emitted))

    @staticmethod
    def _news(beats: list, early: list, rows: list) -> bool:
        """Whether a chunk brought anything the provisional event rules read: provisional heart
        values, early seconds or final rows of its person. Without any, ``zone_events`` and the
        provisional dyad's ``events`` answer nothing (their inputs, the newest provisional and final
        seconds, are those of their previous call, which they remember), so they are not asked; e.g.
        a strap's RR chunks while the beats come from its ECG."""
        return bool(beats or early or rows)

    def _final_upto(self) -> dict[str | None, int]:
        """Each person's newest final second, and the dyad's (key ``None``) if there is a dyad."""
        upto: dict[str | None, int] = {who: pp.final_upto for who, pp in self.participants.items()}
        if self.dyad_estimators:
            upto[None] = self._dyad_emitted
        return upto

    def finish(self) -> PipelineOutput:
        """End of data: flush every estimator and the dyad."""
        out = PipelineOutput()
        if self.frontend is not None:
            for prosody in self.frontend.finish():
                self._route(prosody, out)
        n_events = len(out.events)  # the ones before were settled in _route
        for pp in self.participants.values():
            self._collect(pp.finish(out.events), out, final=False)
        self._collect([], out, final=True)
        for est in self.dyad_estimators:
            rows, evs = est.finish()
            out.dyad.extend(rows)
            out.events.extend(evs)
        if self.provisional_events is not None:
            out.event_updates += self.provisional_events.finish(out.events[n_events:], self._final_upto())
        return out

    def _collect(self, rows: list[dict[str, Any]], out: PipelineOutput, *, final: bool) -> None:
        out.features.extend(rows)
        if not self.dyad_estimators:
            return
        for r in rows:
            self._rows[r["participant"]][r["t_s"]] = r
            self._seen[r["participant"]] = r["t_s"]
        # a dyad second needs everybody's row; at the end, whoever stopped early is missing
        upto = max(self._seen.values(), default=0) if final else min(self._seen.values(), default=0)
        first = self._dyad_emitted + 1
        seconds = [{p: self._rows[p].pop(t, {}) for p in self._rows} for t in range(first, upto + 1)]
        drows: list[dict[str, Any]] = []
        for t in range(first, upto + 1):
            drows.append(dict.fromkeys(DYAD_COLUMNS))
            drows[-1].update(t_s=t, utc=utc_iso(self.utc0, t))
        events: list[list[Event]] = [[] for _ in seconds]
        for est in self.dyad_estimators:  # the seconds that came together, stepped together (updates)
            for drow, evs, (added, new) in zip(drows, events, est.updates(first, seconds)):
                drow.update(added)
                evs.extend(new)
        for drow, evs in zip(drows, events):  # each second's events, in the estimators' order
            out.events.extend(evs)
            out.dyad.append(drow)
        self._dyad_emitted = max(self._dyad_emitted, upto)
