"""Provisional events for live viewers: pushed on provisional evidence, then confirmed or withdrawn.

Issue #15, item 3 ("events as early as the evidence"). A zone change is pushed the second its
rule is met on provisional data (:meth:`.tolerance.ToleranceEstimator.peek_zone_changes` over
the seconds the provisional tier has and the final tier has not yet finished), marked
provisional, and later settled against the final events:

- **confirmed** when the final tier emits a matching event: same ``kind``, ``participant`` and
  ``label`` (the zone change ``old -> new``), its ``t_start`` within :data:`MATCH_TOLERANCE_S` of
  the provisional one (the nearest if several);
- **withdrawn** when the person's final rows reached the provisional event's time plus
  :data:`MATCH_TOLERANCE_S` (the look-ahead) without such a match, or when the session ended
  first.

Dyad events (rupture, repair, co-regulation and therapist candidates, :mod:`.provisional_dyad`)
go through the same tracker (one ``pid`` sequence per session) with their own deadline: their
``t_start`` is dated back from the second their rule was met, often by a minute, so they are
withdrawn when the *dyad's* final rows (key ``None`` of ``final_upto``; also for the therapist's
spell, which names its participant) passed that second by :data:`DYAD_SETTLE_S`
without a match, unless the final tier holds a matching candidate open (``held`` of :meth:`settle`):
then the final event comes when the candidate closes.

The final events are never touched: they are what the recorder keeps and what ``analyze`` gives.
A withdrawn provisional event is kept by the recorder apart, as an audit record
(``withdrawn_event`` table). The tracker is pure and deterministic: the same provisional
proposals and final events, in the same order, give the same updates.

Why the tolerance is 10 s: the provisional ``hr`` component is the median of the newest beats
before artefact correction and the other components are held at the newest final row, so a
provisional crossing of a 30-s sustain can land some seconds off the final one (0-1 s on the
simulator: ``bench/RESULTS.md``, "Provisional zone events at the viewer"); 10 s is a third of the
default sustain, so two calls of the same change closer than that are taken for one. It also sets
how long a wrong provisional event stays up: until the final rows are 10 s past it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Iterable, Mapping

from .base import Event

#: Event kinds that may be pushed provisionally: the tolerance estimator's zone changes.
ZONE_EVENT_KINDS = frozenset({"leave_window", "return_window", "zone_change"})
#: Largest distance (s) between a provisional event and the final one that confirms it; also the
#: look-ahead past the provisional event's time after which, without a match, it is withdrawn.
MATCH_TOLERANCE_S = 10.0
#: Dyad event kinds that may be pushed provisionally (:mod:`.provisional_dyad`).
DYAD_EVENT_KINDS = frozenset({"rupture_candidate", "repair_candidate", "co_regulation", "therapist_dysregulated"})
#: Final dyad seconds past the second a dyad event's rule was met on provisional data after
#: which, without a matching final event (or a matching candidate held open), it is withdrawn.
DYAD_SETTLE_S = 30.0


class EventState(StrEnum):
    """Where a provisional event stands (the ``state`` of its updates on the wire)."""

    PROVISIONAL = "provisional"  # pushed on provisional evidence, not settled yet
    CONFIRMED = "confirmed"  # a final event matched it
    WITHDRAWN = "withdrawn"  # the final data passed it without a match


@dataclass
class EventUpdate:
    """One step in a provisional event's life.

    Attributes
    ----------
    pid : int
        The provisional event's number in the session (1, 2, ...), the same in all its updates.
    state : EventState
        What happened to it.
    event : Event
        The event as proposed on provisional evidence.
    final : Event or None
        The final event that confirmed it (``confirmed`` only).
    final_upto_s : int or None
        How far the person's (a dyad event: the dyad's) final rows had come when it was settled
        (session seconds).
    due_s : float or None
        The final second at which, without a match, it is withdrawn (``t_start`` + the tolerance
        for a zone change; the second its rule was met + ``DYAD_SETTLE_S`` for a dyad event).
    """

    pid: int
    state: EventState
    event: Event
    final: Event | None = None
    final_upto_s: int | None = None
    due_s: float | None = None

    def to_dict(self, final_id: int | None = None) -> dict[str, Any]:
        """The wire/record form; ``final_id`` is the confirming event's id in the session file."""
        return {"pid": self.pid, "state": str(self.state), "event": self.event.to_dict(),
                "final_id": final_id, "final_t_start": None if self.final is None else self.final.t_start,
                "final_upto_s": self.final_upto_s, "tolerance_s": MATCH_TOLERANCE_S, "due_s": self.due_s}


