"""Provisional dyad events (issue #15, item 3): rupture, repair, co-regulation and therapist
candidates pushed on provisional data, confirmed or withdrawn by the final ones; the final tier
untouched. No threads, no sockets."""

from __future__ import annotations

from coregulate.models.base import Event
from coregulate.models.config import PipelineConfig
from coregulate.models.dyad import LABEL, DyadPipeline
from coregulate.models.pipeline import SessionPipeline
from coregulate.models.provisional_dyad import MAX_AHEAD_S, SYNCHRONY_KINDS, ProvisionalDyad
from coregulate.models.provisional_events import (
    DYAD_EVENT_KINDS, DYAD_SETTLE_S, MATCH_TOLERANCE_S, ZONE_EVENT_KINDS, EventState, ProvisionalEvents,
)
from coregulate.sensors.simulator import Simulator

RR = PipelineConfig(options={"heart": {"beat_sources": ["rr"]}})
#: what the cheap copy (DyadPipeline.rules_copy without synchrony) must get right
CHEAP_KINDS = DYAD_EVENT_KINDS - SYNCHRONY_KINDS


def _dyad(kind, t_start, t_end=None):
    return Event(kind=kind, t_start=float(t_start), t_end=t_end, label=LABEL)


def _tracker():
    return ProvisionalEvents(kinds=ZONE_EVENT_KINDS | DYAD_EVENT_KINDS)


def test_a_dyad_event_is_settled_on_the_dyads_final_rows_from_the_second_its_rule_was_met():
    tracker = _tracker()
    # a rupture dated back to 300 s, its rule met at 351 s: not due at t_start + the tolerance
    [pushed] = tracker.propose([_dyad("rupture_candidate", 300)], met_s=[351])
    assert pushed.state == EventState.PROVISIONAL and pushed.due_s == 351 + DYAD_SETTLE_S
    assert tracker.propose([_dyad("rupture_candidate", 300 + MATCH_TOLERANCE_S)], met_s=[352]) == []  # the same one
    # a person's final rows do not settle a dyad event; the dyad's (key None) do
    assert tracker.settle([], {"client": 900, "therapist": 900, None: 380}) == []
    [gone] = tracker.settle([], {None: 351 + int(DYAD_SETTLE_S)})
    assert (gone.pid, gone.state, gone.final_upto_s) == (pushed.pid, EventState.WITHDRAWN, 381)
    assert gone.to_dict()["due_s"] == 351 + DYAD_SETTLE_S


def test_a_rupture_the_final_tier_holds_open_stays_pending_until_its_final_event_confirms_it():
    tracker = _tracker()
    [pushed] = tracker.propose([_dyad("rupture_candidate", 300)], met_s=[351])
    open_final = _dyad("rupture_candidate", 302)
    # past the deadline, but the final tier has the matching candidate open: kept
    assert tracker.settle([], {None: 400}, held=[open_final]) == []
    # an open candidate that does not match (too far) holds nothing
    assert [u.state for u in tracker.settle([], {None: 401}, held=[_dyad("rupture_candidate", 340)])] == [EventState.WITHDRAWN]
    [pushed] = tracker.propose([_dyad("rupture_candidate", 300)], met_s=[402])
    tracker.settle([], {None: 460}, held=[open_final])
    # the candidate closes on the final tier: its event confirms the provisional one
    [done] = tracker.settle([_dyad("rupture_candidate", 302, 437.0)], {None: 461})
    assert (done.pid, done.state, done.final.t_start) == (pushed.pid, EventState.CONFIRMED, 302.0)
    # a repair confirms only a repair; the end of the session withdraws what is left
    tracker.propose([_dyad("repair_candidate", 433, 489.0)], met_s=[489])
    assert tracker.settle([_dyad("rupture_candidate", 433, 500.0)], {None: 495}) == []
    assert [u.state for u in tracker.finish([], {None: 500})] == [EventState.WITHDRAWN]


