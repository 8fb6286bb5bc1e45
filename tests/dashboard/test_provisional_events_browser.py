"""Live view of provisional events (issue #15, items 3-4) in Debian's Chromium: a zone change pushed on
provisional evidence is listed lighter, replaced by its final event when confirmed, and struck out
when withdrawn (also when its update frame was lost)."""

from __future__ import annotations

import sqlite3
import time

import pytest

from dashboard_helpers import OUT, SUP, open_idle_live_session

pytestmark = pytest.mark.browser

EVENTS = "ol.events[aria-live=polite]"


def _update(pid, state, t, label="window -> hyper", kind="leave_window", who="client", final_id=None):
    return {"pid": pid, "state": state, "final_id": final_id, "final_t_start": None, "final_upto_s": None,
            "tolerance_s": 10.0, "event": {"kind": kind, "t_start": t, "t_end": None, "participant": who,
                                           "rule": "arousal > 2 for 30 s", "label": label, "evidence": {}}}


def test_provisional_event_is_lighter_then_confirmed_or_struck_out(server, page):
    sid, hub = open_idle_live_session(server, page)

    rows = lambda a, b: [{"t_s": t, "participant": "client", "hr_bpm": 70.0, "zone": "window"} for t in range(a, b)]  # noqa: E731
    hub.submit("features", rows(1, 21))
    hub.submit("events", [{"id": 1, "kind": "zone_change", "t_start": 5.0, "participant": "client",
                           "label": "unknown -> window", "rule": "baseline complete", "evidence": {}}])
    hub.submit("sensors", {"t": 33.0, "streams": {}})
    page.wait_for_selector(f"{EVENTS} li[data-kind=zone_change]")
    final_opacity = float(page.evaluate(f"getComputedStyle(document.querySelector('{EVENTS} li[data-kind=zone_change]')).opacity"))

    # pushed on provisional evidence: listed, marked and lighter than a final event
    hub.submit("provisional_event", [_update(1, "provisional", 31.0)])
    item = page.locator(f"{EVENTS} li[data-pid='1']")
    item.wait_for(timeout=10_000)
    assert item.get_attribute("data-state") == "provisional" and "(provisional)" in item.inner_text()
    assert float(page.evaluate(f"getComputedStyle(document.querySelector(\"{EVENTS} li[data-pid='1']\")).opacity")) < final_opacity
    page.screenshot(path=str(OUT / "live-provisional-event.png"), full_page=True)

    # confirmed: the final event takes its place
    hub.submit("features", rows(21, 33))
    hub.submit("events", [{"id": 2, "kind": "leave_window", "t_start": 32.0, "participant": "client",
                           "label": "window -> hyper", "rule": "arousal > 2 for 30 s", "evidence": {}}])
    hub.submit("provisional_event", [_update(1, "confirmed", 31.0, final_id=2)])
    page.wait_for_function(f"() => !document.querySelector(\"{EVENTS} li[data-pid='1']\")", timeout=10_000)
    assert page.locator(f"{EVENTS} li[data-kind=leave_window]:not([data-pid])").count() == 1

    # withdrawn: struck out, kept in the list
    hub.submit("provisional_event", [_update(2, "provisional", 40.0, "window -> hypo_candidate")])
    page.locator(f"{EVENTS} li[data-pid='2'][data-state=provisional]").wait_for(timeout=10_000)
    hub.submit("features", rows(33, 51))
    hub.submit("provisional_event", [_update(2, "withdrawn", 40.0, "window -> hypo_candidate")])
    gone = page.locator(f"{EVENTS} li[data-pid='2'][data-state=withdrawn]")
    gone.wait_for(timeout=10_000)
    assert "(withdrawn)" in gone.inner_text()
    assert "line-through" in page.evaluate(
        f"getComputedStyle(document.querySelector(\"{EVENTS} li[data-pid='2']\")).textDecorationLine")

    # a pending event whose update frame was lost: withdrawn once the final rows passed it by its tolerance
    hub.submit("provisional_event", [_update(3, "provisional", 55.0, "hyper -> window", "return_window")])
    page.locator(f"{EVENTS} li[data-pid='3'][data-state=provisional]").wait_for(timeout=10_000)
    hub.submit("features", rows(51, 66))
    page.locator(f"{EVENTS} li[data-pid='3'][data-state=withdrawn]").wait_for(timeout=10_000)
    page.screenshot(path=str(OUT / "live-provisional-event-settled.png"), full_page=True)
    server.http.post(f"/api/sessions/{sid}/stop")
    assert not page.errors, page.errors


