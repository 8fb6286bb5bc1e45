"""Dyad events on provisional data: rupture, repair, co-regulation and therapist candidates pushed
before the final rows.

Issue #15, item 3. The dyad's rules (:mod:`.dyad`, :mod:`.dyad_events`) read both people's finished
rows, so a final dyad second waits for the slower person's final row (8-15 s behind the data with
ECG input). :class:`ProvisionalDyad` steps a copy of the final :class:`~.dyad.DyadPipeline` over the
seconds after its newest one, fed with each person's row where it is final already and otherwise
with a provisional row made of the person's provisional tier (:class:`~.provisional_tier.ProvisionalTier`):

- ``hr_inst_bpm``: the mean provisional beat-level HR of the beats in ``(s - 1, s]`` (the final
  rule of :mod:`.heart`), the previous second's held for one second without a beat;
- ``arousal``: :meth:`~.tolerance.ToleranceEstimator.peek` with the ``hr`` component the median of
  the provisional HR over ``HR_MEDIAN_S`` up to ``s`` and the early columns up to ``s``;
- ``zone``: the person's final zone, changed at the seconds
  :meth:`~.tolerance.ToleranceEstimator.peek_zone_changes` finds (the provisional zone events);
- the early seconds' columns (voice, skin conductance, movement: :mod:`.pipeline`), final values
  early.

What the copy emits in those seconds is proposed to :class:`~.provisional_events.ProvisionalEvents`
with the second its rule was met, and so is a candidate the moment it *opens*
(:meth:`~.dyad.DyadPipeline.open_candidates`): a rupture when its rule is met, a therapist spell
(``therapist_dysregulated``) once sustained with the dyadic evidence met so far (the client out
of the window too, or leading a significant synchrony, for half of it); the final events of both
are written when they close. A repair and a co-regulation are pushed when their rule is met (their
final events are written then). The copy is thrown away; the final pipeline is only read
(:meth:`~.dyad.DyadPipeline.rules_copy`), so final rows and events are the same with or without this
tier. Deterministic: a function of the final state and the provisional values received so far.

Cost. The copy leaves out the synchrony of the signals the rupture and repair rules do not read
(vocal, motion) unless the co-regulation or therapist rule could fire in the seconds evaluated,
which read ``sync_significant`` and ``leader`` over all signals: a co-regulation watch whose
client's return is confirmed already or in the rows about to be stepped
(:meth:`~.dyad.DyadPipeline.coregulation_ahead`; the rule decides only after the return), or the
therapist's out-of-window run under way (:meth:`~.dyad.DyadPipeline.therapist_active`) or their
zone out in those rows (:meth:`ProvisionalDyad._synchrony_read`). A whole copy made at an evaluation
serves the next ones where a cheap one would do (the same rupture and repair events), so the gate
shutting again costs no fresh copy. Without an upper bound of either
(:meth:`~.dyad.DyadPipeline.coregulation_possible`, the zones out as :meth:`ProvisionalDyad._rows`
would make them), and while no client episode is open or building up
(:meth:`~.dyad.DyadPipeline.quiet`) and no provisional second of the client is dysregulated, nothing
is evaluated: no candidate can come then, and most of a session is spent so. A person's zone in
the provisional seconds comes from the tier's zone peeker, which its own provisional zone events
resumed already (:meth:`~.provisional_tier.ProvisionalTier.zone_changes_between`). The copy of one
evaluation is kept and stepped further at the next while the final dyad has not moved and the rows
it stepped are unchanged (:class:`_SteppedCopy`): the same events as a fresh copy, without copying
and re-stepping every second (the final tier advances in bursts, e.g. 8-s ECG blocks); a fresh copy
steps its dozen or so seconds' synchrony all at once (:meth:`~.dyad.DyadPipeline.updates`). The rows
of the provisional seconds (about 14 per person at each evaluation, of which about 3 new) are those
the previous evaluation made where their inputs are the same (:meth:`ProvisionalDyad._rows`; about
6 in 10 with ECG input), and a second's arousal is computed again only when its inputs changed (the
tolerance's :meth:`~.tolerance.ToleranceEstimator.peek` keeps its answers until the final tier moves).

The copy's synchrony is tested against the surrogate null of the newest final dyad second, frozen
(:meth:`~.surrogates.SurrogateSynchrony.freeze_null`): its effect sizes and ``p`` are the genuine peak's
(the same floats as the final tier's on the same rows) against the pool of the last ``pool_size``
surrogate peaks up to that second, which the dozen seconds stepped would have grown by 20 peaks each
(2 % of a full pool). So a copy computes the genuine pairing only, not the 20 pseudo-pairs. It is the one
approximation of the copy beyond its provisional rows: over the simulator's sessions the provisional
dyad events pushed, confirmed and withdrawn, and when, are the same as with a growing pool; only their
evidence differs (synchrony levels, and the seconds a co-regulation counts as significant; bench/RESULTS.md,
"The provisional dyad's null frozen").

Settling (:mod:`.provisional_events`): confirmed by a final event of the same kind within
``MATCH_TOLERANCE_S`` of its ``t_start``; withdrawn when the final dyad rows passed the second its
rule was met by :data:`~.provisional_events.DYAD_SETTLE_S` without one, unless the final tier has a
matching candidate open (a rupture or a therapist spell), which keeps it pending until that
candidate closes.
"""