def _live(seed, duration, stop, provisional):
    """The simulator's RR beats through the pipeline up to ``stop`` s: final outputs, and the
    provisional dyad updates with the chunk index at which each arrived (final events likewise)."""
    sim = Simulator(seed=seed, duration_s=duration, audio=False)
    pipe = SessionPipeline(sim.streams, RR, sim.utc0, provisional=provisional)
    feats, dyad, events, updates, known = [], [], [], [], {}
    for i, chunk in enumerate(sim.chunks()):
        if chunk.start > stop:
            break
        out = pipe.update(chunk)
        feats += out.features
        dyad += out.dyad
        events += out.events
        known.update({(e.kind, e.t_start): i for e in out.events})
        updates += [(i, u) for u in out.event_updates if u.event.kind in DYAD_EVENT_KINDS]
    out = pipe.finish()
    return feats + out.features, dyad + out.dyad, events + out.events, updates, known


def test_ruptures_repairs_and_co_regulation_are_pushed_before_the_final_events_and_the_final_tier_is_untouched():
    # the whole session: its second episode ends in co-regulation (the simulator scripts no therapist spell)
    feats, dyad, events, updates, known = _live(2, 700, 700, provisional=True)
    plain = _live(2, 700, 700, provisional=False)
    assert (feats, dyad, events) == plain[:3]  # final rows, dyad rows and events: identical
    assert plain[3] == []  # no provisional tier (analyze): no provisional events
    pushed = {u.pid: (i, u) for i, u in updates if u.state == EventState.PROVISIONAL}
    confirmed = [(i, u) for i, u in updates if u.state == EventState.CONFIRMED]
    assert {u.event.kind for _, u in pushed.values()} == DYAD_EVENT_KINDS - {"therapist_dysregulated"}
    finals = [e for e in events if e.kind in DYAD_EVENT_KINDS]
    assert {(u.final.kind, u.final.t_start) for _, u in confirmed} == {(e.kind, e.t_start) for e in finals}
    for i, u in confirmed:
        at, first = pushed[u.pid]
        assert at < known[(u.final.kind, u.final.t_start)] == i  # pushed earlier; confirmed with the final event
        assert abs(u.final.t_start - first.event.t_start) <= MATCH_TOLERANCE_S
        if first.event.kind == "rupture_candidate":
            assert first.event.t_end is None  # pushed when it opened, long before it closed
    # deterministic: the same data in the same order give the same updates
    again = _live(2, 700, 700, provisional=True)[3]
    assert [(i, u.to_dict()) for i, u in again] == [(i, u.to_dict()) for i, u in updates]


def test_the_rules_copy_gives_the_whole_copys_ruptures_and_repairs_and_quiet_means_no_episode_under_way():
    from coregulate.models.dyad import DyadPipeline

    feats = _live(2, 700, 520, provisional=False)[0]
    rows = {}
    for r in feats:
        rows.setdefault(r["t_s"], {})[r["participant"]] = r
    dyad = DyadPipeline(["client", "therapist"], RR)
    quiet, compared = {}, set()
    for t in sorted(rows):
        dyad.update(t, rows[t])
        quiet[t] = dyad.quiet()
        if t % 5 == 0:  # from here on, the cheap copy and a whole one (the same frozen null) make the same candidates
            cheap, full = dyad.rules_copy(), dyad.rules_copy(synchrony=True)
            for s in range(t + 1, min(t + MAX_AHEAD_S, max(rows)) + 1):  # as far as copies are stepped
                a, b = cheap.update(s, rows[s])[1], full.update(s, rows[s])[1]
                assert [e for e in a if e.kind in CHEAP_KINDS] == [e for e in b if e.kind in CHEAP_KINDS]
                compared |= {e.kind for e in b if e.kind in CHEAP_KINDS}
    assert compared == CHEAP_KINDS  # both kinds came up in the compared stretches
    episode = [t for t in rows if dyad.counts and not quiet[t]]
    assert quiet[250] and episode and min(episode) > 300  # calm baseline: quiet; the scripted hyperarousal: not


