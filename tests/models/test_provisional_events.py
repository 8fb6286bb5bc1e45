"""Provisional zone events (issue #15, item 3): pushed on provisional evidence, confirmed or withdrawn
by the final events; no threads, no sockets."""

from __future__ import annotations

import numpy as np
import pytest

from coregulate.models.base import Event
from coregulate.models.config import PipelineConfig
from coregulate.models.pipeline import SessionPipeline
from coregulate.models.provisional_events import MATCH_TOLERANCE_S, ZONE_EVENT_KINDS, EventState, ProvisionalEvents
from coregulate.models.tolerance import ToleranceEstimator
from coregulate.sensors.chunk import rechunk
from coregulate.sensors.simulator import Simulator

from physio_helpers import PassThroughRegistry


def _zone(t, label="window -> hyper", who="client", kind="leave_window"):
    return Event(kind=kind, t_start=float(t), participant=who, label=label)


def test_a_provisional_event_is_pushed_once_and_confirmed_by_the_nearest_matching_final_event():
    tracker = ProvisionalEvents()
    first = tracker.propose([_zone(100)])
    assert [(u.pid, u.state) for u in first] == [(1, EventState.PROVISIONAL)]
    # the next seconds' evaluations find the same change again, a little moved: not pushed again
    assert tracker.propose([_zone(101)]) == [] and tracker.propose([_zone(100 + MATCH_TOLERANCE_S)]) == []
    # another person's change, or another change of the same person, is another event
    assert [u.pid for u in tracker.propose([_zone(100, who="therapist"), _zone(104, "hyper -> window", kind="return_window")])] == [2, 3]
    # final events of other kinds or labels, or too far away, confirm nothing
    upd = tracker.settle([_zone(100, "window -> hypo"), _zone(100 + MATCH_TOLERANCE_S + 1),
                          Event(kind="rupture_candidate", t_start=100.0)], {"client": 95, "therapist": 95})
    assert upd == []
    upd = tracker.settle([_zone(103)], {"client": 103, "therapist": 96})
    assert [(u.pid, u.state, u.final.t_start, u.final_upto_s) for u in upd] == [(1, EventState.CONFIRMED, 103.0, 103)]
    assert {p.pid for p in tracker.pending} == {2, 3}


def test_a_provisional_event_without_a_final_match_is_withdrawn_once_the_final_rows_pass_it_by_the_tolerance():
    tracker = ProvisionalEvents()
    tracker.propose([_zone(200), _zone(200, who="therapist")])
    # the client's final rows reach 209: still inside the look-ahead
    assert tracker.settle([], {"client": 209, "therapist": 300}) != []  # the therapist's is withdrawn
    assert [p.pid for p in tracker.pending] == [1]
    upd = tracker.settle([], {"client": 200 + int(MATCH_TOLERANCE_S), "therapist": 300})
    assert [(u.pid, u.state, u.final, u.final_upto_s) for u in upd] == [(1, EventState.WITHDRAWN, None, 210)]
    assert tracker.pending == []
    # the same change proposed again after its withdrawal is a new provisional event
    assert [u.pid for u in tracker.propose([_zone(212)])] == [3]
    # the end of the session withdraws what no final event matched
    assert [(u.pid, u.state) for u in tracker.finish([], {"client": 215})] == [(3, EventState.WITHDRAWN)]


def test_a_final_event_matching_at_the_last_second_of_the_look_ahead_confirms_rather_than_withdraws():
    tracker = ProvisionalEvents()
    tracker.propose([_zone(50)])
    upd = tracker.settle([_zone(50 + MATCH_TOLERANCE_S)], {"client": 50 + int(MATCH_TOLERANCE_S)})
    assert [u.state for u in upd] == [EventState.CONFIRMED]


def _rows(n, rng, rise_at=200):
    """Per-second rows of a calm stretch, then a sustained HR rise (a hyper episode)."""
    hr = 70 + rng.normal(0, 1, n)
    hr[rise_at:] += 25
    return [{"t_s": i + 1, "hr_bpm": float(h), "ln_rmssd": 3.5, "quality": "good"} for i, h in enumerate(hr)]