from __future__ import annotations

from typing import Any, Mapping

from .base import Event
from .dyad_events import DYSREGULATED
from .provisional_events import DYAD_EVENT_KINDS

#: The dyad event kinds whose rules read the whole synchrony (``sync_significant``, ``leader``),
#: which :meth:`~.dyad.DyadPipeline.rules_copy` keeps only when asked to.
SYNCHRONY_KINDS = frozenset({"co_regulation", "therapist_dysregulated"})

#: Provisional seconds past the newest final dyad second evaluated, at most (as for zone events).
MAX_AHEAD_S = 60


def _same(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are the same value bit for bit: the same object, or equal strings, or
    equal floats other than zero (``0.0 == -0.0``); anything else is taken as different."""
    if a is b:
        return True
    kind = type(a)
    return kind is type(b) and (kind is str or kind is float and a != 0.0) and a == b


class _SteppedCopy:
    """A copy of the final dyad estimator stepped over provisional seconds, and what it emitted.

    Stepping is deterministic, so the copy made at the newest final dyad second ``dyad_upto`` and
    stepped over the same seconds' rows is in the state a fresh copy stepped over them would be:
    while the final tier has not moved and the rows already stepped are unchanged, the next
    evaluation only steps the new seconds (most evaluations: the final tier advances in bursts,
    e.g. 8-s ECG blocks, the provisional seconds every second), and gives the same events.
    """

    def __init__(self, dyad_upto: int, synchrony: bool, probe: Any):
        self.dyad_upto = dyad_upto
        self.synchrony = synchrony
        self.probe = probe
        self.seconds: list[dict[str, dict[str, Any]]] = []  # rows stepped, from dyad_upto + 1 on
        self.events: list[tuple[Event, int]] = []  # every event emitted, with the second its rule was met
        # (kind, t_start) of the candidates open after the newest second stepped: the copy changes
        # only in step, so they are the ones open before the next second (None: not asked yet)
        self._open: set[tuple[str, float]] | None = None

    def continues(self, dyad_upto: int, synchrony: bool, seconds: list[dict[str, dict[str, Any]]]) -> bool:
        """Whether this copy, stepped further over ``seconds[len(self.seconds):]``, gives the events a
        fresh one stepped over ``seconds`` would give: a whole copy (``synchrony``) serves where a
        cheap one would do, as it gives the same rupture and repair events
        (:meth:`~.dyad.DyadPipeline.rules_copy`), but not the other way round."""
        return (dyad_upto == self.dyad_upto and (self.synchrony or not synchrony) and len(seconds) >= len(self.seconds)
                and seconds[:len(self.seconds)] == self.seconds)

    def step(self, seconds: list[dict[str, dict[str, Any]]]) -> None:
        """Step over the seconds not stepped yet (rows from ``dyad_upto + 1`` on), their synchrony
        all at once (:meth:`~.dyad.DyadPipeline.updates`: a fresh copy steps a dozen seconds)."""
        new = seconds[len(self.seconds):]
        if new and self._open is None:
            self._open = {(e.kind, e.t_start) for e in self.probe.open_candidates()}
        t = self.dyad_upto + 1 + len(self.seconds)
        for rows, (_, evs) in zip(new, self.probe.updates(t, new)):
            now = self.probe.open_candidates()
            evs += [e for e in now if (e.kind, e.t_start) not in self._open]  # type: ignore[operator]
            self._open = {(e.kind, e.t_start) for e in now}
            self.events += [(e, t) for e in evs]
            self.seconds.append(rows)
            t += 1


class ProvisionalDyad:
    """Runs the dyad's event rules on the provisional tiers of both people (module docstring).

    Parameters
    ----------
    dyad : DyadPipeline
        The final dyad estimator; copied, never written.
    tiers : mapping
        Participant -> its :class:`~.provisional_tier.ProvisionalTier` (read).
    final_rows : mapping
        Participant -> {second: final row} of the rows waiting for the other person's (read).
    """

    def __init__(self, dyad: Any, tiers: Mapping[str, Any], final_rows: Mapping[str, Mapping[int, dict[str, Any]]]):
        self.dyad = dyad
        self.people = (dyad.client, dyad.therapist)
        self.tiers = tiers
        self.final_rows = final_rows
        self._seen: int | None = None  # the newest horizon evaluated
        self._run: _SteppedCopy | None = None  # the newest evaluation's copy, reused when it still holds
        #: what this evaluation asked of the tiers (_early, _provisional): within one evaluation their
        #: inputs do not change, so each answer is asked once and read by every method that needs it
        self._asked: dict[tuple[Any, ...], Any] = {}
        #: participant -> (the newest final row, {second: (hr, hr_inst_bpm, zone, row)}): the provisional
        #: rows :meth:`_rows` made after that row, kept for the next evaluation (:meth:`_rows`)
        self._made: dict[str, tuple[Mapping[str, Any], dict[int, tuple[Any, ...]]]] = {}

    def horizon(self) -> int | None:
        """The newest second both people have data for, final or provisional (None: not yet)."""
        ends = []
        for who in self.people:
            tier = self.tiers.get(who)
            if tier is None:
                return None
            newest = tier.newest_second
            ends.append(max(tier.person.final_upto, newest if newest is not None else 0))
        return min(ends)

    def events(self, dyad_upto: int) -> tuple[list[Event], list[int]]:
        """The dyad events the rules make over the seconds after ``dyad_upto`` (the newest final
        dyad second), and the second each rule was met; empty unless a new second of data arrived.

        Returns
        -------
        events : list of Event
            Dyad candidates (:data:`~.provisional_events.DYAD_EVENT_KINDS`) as the copy emits them,
            and rupture candidates and therapist spells as they open (``t_end`` None); without the
            whole synchrony in the copy, no co-regulation or therapist event.
        met_s : list of int
            The second each event's rule was met (the deadline of :mod:`.provisional_events` runs
            from there).
        """
        end = self.horizon()
        # once per new second of data (the final tier catching up alone changes little: the next
        # second re-evaluates from its newest state)
        if end is None or end <= dyad_upto or end - dyad_upto > MAX_AHEAD_S or self._seen is not None and end <= self._seen:
            return [], []
        self._seen = end
        self._asked = {}
        first = dyad_upto + 1
        # an upper bound of the gate below, known before the rows are made
        therapist = self.dyad.therapist_active()
        coregulation = self.dyad.coregulation_possible(end - dyad_upto)
        may_read_synchrony = therapist or coregulation or self._out_ahead(self.dyad.therapist, first, end)
        if (not may_read_synchrony and self.dyad.quiet(self._client_pauses(first, end))
                and not self._out_ahead(self.dyad.client, first, end)):
            return [], []  # no episode can begin in these seconds: nothing to evaluate (DyadPipeline.quiet)
        rows = {who: self._rows(who, first, end) for who in self.people}
        seconds = [{who: rows[who].get(t, {}) for who in self.people} for t in range(first, end + 1)]
        # the whole synchrony only when the rules that read it can fire in these rows (rules_copy)
        synchrony = may_read_synchrony and self._synchrony_read(therapist, coregulation, seconds)
        kinds = DYAD_EVENT_KINDS if synchrony else DYAD_EVENT_KINDS - SYNCHRONY_KINDS
        run = self._run
        if run is None or not run.continues(dyad_upto, synchrony, seconds):
            run = self._run = _SteppedCopy(dyad_upto, synchrony, self.dyad.rules_copy(synchrony))
        run.step(seconds)
        met = [(e, t) for e, t in run.events if e.kind in kinds]
        return [e for e, _ in met], [t for _, t in met]

    def _synchrony_read(self, therapist: bool, coregulation: bool, seconds: list[dict[str, dict[str, Any]]]) -> bool:
        """Whether the co-regulation or the therapist rule can fire over the rows ``seconds``: the two
        rules that read the whole synchrony (``sync_significant``, ``leader``).

        Exact gates, so that a copy without the whole synchrony gives the same events of the kinds
        kept: the therapist rule opens a spell only on a dysregulated zone of the therapist, unless
        its run or spell is under way already (``therapist``, :meth:`~.dyad.DyadPipeline.therapist_active`);
        the co-regulation rule decides only after the client's return is confirmed, which a watch
        (``coregulation``, :meth:`~.dyad.DyadPipeline.coregulation_possible`) has already or gets
        in these rows (:meth:`~.dyad.DyadPipeline.coregulation_ahead`). Rupture and repair read the
        level of the event signals only, which both copies compute alike.
        """
        if therapist:
            return True
        if any(rows[self.dyad.therapist].get("zone") in DYSREGULATED for rows in seconds):
            return True
        return coregulation and self.dyad.coregulation_ahead(rows[self.dyad.client].get("zone") for rows in seconds)

    def _client_pauses(self, first: int, last: int) -> list[float | None]:
        """The client's ``pause_ratio`` of each second of ``[first, last]`` (None where unknown), as
        :meth:`_rows` would make them (final rows, then the early columns)."""
        final = self.final_rows.get(self.dyad.client, {})
        early = self._early(self.dyad.client, last)
        return [(final[t] if t in final else early.get(t, {})).get("pause_ratio") for t in range(first, last + 1)]

    def _out_ahead(self, who: str, first: int, last: int) -> bool:
        """Whether one of the seconds ``[first, last]`` could have the person's zone out of the
        window, as :meth:`_rows` would make them (final rows, then the newest final zone with the
        provisional zone changes after it, :meth:`_provisional`)."""
        tier = self.tiers[who]
        person = tier.person
        final = self.final_rows.get(who, {})
        if any(final[t].get("zone") in DYSREGULATED for t in range(first, last + 1) if t in final):
            return True
        start = max(first, person.final_upto + 1)
        if start > last or person.last_row is None:
            return False
        if person.last_row.get("zone") in DYSREGULATED:
            return True
        return any(e.label.split(" -> ")[-1] in DYSREGULATED for e in self._provisional(who, start, last)[1])

    def _early(self, who: str, last: int) -> dict[int, dict[str, Any]]:
        """The person's early seconds' columns from the second after their newest final row to
        ``last`` (:meth:`~.provisional_tier.ProvisionalTier.early_columns`), asked once per evaluation."""
        key = ("early", who, last)
        early = self._asked.get(key)
        if early is None:
            tier = self.tiers[who]
            early = self._asked[key] = tier.early_columns(tier.person.final_upto + 1, last)
        return early

    def _provisional(self, who: str, start: int, last: int) -> tuple[list[tuple[int, float | None]], list[Event]]:
        """The person's provisional HR by second over ``[start, last]`` (``start``: the second after
        the newest final row or later) and their provisional zone changes there, asked once per
        evaluation: :meth:`_out_ahead` and :meth:`_rows` read the same. The zone changes come from
        the tier's peeker, which resumes where the inputs are unchanged
        (:meth:`~.provisional_tier.ProvisionalTier.zone_changes_between`), given the HR asked here."""
        key = (who, start, last)
        got = self._asked.get(key)
        if got is None:
            tier = self.tiers[who]
            hr = tier.hr_by_second(start, last)
            got = self._asked[key] = hr, tier.zone_changes_between(start, last, self._early(who, last), hr)
        return got

    def _rows(self, who: str, first: int, last: int) -> dict[int, dict[str, Any]]:
        """The person's rows of ``[first, last]``: final where they are, provisional after.

        A provisional row is the one the previous evaluation made for its second when its inputs are
        the same: the same newest final row (the arousal's state: the tolerance's
        :meth:`~.tolerance.ToleranceEstimator.peek` keeps its answers on that too), no early column
        up to it (the arousal's other inputs and the row's own columns: none), and the same ``hr``,
        ``hr_inst_bpm`` and zone (:func:`_same`). Each second is made
        a dozen times while it stays provisional; most are the same each time. The rows are read,
        never written (:meth:`~.dyad.DyadPipeline.updates`), so they are handed out as they are (the
        final ones copied), and a stepped copy compares the ones it kept by identity first.
        """
        tier = self.tiers[who]
        person = tier.person
        final = self.final_rows.get(who, {})
        # copies: a stepped copy keeps its rows to compare (_SteppedCopy), and a final row is the pipeline's
        rows = {t: dict(final[t]) for t in range(first, last + 1) if t in final}
        start = max(first, person.final_upto + 1)
        last_row = person.last_row
        if start > last or last_row is None:
            return rows
        zone = last_row.get("zone")
        early = self._early(who, last)
        hr_by_second, zone_changes = self._provisional(who, start, last)
        changes = {int(e.t_start): e.label.split(" -> ")[-1] for e in zone_changes}
        newer: dict[str, Any] = {}
        for t in range(person.final_upto + 1, start):
            newer.update(early.get(t, {}))
        made = self._made.get(who)
        if made is None or made[0] is not last_row:
            made = self._made[who] = (last_row, {})
        before = made[1]
        inst = last_row.get("hr_inst_bpm")
        for t, hr in hr_by_second:
            columns = early.get(t)
            if columns:
                newer.update(columns)
            beats = tier.beat_hr_between(t - 1, t)
            inst = sum(beats) / len(beats) if beats else (inst if tier.beat_hr_between(t - 2, t) else None)
            zone = changes.get(t, zone)
            known = before.get(t)
            if known is not None and not newer and _same(known[0], hr) and _same(known[1], inst) and _same(known[2], zone):
                rows[t] = known[3]
                continue
            rows[t] = row = {"t_s": t, "participant": who, **(columns or {}), "hr_inst_bpm": inst,
                             "arousal": (person.peek_arousal(hr, dict(newer)) or {}).get("arousal"), "zone": zone}
            if not newer:
                before[t] = (hr, inst, zone, row)
        return rows