def test_quiet_foresees_a_vocal_withdrawal_from_the_pause_ratios_ahead_as_update_would_judge_it():
    from coregulate.models.dyad import DyadPipeline

    dyad = DyadPipeline(["client", "therapist"])
    for t in range(1, 31):
        dyad.update(t, {"client": {"zone": "window", "pause_ratio": 0.5}, "therapist": {"zone": "window"}})
    assert dyad.quiet() and dyad.quiet([0.9] * 5)  # a mean of 0.57 over the level window: no withdrawal
    assert not dyad.quiet([1.0] * 20)  # (10 x 0.5 + 20 x 1.0) / 30 = 0.83 >= 0.8
    assert dyad.quiet([None] * 20)  # unknown seconds add nothing
    for t in range(31, 51):  # and update agrees: the same ratios make a vocally withdrawn client
        dyad.update(t, {"client": {"zone": "window", "pause_ratio": 1.0}, "therapist": {"zone": "window"}})
    assert not dyad.quiet()


# -- the therapist's spell, on scripted rows (the simulator scripts none) --------------------------


class _Person:
    """A participant's final tier reduced to what ProvisionalDyad reads: rows final up to ``final_upto``."""

    def __init__(self, who, rows):
        self.who, self.all_rows, self.final_upto = who, rows, 0

    @property
    def last_row(self):
        return self.all_rows[self.final_upto][self.who] if self.final_upto else None

    def peek_zone_changes(self, hr_by_second, newer=None):
        # a provisional tier that calls the zone right: the scripted changes
        zones = [(t, self.all_rows[t][self.who]["zone"]) for t, _ in hr_by_second]
        before = [self.last_row["zone"]] + [z for _, z in zones]
        return [Event(kind="zone_change", t_start=float(t), label=f"{old} -> {z}", participant=self.who)
                for (t, z), old in zip(zones, before) if z != old]

    def peek_arousal(self, hr, newer=None):
        return None


class _Tier:
    """A provisional tier whose beat-level HR is the scripted 1-s HR, ``ahead`` s past the final rows."""

    def __init__(self, who, rows, ahead):
        self.person, self.ahead = _Person(who, rows), ahead

    @property
    def newest_second(self):
        return self.person.final_upto + self.ahead

    def hr_by_second(self, first, last):
        return [(t, self.person.all_rows[t][self.person.who]["hr_inst_bpm"]) for t in range(first, last + 1)]

    def beat_hr_between(self, a, b):
        return [self.person.all_rows[int(b)][self.person.who]["hr_inst_bpm"]]

    def early_columns(self, first, last):
        return {}

    def zone_changes_between(self, first, last, newer=None, hr_by_second=None):
        return self.person.peek_zone_changes(hr_by_second or self.hr_by_second(first, last), newer)


def _scripted_live(client_zone, therapist_zone, coupled, n=700, ahead=12, seed=0):
    """Scripted rows through a final DyadPipeline a second at a time, each person's provisional tier
    ``ahead`` s past it: (final dyad events with the second they were known, provisional updates with
    the second they came, how many seconds the provisional copy evaluated)."""
    from test_dyad import scripted_rows

    from coregulate.models.dyad import DyadPipeline

    rows = dict(scripted_rows(n, coupled, client_zone, therapist_zone, seed=seed))
    dyad = DyadPipeline(["client", "therapist"])
    tiers = {who: _Tier(who, rows, ahead) for who in ("client", "therapist")}
    prov, tracker = ProvisionalDyad(dyad, tiers, {"client": {}, "therapist": {}}), _tracker()
    finals, updates, evaluated = [], [], 0
    copy_of = dyad.rules_copy

    def counted(*args):
        nonlocal evaluated
        evaluated += 1
        return copy_of(*args)

    dyad.rules_copy = counted
    for t in range(1, n - ahead + 1):
        evs = dyad.update(t, rows[t])[1]
        for tier in tiers.values():
            tier.person.final_upto = t
        finals += [(t, e) for e in evs if e.kind in DYAD_EVENT_KINDS]
        updates += [(t, u) for u in tracker.settle(evs, {None: t}, dyad.open_candidates(held=True))]
        updates += [(t, u) for u in tracker.propose(*prov.events(t))]
    evs = dyad.finish()[1]
    finals += [(n - ahead, e) for e in evs if e.kind in DYAD_EVENT_KINDS]
    updates += [(n - ahead, u) for u in tracker.finish(evs, {None: n - ahead})]
    return finals, updates, evaluated