def test_peek_zone_changes_changes_no_state_and_finds_the_change_update_then_makes_at_the_same_second():
    rows = _rows(300, np.random.default_rng(5))
    cfg = PipelineConfig(baseline=(0.0, 100.0))
    est, plain = ToleranceEstimator("client", cfg), ToleranceEstimator("client", cfg)
    ahead = 12  # the final tier's lag behind the provisional data, in seconds
    seen = []
    for i, row in enumerate(rows):
        future = [(r["t_s"], r["hr_bpm"]) for r in rows[i + 1: i + 1 + ahead]]
        peeked = est.peek_zone_changes(row if i else None, future)
        assert est.peek_zone_changes(row if i else None, future) == peeked  # twice: the same, nothing moved
        out_e, ev_e = est.update(row)
        out_p, ev_p = plain.update(row)
        assert out_e == out_p and [e.to_dict() for e in ev_e] == [e.to_dict() for e in ev_p]
        seen += [(e.kind, e.label, e.t_start) for e in est.peek_zone_changes(row, future)]
    finals = [(e.kind, e.label, e.t_start) for e in _all_events(rows, cfg) if e.kind == "leave_window"]
    assert finals == [("leave_window", "window -> hyper", 230.0)]  # 30 s above the threshold after the rise
    # foreseen as soon as its second was within the provisional data: `ahead` evaluations before it was final
    assert seen.count(finals[0]) == ahead


def _all_events(rows, cfg):
    est = ToleranceEstimator("client", cfg)
    return [e for r in rows for e in est.update(r)[1]]


def _run(pipe, chunks):
    feats, events, updates = [], [], []
    for c in chunks:
        out = pipe.update(c)
        feats += out.features
        events += out.events
        updates += [(c.t_end, u) for u in out.event_updates]
    out = pipe.finish()
    return feats + out.features, events + out.events, updates + [(None, u) for u in out.event_updates]


def test_pipeline_pushes_zone_changes_before_they_are_final_and_the_final_events_settle_them():
    sim = Simulator(seed=3, duration_s=600, audio=False)
    cfg = PipelineConfig(baseline=(0.0, 120.0))
    chunks = list(sim.chunks())
    feats, events, updates = _run(SessionPipeline(sim.streams, cfg, sim.utc0, PassThroughRegistry(), provisional=True),
                                  rechunk(chunks, 0.5))
    plain_feats, plain_events, plain_updates = _run(SessionPipeline(sim.streams, cfg, sim.utc0), chunks)
    assert feats == plain_feats and [e.to_dict() for e in events] == [e.to_dict() for e in plain_events]
    assert plain_updates == []  # `analyze` (no provisional tier) has none
    pushed = [(t, u) for t, u in updates if u.state == EventState.PROVISIONAL]
    hyper = [(t, u) for t, u in pushed if u.event.label == "window -> hyper"]
    assert hyper, "the simulated hyperarousal was not pushed provisionally"
    t_pushed, u = hyper[0]
    final = next(e for e in events if e.kind == "leave_window" and e.participant == "client")
    # pushed within 2 s of the second it describes, while the final event came later
    assert t_pushed - u.event.t_start <= 2.0
    final_at = next(t for t, chunk_events in _final_times(sim, cfg, chunks) if final.t_start in chunk_events)
    assert final_at > t_pushed
    # every pushed event is settled exactly once, and a confirmation names a final event within the tolerance
    settled = {}
    for _, v in updates:
        if v.state != EventState.PROVISIONAL:
            assert v.pid not in settled
            settled[v.pid] = v
    assert set(settled) == {v.pid for _, v in pushed}
    for v in settled.values():
        if v.state == EventState.CONFIRMED:
            assert v.final in events and abs(v.final.t_start - v.event.t_start) <= MATCH_TOLERANCE_S
    assert settled[u.pid].state == EventState.CONFIRMED
    # a function of the data, not of how they were cut: the same events pushed and settled the same way
    _, _, whole = _run(SessionPipeline(sim.streams, cfg, sim.utc0, PassThroughRegistry(), provisional=True), chunks)
    assert _story(whole) == _story(updates)


def _story(updates):
    # zone changes (the dyad's provisional events are evaluated once per new second of both people's
    # data, against the final dyad state of that moment, which depends on how the data were cut)
    return sorted((u.event.participant, u.event.kind, u.event.label, u.event.t_start, str(u.state),
                   None if u.final is None else u.final.t_start) for _, u in updates if u.event.kind in ZONE_EVENT_KINDS)


def _final_times(sim, cfg, chunks):
    """(chunk end, t_start of the client's zone events it made final) of a plain run."""
    pipe = SessionPipeline(sim.streams, cfg, sim.utc0)
    for c in chunks:
        yield c.t_end, {e.t_start for e in pipe.update(c).events if e.participant == "client"}


def test_settling_with_nothing_pending_returns_nothing_and_changes_nothing():
    # the pipeline skips settle (and the final clocks and open candidates it would need) while
    # nothing is pending: this is what makes that skip exact
    tracker = ProvisionalEvents()
    finals = [_zone(100), _zone(104, "hyper -> window", kind="return_window"), Event(kind="rupture_candidate", t_start=90.0)]
    assert tracker.settle(finals, {"client": 500, "therapist": 500, None: 500}, held=[_zone(100)]) == []
    assert tracker.pending == [] and [u.pid for u in tracker.propose([_zone(200)])] == [1]