def test_replay_lists_the_withdrawn_provisional_events_struck_out(server, page):
    if server.fake:
        pytest.skip("needs the real pipeline to record a session file")
    r = server.http.post("/api/sessions", json={"source": {"kind": "simulator", "duration_s": 310, "audio": False},
                                                 "speed": "max", "label": "withdrawn review"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    t = time.time()
    while server.http.get(f"/api/sessions/{sid}").json()["status"] in ("created", "starting", "running"):
        assert time.time() - t < 300, "analysis did not finish"
        time.sleep(0.5)
    assert server.http.get(f"/api/sessions/{sid}/withdrawn-events").json() == {"withdrawn_events": []}
    # what a live session's recorder keeps for a provisional event the final data withdrew
    with sqlite3.connect(server.server.config.app.state.manager.path_of(sid)) as con:
        con.execute("INSERT INTO withdrawn_event VALUES (7, 'leave_window', 200.0, NULL, 'therapist', "
                    "'arousal > 2 for 30 s', 'window -> hyper', '{}', 210)")
    listed = server.http.get(f"/api/sessions/{sid}/withdrawn-events").json()["withdrawn_events"]
    assert [(w["pid"], w["participant"], w["label"], w["final_upto_s"]) for w in listed] == [(7, "therapist", "window -> hyper", 210)]
    page.goto(f"{server.url}/#token={SUP}")
    page.wait_for_selector(f"tr[data-session='{sid}']")
    page.goto(f"{server.url}/#/replay/{sid}")
    item = page.locator("section[aria-label='Withdrawn provisional events'] li[data-pid='7']")
    item.wait_for(timeout=15_000)
    assert "Therapist" in item.inner_text() and "3:20" in item.inner_text()
    assert "line-through" in page.evaluate(
        "getComputedStyle(document.querySelector(\"section[aria-label='Withdrawn provisional events'] li\")).textDecorationLine")
    # not among the session's events
    assert page.locator("ol.events li[data-pid]").count() == 0
    assert not page.errors, page.errors


def _dyad_update(pid, state, t, kind="rupture_candidate", due=60.0, final_id=None, who=None):
    return {"pid": pid, "state": state, "final_id": final_id, "final_t_start": None, "final_upto_s": None,
            "tolerance_s": 10.0, "due_s": due, "event": {"kind": kind, "t_start": t, "t_end": None, "participant": who,
                                                         "rule": "client hyper sustained", "label": "candidate for review",
                                                         "evidence": {}}}


def test_provisional_dyad_event_is_held_while_the_final_rows_show_it_open_and_settled_on_the_dyad_rows(server, page):
    sid, hub = open_idle_live_session(server, page)
    dyad = lambda a, b, open_=None: [{"t_s": t, "dyad_event": open_} for t in range(a, b)]  # noqa: E731
    hub.submit("dyad", dyad(1, 21))
    hub.submit("sensors", {"t": 40.0, "streams": {}})

    # a rupture pushed when it opened on provisional data: lighter, with no participant
    hub.submit("provisional_event", [_dyad_update(1, "provisional", 20.0, due=30.0)])
    item = page.locator(f"{EVENTS} li[data-pid='1'][data-state=provisional]")
    item.wait_for(timeout=10_000)
    assert "dyad event" in item.get_attribute("title")
    # the dyad's final rows pass its deadline with the candidate open there: still pending
    hub.submit("dyad", dyad(21, 41, "rupture_candidate"))
    hub.submit("provisional_event", [_dyad_update(2, "provisional", 38.0, "repair_candidate", due=45.0)])
    page.locator(f"{EVENTS} li[data-pid='2']").wait_for(timeout=10_000)
    assert page.locator(f"{EVENTS} li[data-pid='1'][data-state=provisional]").count() == 1
    # the candidate closed and its final event came (its update frame lost): no longer listed provisionally;
    # the repair's update lost too, and the dyad rows passed its deadline without a final one: struck out
    hub.submit("events", [{"id": 3, "kind": "rupture_candidate", "t_start": 21.0, "t_end": 44.0, "participant": None,
                           "label": "candidate for review", "rule": "client hyper sustained", "evidence": {}}])
    hub.submit("dyad", dyad(41, 47))
    page.wait_for_function(f"() => !document.querySelector(\"{EVENTS} li[data-pid='1']\")", timeout=10_000)
    page.locator(f"{EVENTS} li[data-pid='2'][data-state=withdrawn]").wait_for(timeout=10_000)
    # the therapist's spell names its participant but is a dyad event: the therapist's own final rows
    # passing its deadline settle nothing, the dyad's do
    hub.submit("provisional_event", [_dyad_update(3, "provisional", 30.0, "therapist_dysregulated", due=52.0, who="therapist")])
    hub.submit("features", [{"t_s": t, "participant": "therapist", "hr_bpm": 70.0, "zone": "hyper"} for t in range(1, 61)])
    page.locator(f"{EVENTS} li[data-pid='3']").wait_for(timeout=10_000)
    assert "dyad event" in page.locator(f"{EVENTS} li[data-pid='3']").get_attribute("title")
    hub.submit("dyad", dyad(47, 50))
    time.sleep(0.5)
    assert page.locator(f"{EVENTS} li[data-pid='3'][data-state=provisional]").count() == 1
    hub.submit("dyad", dyad(50, 53))
    page.locator(f"{EVENTS} li[data-pid='3'][data-state=withdrawn]").wait_for(timeout=10_000)
    server.http.post(f"/api/sessions/{sid}/stop")
    assert not page.errors, page.errors
