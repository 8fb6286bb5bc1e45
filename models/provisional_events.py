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
        How far the person's final rows had come when it was settled (session seconds).
    """

    pid: int
    state: EventState
    event: Event
    final: Event | None = None
    final_upto_s: int | None = None

    def to_dict(self, final_id: int | None = None) -> dict[str, Any]:
        """The wire/record form; ``final_id`` is the confirming event's id in the session file."""
        return {"pid": self.pid, "state": str(self.state), "event": self.event.to_dict(),
                "final_id": final_id, "final_t_start": None if self.final is None else self.final.t_start,
                "final_upto_s": self.final_upto_s, "tolerance_s": MATCH_TOLERANCE_S}


def _key(e: Event) -> tuple[str, str | None, str]:
    return e.kind, e.participant, e.label


class ProvisionalEvents:
    """The session's provisional events not yet settled, and the rules that settle them.

    Parameters
    ----------
    tolerance_s : float
        :data:`MATCH_TOLERANCE_S` unless a test asks otherwise.
    kinds : frozenset of str
        Event kinds handled (:data:`ZONE_EVENT_KINDS`); final events of other kinds are ignored.
    """

    def __init__(self, tolerance_s: float = MATCH_TOLERANCE_S, kinds: frozenset[str] = ZONE_EVENT_KINDS) -> None:
        self.tolerance_s = tolerance_s
        self.kinds = kinds
        self.pending: list[tuple[int, Event]] = []
        self._next_pid = 1

    def _near(self, e: Event, candidates: Iterable[tuple[int, Event]]) -> tuple[int, Event] | None:
        """The candidate of the same kind, person and label nearest in time, within the tolerance."""
        same = [(abs(p.t_start - e.t_start), pid, p) for pid, p in candidates
                if _key(p) == _key(e) and abs(p.t_start - e.t_start) <= self.tolerance_s]
        if not same:
            return None
        _, pid, p = min(same, key=lambda x: (x[0], x[1]))
        return pid, p

    def propose(self, events: Iterable[Event]) -> list[EventUpdate]:
        """Events found on provisional evidence: new ones are pushed, known ones (the same change
        within the tolerance of a pending one) are not pushed again."""
        out = []
        for e in events:
            if e.kind not in self.kinds or self._near(e, self.pending) is not None:
                continue
            pid, self._next_pid = self._next_pid, self._next_pid + 1
            self.pending.append((pid, e))
            out.append(EventUpdate(pid, EventState.PROVISIONAL, e))
        return out

    def settle(self, final_events: Iterable[Event], final_upto: Mapping[str | None, int]) -> list[EventUpdate]:
        """Confirm the pending events that ``final_events`` match, then withdraw those whose
        person's final rows (``final_upto``: person -> newest final second) passed them by the
        tolerance."""
        out = []
        for f in final_events:
            if f.kind not in self.kinds:
                continue
            hit = self._near(f, self.pending)
            if hit is not None:
                self.pending.remove(hit)
                out.append(EventUpdate(hit[0], EventState.CONFIRMED, hit[1], f, final_upto.get(f.participant)))
        keep = []
        for pid, e in self.pending:
            upto = final_upto.get(e.participant)
            if upto is not None and upto >= e.t_start + self.tolerance_s:
                out.append(EventUpdate(pid, EventState.WITHDRAWN, e, None, upto))
            else:
                keep.append((pid, e))
        self.pending = keep
        return out

    def finish(self, final_events: Iterable[Event], final_upto: Mapping[str | None, int]) -> list[EventUpdate]:
        """End of the session: settle against the last final events, withdraw what is left."""
        out = self.settle(final_events, final_upto)
        out += [EventUpdate(pid, EventState.WITHDRAWN, e, None, final_upto.get(e.participant)) for pid, e in self.pending]
        self.pending = []
        return out