def test_a_therapist_spell_is_pushed_when_it_opens_with_dyadic_evidence_and_confirmed_at_its_close():
    def client(t):
        return "hyper" if 400 <= t < 520 else "window"

    def therapist(t):
        return "hyper" if 420 <= t < 500 else "window"

    finals, updates, _ = _scripted_live(client, therapist, lambda t: True)
    [(known, final)] = [(t, e) for t, e in finals if e.kind == "therapist_dysregulated"]
    mine = [(t, u) for t, u in updates if u.event.kind == "therapist_dysregulated"]
    assert [u.state for _, u in mine] == [EventState.PROVISIONAL, EventState.CONFIRMED]
    (pushed_at, pushed), (confirmed_at, confirmed) = mine
    # open (t_end None) once sustained on the provisional rows, 12 s (the tier's lead) before the
    # final tier even opened it, and held open until the final event at the close (80 s later)
    assert pushed.event.t_end is None and pushed.event.participant == "therapist"
    assert pushed.event.t_start == final.t_start and pushed_at + 12 <= final.t_start + 10 < known
    assert confirmed_at == known and confirmed.final is final


def test_a_lone_therapist_spell_is_not_pushed_and_calm_seconds_are_not_evaluated():
    def therapist(t):
        return "hypo" if 420 <= t < 500 else "window"

    finals, updates, evaluated = _scripted_live(lambda t: "window", therapist, lambda t: False, seed=5)
    assert finals == [] and updates == []  # the client is calm and leads nothing: the zone change says it all
    # evaluated only while the therapist's zone is out or the run after it could reopen a spell
    assert 0 < evaluated <= (500 + 12 + 10) - (420 - 12) + 1


def test_an_open_therapist_spell_holds_its_provisional_event_until_its_close_decides():
    from test_dyad import scripted_rows

    from coregulate.models.dyad import DyadPipeline

    # the therapist out of the window from 420 s, the client calm and leading nothing: no dyadic evidence
    dyad = DyadPipeline(["client", "therapist"])
    for t, rows in scripted_rows(460, lambda t: False, lambda t: "window", lambda t: "hypo" if t >= 420 else "window", seed=5):
        dyad.update(t, rows)
    assert dyad.open_candidates() == []  # nothing to push
    [spell] = dyad.open_candidates(held=True)  # but a provisional one pushed on other evidence waits for the close
    assert (spell.kind, spell.participant, spell.t_start, spell.t_end) == ("therapist_dysregulated", "therapist", 420.0, None)
    assert dyad.therapist_active() and dyad.quiet()  # the client's rules have nothing to do; the therapist's do


def test_reusing_the_stepped_copy_gives_the_updates_fresh_copies_give_and_copies_less(monkeypatch):
    from coregulate.models import dyad, provisional_dyad

    copies = []
    rules_copy = dyad.DyadPipeline.rules_copy
    monkeypatch.setattr(dyad.DyadPipeline, "rules_copy", lambda self, *a: copies.append(1) or rules_copy(self, *a))
    reused = _live(2, 700, 700, provisional=True)[3]
    n_reused = len(copies)
    copies.clear()
    # a fresh copy stepped from the newest final dyad second at every evaluation (as before the reuse)
    monkeypatch.setattr(provisional_dyad._SteppedCopy, "continues", lambda self, *a: False)
    fresh = _live(2, 700, 700, provisional=True)[3]
    assert [(i, u.to_dict()) for i, u in reused] == [(i, u.to_dict()) for i, u in fresh]
    assert len(reused) > 0 and 0 < n_reused < len(copies) / 2, (n_reused, len(copies))


# -- the co-regulation gate: the whole synchrony only once the client's return can be read ---------