def _key(e: Event) -> tuple[str, str | None, str]:
    return e.kind, e.participant, e.label


@dataclass
class Pending:
    """A provisional event not settled yet, and whose final rows settle it by when."""

    pid: int
    event: Event
    clock: str | None  # whose final rows count: the person's, or None for the dyad's
    due_s: float  # withdrawn once ``final_upto[clock]`` reaches this without a match


class ProvisionalEvents:
    """The session's provisional events not yet settled, and the rules that settle them.

    Parameters
    ----------
    tolerance_s : float
        :data:`MATCH_TOLERANCE_S` unless a test asks otherwise.
    kinds : frozenset of str
        Event kinds handled (:data:`ZONE_EVENT_KINDS`, with :data:`DYAD_EVENT_KINDS` when the dyad's
        events are proposed too); final events of other kinds are ignored.
    dyad_settle_s : float
        :data:`DYAD_SETTLE_S`: a dyad event's deadline after the second its rule was met.
    """

    def __init__(self, tolerance_s: float = MATCH_TOLERANCE_S, kinds: frozenset[str] = ZONE_EVENT_KINDS,
                 dyad_settle_s: float = DYAD_SETTLE_S) -> None:
        self.tolerance_s = tolerance_s
        self.kinds = kinds
        self.dyad_settle_s = dyad_settle_s
        self.pending: list[Pending] = []
        self._next_pid = 1

    def _near(self, e: Event, candidates: Iterable[Pending]) -> Pending | None:
        """The candidate of the same kind, person and label nearest in time, within the tolerance."""
        same = [(abs(p.event.t_start - e.t_start), p.pid, p) for p in candidates
                if _key(p.event) == _key(e) and abs(p.event.t_start - e.t_start) <= self.tolerance_s]
        if not same:
            return None
        return min(same, key=lambda x: (x[0], x[1]))[2]

    def propose(self, events: Iterable[Event], met_s: Iterable[int] | None = None) -> list[EventUpdate]:
        """Events found on provisional evidence: new ones are pushed, known ones (the same change
        within the tolerance of a pending one) are not pushed again.

        Parameters
        ----------
        events : iterable of Event
            The events the rules made on provisional data.
        met_s : iterable of int, optional
            For dyad events: the second each one's rule was met (its deadline runs on the dyad's
            final rows from there). Without it, each event's deadline is its ``t_start`` plus the
            tolerance on its person's final rows (zone changes).
        """
        events = list(events)
        dyad = met_s is not None
        met = list(met_s) if met_s is not None else [None] * len(events)
        out = []
        for e, m in zip(events, met):
            if e.kind not in self.kinds or self._near(e, self.pending) is not None:
                continue
            pid, self._next_pid = self._next_pid, self._next_pid + 1
            due = float(m) + self.dyad_settle_s if dyad else e.t_start + self.tolerance_s
            self.pending.append(Pending(pid, e, None if dyad else e.participant, due))
            out.append(EventUpdate(pid, EventState.PROVISIONAL, e, due_s=due))
        return out

    def settle(self, final_events: Iterable[Event], final_upto: Mapping[str | None, int],
               held: Iterable[Event] = ()) -> list[EventUpdate]:
        """Confirm the pending events that ``final_events`` match, then withdraw those whose final
        rows (``final_upto``: person -> newest final second, ``None`` -> the dyad's) passed their
        deadline, except those matching a candidate the final tier holds open (``held``)."""
        out = []
        for f in final_events:
            if f.kind not in self.kinds:
                continue
            hit = self._near(f, self.pending)
            if hit is not None:
                self.pending.remove(hit)
                out.append(EventUpdate(hit.pid, EventState.CONFIRMED, hit.event, f,
                                       final_upto.get(hit.clock), hit.due_s))
        holding = [Pending(0, h, None, 0.0) for h in held]  # as candidates for _near
        keep = []
        for p in self.pending:
            upto = final_upto.get(p.clock)
            if upto is not None and upto >= p.due_s and self._near(p.event, holding) is None:
                out.append(EventUpdate(p.pid, EventState.WITHDRAWN, p.event, None, upto, p.due_s))
            else:
                keep.append(p)
        self.pending = keep
        return out

    def finish(self, final_events: Iterable[Event], final_upto: Mapping[str | None, int]) -> list[EventUpdate]:
        """End of the session: settle against the last final events, withdraw what is left."""
        out = self.settle(final_events, final_upto)
        out += [EventUpdate(p.pid, EventState.WITHDRAWN, p.event, None, final_upto.get(p.clock), p.due_s)
                for p in self.pending]
        self.pending = []
        return out
