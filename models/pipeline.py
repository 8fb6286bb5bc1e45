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

Live viewers also get a *provisional* tier (issue #15): with ``provisional=True`` each person's
heart chunks also feed a :class:`~.provisional_heart.ProvisionalHeart`, whose values (a beat's HR
within a fraction of a second of its data) go out in :attr:`PipelineOutput.provisional` with the
arousal and zone they would give (:meth:`~.tolerance.ToleranceEstimator.peek`). That tier reads
the final tier's state and never writes it: the final rows are the same with or without it, and
``analyze`` leaves it off.

Zone changes are pushed on that tier too (issue #15, item 3): once per second of provisional data,
:meth:`ProvisionalTier.zone_events` steps a copy of the tolerance estimator's zone rule over the
seconds the final tier has not finished yet, and :class:`~.provisional_events.ProvisionalEvents`
pushes the changes it finds, then confirms or withdraws them as the final events arrive
(:attr:`PipelineOutput.event_updates`). The final events are the same with or without it.
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
from .provisional_events import EventUpdate, ProvisionalEvents
from .registry import AUDIO_KINDS, DEFAULT_REGISTRY, HEART_KINDS, Registry
from .tolerance import HR_MEDIAN_S, median


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

    def _take(self, i: int, seconds) -> None:
        for t, values in seconds:
            if t != self._done[i] + 1:
                name = type(self.stream_estimators[i]).__name__
                raise RuntimeError(f"{name} emitted second {t} after {self._done[i]}: seconds must be consecutive")
            self._done[i] = t
            self._partial[t].update(values)

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
        return self._rows(max(self._done, default=0), events)

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

    def peek_zone_changes(self, hr_by_second: list[tuple[int, float | None]]) -> list[Event]:
        """The zone changes the row estimators would make over the next seconds (no state changes)."""
        for est in self.row_estimators:
            peek = getattr(est, "peek_zone_changes", None)
            if peek is not None:
                return peek(self.last_row, hr_by_second)
        return []

    def peek_arousal(self, hr: float | None) -> dict[str, Any] | None:
        """What the row estimators' arousal would be with heart rate ``hr`` now (no state changes)."""
        for est in self.row_estimators:
            peek = getattr(est, "peek", None)
            if peek is not None:
                return peek(self.last_row, hr)
        return None


class ProvisionalTier:
    """One person's provisional heart values, with the arousal and zone they would give.

    The ``hr`` component of a provisional arousal is the median of the provisional beat-level HR
    over the last ``HR_MEDIAN_S`` seconds, the final tier's rule (:mod:`.tolerance`) on the
    newest beats.

    :meth:`zone_events` applies the same rule to each second after the newest final row, up to
    :data:`MAX_AHEAD_S` of them.
    """

    #: provisional seconds past the newest final row evaluated for zone changes, at most (a final
    #: tier further behind than this, e.g. waiting for a stalled stream, gets no provisional events)
    MAX_AHEAD_S = 60

    def __init__(self, heart: Any, person: ParticipantPipeline) -> None:
        self.heart = heart
        self.person = person
        self._beat_hr: list[tuple[float, float]] = []
        self._newest_t = float("-inf")
        self._zones_seen: tuple[int, int] | None = None  # (newest final, newest provisional second) evaluated

    def update(self, chunk: Chunk) -> list[dict[str, Any]]:
        """The provisional heart values one chunk brings, with the arousal and zone they would give.

        Returns
        -------
        list of dict
            One value per provisional second; ``arousal`` and ``zone`` are added from the median of
            the heart rate of the last ``HR_MEDIAN_S`` seconds when the tolerance can judge them.
        """
        values = self.heart.update(chunk)
        for v in values:
            times = v.get("beat_times") or []
            hrs = v.get("beat_hr_bpm") or [None] * len(times)
            self._beat_hr += [(float(t), float(h)) for t, h in zip(times, hrs) if h is not None]
            if not times and v.get("hr_inst_bpm") is not None:  # device HR: no beats, one sample
                self._beat_hr.append((float(v["t"]), float(v["hr_inst_bpm"])))
            t = float(v["t"])
            self._newest_t = max(self._newest_t, t)
            # kept for zone_events' seconds too, which start up to MAX_AHEAD_S back
            self._beat_hr = [(tb, h) for tb, h in self._beat_hr if tb > t - HR_MEDIAN_S - self.MAX_AHEAD_S]
            recent = [h for tb, h in self._beat_hr if t - HR_MEDIAN_S < tb <= t]
            peek = self.person.peek_arousal(median(recent) if recent else None)
            if peek is not None:
                v.update(peek)
        return values

    def zone_events(self) -> list[Event]:
        """Zone changes on provisional evidence, once per new second of data or of final rows.

        For each whole second ``s`` after the newest final row up to the newest provisional value,
        the ``hr`` component is the median of the provisional beat-level HR in ``(s - HR_MEDIAN_S, s]``
        (the final tier's rule), then
        :meth:`~.tolerance.ToleranceEstimator.peek_zone_changes` steps the zone rule over them.
        """
        last = self.person.last_row
        if last is None or self._newest_t == float("-inf"):
            return []
        first, newest = int(last["t_s"]) + 1, int(self._newest_t + 1e-9)
        if newest < first or newest - first >= self.MAX_AHEAD_S or self._zones_seen == (first, newest):
            return []
        self._zones_seen = (first, newest)
        times = [tb for tb, _ in self._beat_hr]  # in time order (beats arrive in order)
        hr_by_second: list[tuple[int, float | None]] = []
        for s in range(first, newest + 1):
            recent = [h for _, h in self._beat_hr[bisect_right(times, s - HR_MEDIAN_S):bisect_right(times, s)]]
            hr_by_second.append((s, median(recent) if recent else None))
        return self.person.peek_zone_changes(hr_by_second)


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
                if heart is not None:
                    self.provisional[who] = ProvisionalTier(heart, pp)
        self.provisional_events = ProvisionalEvents() if self.provisional else None
        self.dyad_estimators = registry.dyad_estimators(list(self.participants), self.config)
        self._rows: dict[str, dict[int, dict[str, Any]]] = {p: {} for p in self.participants}
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
        if tier is not None and chunk.kind in HEART_KINDS:
            out.provisional.extend(tier.update(chunk))
        if self.provisional_events is not None:
            # settle against the final events first: a change the final tier just made is not
            # proposed again (the provisional seconds start after the newest final row)
            out.event_updates += self.provisional_events.settle(out.events[n_events:], self._final_upto())
            if tier is not None and chunk.kind in HEART_KINDS:
                out.event_updates += self.provisional_events.propose(tier.zone_events())

    def _final_upto(self) -> dict[str | None, int]:
        """Each person's newest final second."""
        return {who: pp._emitted for who, pp in self.participants.items()}

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
        for t in range(self._dyad_emitted + 1, upto + 1):
            rows_t = {p: self._rows[p].pop(t, {}) for p in self._rows}
            drow: dict[str, Any] = dict.fromkeys(DYAD_COLUMNS)
            drow.update(t_s=t, utc=utc_iso(self.utc0, t))
            for est in self.dyad_estimators:
                added, evs = est.update(t, rows_t)
                drow.update(added)
                out.events.extend(evs)
            out.dyad.append(drow)
        self._dyad_emitted = max(self._dyad_emitted, upto)