def _coregulation_episode(t):
    """Synchrony drops during the client's hyperarousal and comes back before the return: a
    rupture, a repair and a co-regulation (the return confirmed at 539 s, co-regulation at 540 s)."""
    return not 380 <= t < 470


def test_the_coregulation_gate_opens_exactly_when_the_rows_ahead_confirm_the_clients_return():
    import copy

    from test_dyad import hyper_zone, scripted_rows

    rows = dict(scripted_rows(620, _coregulation_episode, hyper_zone, lambda t: "window"))
    dyad = DyadPipeline(["client", "therapist"])
    seen, fired = set(), 0
    for t in range(1, 600):
        dyad.update(t, rows[t])
        if t < 500:
            continue
        ahead = [rows[s] for s in range(t + 1, t + 15)]
        # the scripted zones ahead, and variants: unknown seconds, a return cut short, a stay out
        variants = [ahead, [{**r, "client": {**r["client"], "zone": "unknown" if s % 3 else None}}
                            for s, r in enumerate(ahead)],
                    [{**r, "client": {**r["client"], "zone": "window" if s < 10 else "hyper"}} for s, r in enumerate(ahead)],
                    [{**r, "client": {**r["client"], "zone": "hyper"}} for r in ahead]]
        for seconds in variants:
            for n in (1, 9, 10, 11, 14):
                zones = [r["client"]["zone"] for r in seconds[:n]]
                gate = dyad.coregulation_ahead(zones)
                assert dyad.coregulation_ahead(zones) == gate  # reads only: the same answer again
                # the plain computation: a whole copy stepped over the rows, the return confirmed
                # at a second the co-regulation rule still steps after
                whole, returned, kinds = copy.deepcopy(dyad), False, []
                watched = whole._coreg.watch is not None
                returned = watched and whole._coreg.watch.return_s is not None
                for i, r in enumerate(seconds[:n]):
                    kinds += [e.kind for e in whole.update(t + 1 + i, r)[1]]
                    returned |= watched and whole._episodes.back and i < n - 1
                assert gate == returned, (t, n, zones)
                assert gate or "co_regulation" not in kinds  # shut: the rule cannot fire there
                assert not gate or dyad.coregulation_possible(n)  # the old gate is an upper bound
                seen.add(gate)
                fired += "co_regulation" in kinds
    assert seen == {True, False} and fired > 0  # both ways, and the rule fired where the gate opened


def test_the_tight_synchrony_gate_gives_the_updates_of_the_loose_one_with_fewer_whole_copies(monkeypatch):
    from test_dyad import hyper_zone

    whole = []
    rules_copy = DyadPipeline.rules_copy
    monkeypatch.setattr(DyadPipeline, "rules_copy", lambda self, synchrony=False: whole.append(synchrony)
                        or rules_copy(self, synchrony))
    tight = _scripted_live(hyper_zone, lambda t: "window", _coregulation_episode, n=640)
    n_tight = sum(whole)
    whole.clear()
    # the gate as it was: the whole synchrony whenever coregulation_possible or the therapist's bound says so
    monkeypatch.setattr(ProvisionalDyad, "_synchrony_read", lambda self, *a: True)
    loose = _scripted_live(hyper_zone, lambda t: "window", _coregulation_episode, n=640)
    assert [(t, u.to_dict()) for t, u in tight[1]] == [(t, u.to_dict()) for t, u in loose[1]]
    assert tight[0] == loose[0]  # the final events: untouched
    pushed = {u.event.kind for _, u in tight[1] if u.state == EventState.PROVISIONAL}
    assert pushed == {"rupture_candidate", "repair_candidate", "co_regulation"}
    assert 0 < n_tight < sum(whole) / 2, (n_tight, sum(whole))


