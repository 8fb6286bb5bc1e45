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

Live viewers also get a *provisional* tier (issue #15), with ``provisional=True``: one
:class:`~.provisional_tier.ProvisionalTier` per person (its module docstring says what it computes),
and :class:`~.provisional_dyad.ProvisionalDyad` for the dyad's events. The final rows are the same
with or without them, and ``analyze`` leaves them off.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..sensors.chunk import Chunk, StreamInfo
from .base import Event, RowEstimator, StreamEstimator
from .columns import DYAD_COLUMNS, FEATURE_COLUMNS
from .config import PipelineConfig
from .provisional_dyad import ProvisionalDyad
from .provisional_events import DYAD_EVENT_KINDS, ZONE_EVENT_KINDS, EventUpdate, ProvisionalEvents
from .provisional_tier import ProvisionalTier
from .registry import AUDIO_KINDS, DEFAULT_REGISTRY, HEART_KINDS, Registry


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
    #: provisional values for viewers, never recorded as features (:mod:`.provisional_tier`)
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
        heart = tier is not None and chunk.kind in HEART_KINDS
        if heart:
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
            # and change nothing), nor without final news (_final_news), so the final clocks and
            # the open candidates are not asked then
            final_events = out.events[n_events:]
            if self.provisional_events.pending and self._final_news(rows, final_events):
                # the final tier's open candidates hold pending dyad events
                held = self.provisional_dyad.dyad.open_candidates(held=True) \
                    if self.provisional_dyad is not None else []
                out.event_updates += self.provisional_events.settle(final_events, self._final_upto(), held)
            # early seconds (voice, skin conductance, movement) may move the hypo corroboration on their own
            # (proposing nothing changes nothing: not asked then)
            if tier is not None and (heart or early) and self._news(beats, early, rows):
                zone_changes = tier.zone_events()
                if zone_changes:
                    out.event_updates += self.provisional_events.propose(zone_changes)
                if self.provisional_dyad is not None:
                    dyad_events, met_s = self.provisional_dyad.events(self._dyad_emitted)
                    if dyad_events:
                        out.event_updates += self.provisional_events.propose(dyad_events, met_s)

    @staticmethod
    def _news(beats: list, early: list, rows: list) -> bool:
        """Whether a chunk brought anything the provisional event rules read: provisional heart
        values, early seconds or final rows of its person. Without any, ``zone_events`` and the
        provisional dyad's ``events`` answer nothing (their inputs, the newest provisional and final
        seconds, are those of their previous call, which they remember), so they are not asked; e.g.
        a strap's RR chunks while the beats come from its ECG."""
        return bool(beats or early or rows)

    @staticmethod
    def _final_news(rows: list, final_events: list) -> bool:
        """Whether a chunk brought final rows or events (the dyad's rows come with a person's). Without
        any, settling changes nothing: the final clocks and the final dyad's open candidates are those
        of the previous settle, which kept what was pending then, and what was proposed since is due
        after the clocks it was proposed at (its second is after its final rows')."""
        return bool(rows or final_events)

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