def test_proposing_nothing_returns_nothing_and_changes_nothing():
    # the pipeline does not propose the empty answers of the rules (most calls): this makes that skip exact
    tracker = ProvisionalEvents(kinds=ZONE_EVENT_KINDS | {"rupture_candidate"})
    tracker.propose([_zone(100)])
    before = (list(tracker.pending), tracker._next_pid)
    assert tracker.propose([]) == [] and tracker.propose([], []) == []
    assert (tracker.pending, tracker._next_pid) == before
    assert [u.pid for u in tracker.propose([Event(kind="rupture_candidate", t_start=90.0)], [95])] == [2]


class _Truthy(list):
    def __bool__(self):
        return True


class _SettledAtEveryChunk(ProvisionalEvents):
    """The plain computation: a tracker that always looks pending, so the pipeline settles it at every chunk."""

    @property
    def pending(self):
        return self._pending

    @pending.setter
    def pending(self, value):
        self._pending = _Truthy(value)


class _SettlingAtEveryChunk(SessionPipeline):
    """The plain computation: settled at every chunk, final news or not."""

    @staticmethod
    def _final_news(rows, final_events):
        return True


def test_the_pipeline_settles_only_while_something_is_pending_with_the_same_updates_as_settling_always():
    # ... and only after chunks that brought final rows or events (most chunks bring none)
    sim = Simulator(seed=3, duration_s=600, audio=False)
    cfg = PipelineConfig(baseline=(0.0, 120.0))
    chunks = list(rechunk(list(sim.chunks()), 0.5))
    gated = SessionPipeline(sim.streams, cfg, sim.utc0, provisional=True)
    plain = _SettlingAtEveryChunk(sim.streams, cfg, sim.utc0, provisional=True)
    plain.provisional_events = _SettledAtEveryChunk(kinds=gated.provisional_events.kinds)
    news = gated._final_news
    final_news = []
    gated._final_news = lambda *a: final_news.append(news(*a)) or final_news[-1]
    _, events, updates = _run(gated, chunks)
    _, plain_events, plain_updates = _run(plain, chunks)
    assert [e.to_dict() for e in events] == [e.to_dict() for e in plain_events]
    story = [(t, u.to_dict()) for t, u in updates]
    assert story == [(t, u.to_dict()) for t, u in plain_updates]
    # the gate opened: events were pushed, then confirmed or withdrawn while the session ran
    assert any(t is not None and u.state != EventState.PROVISIONAL for t, u in updates)
    assert final_news.count(False) > len(final_news) / 2 and True in final_news  # both, while something was pending


class _AskedAtEveryChunk(SessionPipeline):
    """The plain computation: the provisional event rules asked at every heart chunk."""

    @staticmethod
    def _news(beats, early, rows):
        return True


def _per_chunk(pipe, chunks):
    story = []
    for c in chunks:
        out = pipe.update(c)
        story.append((c.t_end, out.provisional, [u.to_dict() for u in out.event_updates]))
    out = pipe.finish()
    return story + [(None, out.provisional, [u.to_dict() for u in out.event_updates])]


@pytest.mark.parametrize("sources, chunk_s", [(["ecg"], None), (["ecg"], 0.7), (None, None)])
def test_chunks_that_bring_nothing_new_skip_the_event_rules_with_the_same_updates_as_asking_them(sources, chunk_s):
    # ECG as the only beat source: the strap's RR chunks bring no provisional value, so the rules are
    # not asked then; cut in 0.7-s chunks, some chunks without a beat complete final rows, and for
    # those the rules must be asked. Default sources: the ECG detector sits idle while the RR flows.
    # Both people have client episodes after the baseline
    sim = Simulator(seed=1, duration_s=600, audio=False)
    cfg = PipelineConfig(options={"heart": {"beat_sources": sources}}) if sources else PipelineConfig()
    chunks = list(sim.chunks()) if chunk_s is None else list(rechunk(list(sim.chunks()), chunk_s))
    asked = []
    gated = SessionPipeline(sim.streams, cfg, sim.utc0, provisional=True)
    news = gated._news
    gated._news = lambda *a: asked.append(news(*a)) or asked[-1]
    story = _per_chunk(gated, chunks)
    plain = _per_chunk(_AskedAtEveryChunk(sim.streams, cfg, sim.utc0, provisional=True), chunks)
    assert story == plain
    assert asked.count(False) > len(chunks) / 4  # the RR chunks were skipped
    updates = [u for _, _, us in story for u in us]
    assert {u["state"] for u in updates} >= {"provisional", "confirmed"}  # and the rules made events