def test_asking_the_tiers_once_per_evaluation_gives_the_updates_of_asking_at_every_read(monkeypatch):
    from coregulate.models.provisional_tier import ProvisionalTier

    asked, per_evaluation = [], []
    hr_by_second, events = ProvisionalTier.hr_by_second, ProvisionalDyad.events
    monkeypatch.setattr(ProvisionalTier, "hr_by_second", lambda self, *a: asked.append(1) or hr_by_second(self, *a))

    def counted(self, *a):
        n = len(asked)
        try:
            return events(self, *a)
        finally:
            per_evaluation.append(len(asked) - n)

    monkeypatch.setattr(ProvisionalDyad, "events", counted)
    once = _live(2, 700, 700, provisional=True)[3]
    n_once = list(per_evaluation)
    per_evaluation.clear()
    # the plain form: every read asks the tier again (an evaluation's answers are never kept)
    monkeypatch.setattr(ProvisionalDyad, "_asked", property(lambda self: {}, lambda self, value: None), raising=False)
    plain = _live(2, 700, 700, provisional=True)[3]
    assert [(i, u.to_dict()) for i, u in once] == [(i, u.to_dict()) for i, u in plain]
    assert len(once) > 0 and max(n_once) == 2 < max(per_evaluation)  # one person's HR asked once, not per read
    assert sum(n_once) < sum(per_evaluation), (sum(n_once), sum(per_evaluation))


def test_quiet_counting_the_known_pause_ratios_as_they_slide_answers_as_the_plain_mean_at_every_second():
    import random
    from collections import deque

    from coregulate.models.dyad import DyadPipeline

    def plain(dyad, ahead):  # the rule as _withdrawn_vocally states it, over the window each second ahead makes
        window = deque(dyad._pauses, maxlen=dyad._pauses.maxlen)
        for v in ahead:
            window.append(v)
            vals = [x for x in window if x is not None]
            if len(vals) * 2 >= window.maxlen and sum(vals) / len(vals) >= dyad.params.withdrawal_pause_ratio:
                return False
        return True

    rng = random.Random(5)
    answers = set()
    for case in range(300):
        dyad = DyadPipeline(["client", "therapist"])
        share = rng.choice((0.0, 0.3, 0.6, 1.0))  # how many seconds have a pause ratio
        for t in range(1, rng.randrange(2, 60)):
            pause = round(rng.uniform(0.5, 1.0), 2) if rng.random() < share else None
            dyad.update(t, {"client": {"zone": "window", "pause_ratio": pause}, "therapist": {"zone": "window"}})
        if dyad._withdrawn_vocally():
            continue  # quiet says no before the seconds ahead
        ahead = [round(rng.uniform(0.6, 1.0), 2) if rng.random() < rng.choice((0.0, 0.5, 1.0)) else None
                 for _ in range(rng.randrange(0, 40))]
        assert dyad.quiet(ahead) == (dyad.quiet() and plain(dyad, ahead)), (case, list(dyad._pauses), ahead)
        answers.add(dyad.quiet(ahead))
    assert answers == {True, False}


def test_rows_kept_from_the_previous_evaluation_are_the_rows_made_afresh(monkeypatch):
    rows_of = ProvisionalDyad._rows
    compared, kept = [0], [0]

    def checked(self, who, first, last):
        made = self._made.get(who)
        before = {id(entry[3]): entry[3] for entry in made[1].values()} if made else {}  # held: ids stay theirs
        rows = rows_of(self, who, first, last)
        mine, self._made = self._made, {}  # the plain form: every row made again
        try:
            plain = rows_of(self, who, first, last)
        finally:
            self._made = mine
        assert repr(rows) == repr(plain) and rows == plain
        compared[0] += len(rows)
        kept[0] += sum(id(r) in before for r in rows.values())
        return rows

    monkeypatch.setattr(ProvisionalDyad, "_rows", checked)
    with_check = _live(2, 700, 700, provisional=True)[3]
    monkeypatch.setattr(ProvisionalDyad, "_rows", rows_of)
    assert [(i, u.to_dict()) for i, u in with_check] == [(i, u.to_dict()) for i, u in _live(2, 700, 700, provisional=True)[3]]
    assert kept[0] > compared[0] / 4, (kept[0], compared[0])  # most provisional rows are kept
