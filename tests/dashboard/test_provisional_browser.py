"""Live view of the provisional tier (issue #15) in Debian's Chromium: a provisional value is shown
lighter, with its age and its beat on the beat-by-beat strip, and the final value replaces it."""

from __future__ import annotations

import pytest

from dashboard_helpers import OUT, open_idle_live_session

pytestmark = pytest.mark.browser

HR = "section[data-person=client] [data-num=hr_bpm] b"
AROUSAL = "section[data-person=client] [data-num=arousal] b"


def test_provisional_value_is_lighter_then_replaced_by_the_final_one(server, page):
    sid, hub = open_idle_live_session(server, page)

    final = [{"t_s": t, "participant": "client", "hr_bpm": 70.0, "arousal": 0.2, "zone": "window"} for t in range(1, 21)]
    hub.submit("features", final)
    hub.submit("sensors", {"t": 21.0, "streams": {}})
    page.wait_for_function(f"() => document.querySelector({HR!r}).textContent === '70'", timeout=10_000)
    assert "provisional" not in (page.get_attribute(HR, "class") or "")
    opaque = page.evaluate(f"getComputedStyle(document.querySelector({HR!r})).opacity")

    hub.submit("provisional", [{"participant": "client", "t": 20.6, "hr_inst_bpm": 95.0, "hr_bpm": 91.0,
                                "beat_times": [19.9, 20.6], "beat_hr_bpm": [90.0, 95.0], "beat_source": "ecg",
                                "arousal": 1.5, "arousal_confidence": 1.0, "zone": "window", "zone_provisional": "hyper"}])
    page.wait_for_function(f"() => document.querySelector({HR!r}).textContent === '91'", timeout=10_000)
    for sel in (HR, AROUSAL):
        assert "provisional" in (page.get_attribute(sel, "class") or "")
        lighter = page.evaluate(f"getComputedStyle(document.querySelector({sel!r})).opacity")
        assert float(lighter) < float(opaque)  # visibly lighter than a final value
    assert page.inner_text(AROUSAL) == "1.50"
    age = page.locator("[data-age=client]")
    assert age.inner_text().endswith("s ago") and age.get_attribute("data-provisional") == "1"
    assert page.locator("[data-zone-provisional=client]").is_visible()
    assert page.locator("section[data-person=client] [data-chart=beats]").count() == 1
    page.screenshot(path=str(OUT / "live-provisional.png"), full_page=True)

    # the final row of that second arrives: it replaces the provisional values
    hub.submit("features", [{"t_s": 21, "participant": "client", "hr_bpm": 88.0, "arousal": 1.2, "zone": "window"}])
    page.wait_for_function(f"() => document.querySelector({HR!r}).textContent === '88'", timeout=10_000)
    for sel in (HR, AROUSAL):
        assert "provisional" not in (page.get_attribute(sel, "class") or "")
    assert page.inner_text(AROUSAL) == "1.20"
    assert page.locator("[data-age=client]").get_attribute("data-provisional") == "0"
    assert not page.locator("[data-zone-provisional=client]").is_visible()
    server.http.post(f"/api/sessions/{sid}/stop")
    assert not page.errors, page.errors


VOCAL = "section[data-person=client] [data-num=vocal_arousal] b"
SPEAKING = "section[data-person=client] [data-num=speaking] b"
SCL = "section[data-person=client] [data-num=eda_scl_us] b"


def test_voice_and_skin_conductance_seconds_are_lighter_until_their_row_and_keep_the_heart_value(server, page):
    sid, hub = open_idle_live_session(server, page)

    hub.submit("features", [{"t_s": t, "participant": "client", "hr_bpm": 70.0, "arousal": 0.2, "zone": "window",
                             "vocal_arousal": 0.1, "speaking": 0, "eda_scl_us": 5.0} for t in range(1, 21)])
    hub.submit("sensors", {"t": 23.0, "streams": {}})
    page.wait_for_function(f"() => document.querySelector({SCL!r}).textContent === '5.00'", timeout=10_000)
    opaque = float(page.evaluate(f"getComputedStyle(document.querySelector({SCL!r})).opacity"))

    # a beat, then the voice and the skin conductance of seconds 21 and 22 (the row waits for the heart)
    hub.submit("provisional", [{"participant": "client", "family": "heart", "t": 20.6, "hr_inst_bpm": 95.0,
                                "hr_bpm": 91.0, "beat_times": [20.6], "beat_hr_bpm": [95.0], "arousal": 1.0,
                                "zone": "window", "zone_provisional": "window"}])
    hub.submit("provisional", [{"participant": "client", "family": "voice", "t": 21.0, "vocal_arousal": 1.25,
                                "speaking": 1, "f0_st": 30.0}])
    hub.submit("provisional", [{"participant": "client", "family": "eda", "t": 22.0, "eda_scl_us": 6.5,
                                "scr_per_min": 3.0, "arousal": 2.4, "arousal_confidence": 1.0, "zone": "window",
                                "zone_provisional": "window"}])
    page.wait_for_function(f"() => document.querySelector({SCL!r}).textContent === '6.50'", timeout=10_000)
    assert page.inner_text(VOCAL) == "1.25" and page.inner_text(SPEAKING) == "yes"
    assert page.inner_text(HR) == "91"  # the heart's provisional value stays beside them
    assert page.inner_text(AROUSAL) == "2.40"  # the newest data's arousal: the skin conductance of second 22
    for sel in (SCL, VOCAL, SPEAKING, HR, AROUSAL):
        assert "provisional" in (page.get_attribute(sel, "class") or "")
        assert float(page.evaluate(f"getComputedStyle(document.querySelector({sel!r})).opacity")) < opaque
    assert page.locator("[data-age=client]").get_attribute("data-provisional") == "1"
    page.screenshot(path=str(OUT / "live-provisional-voice-eda.png"), full_page=True)

    # the row of second 21 is final: the heart and voice values of that second are replaced, the
    # skin conductance of second 22 is still ahead of the rows
    hub.submit("features", [{"t_s": 21, "participant": "client", "hr_bpm": 88.0, "arousal": 0.9, "zone": "window",
                             "vocal_arousal": 1.25, "speaking": 1, "eda_scl_us": 6.1}])
    page.wait_for_function(f"() => document.querySelector({HR!r}).textContent === '88'", timeout=10_000)
    for sel in (HR, VOCAL, SPEAKING):
        assert "provisional" not in (page.get_attribute(sel, "class") or "")
    assert page.inner_text(SCL) == "6.50" and "provisional" in (page.get_attribute(SCL, "class") or "")
    assert page.inner_text(AROUSAL) == "2.40"
    # and the row of second 22 replaces the last of them
    hub.submit("features", [{"t_s": 22, "participant": "client", "hr_bpm": 87.0, "arousal": 2.3, "zone": "window",
                             "vocal_arousal": 1.0, "speaking": 1, "eda_scl_us": 6.5}])
    page.wait_for_function(f"() => document.querySelector({AROUSAL!r}).textContent === '2.30'", timeout=10_000)
    for sel in (SCL, VOCAL, SPEAKING, HR, AROUSAL):
        assert "provisional" not in (page.get_attribute(sel, "class") or "")
    assert page.locator("[data-age=client]").get_attribute("data-provisional") == "0"
    server.http.post(f"/api/sessions/{sid}/stop")
    assert not page.errors, page.errors


BREATHING = "section[data-person=client] [data-num=breathing_rpm] b"
MOVEMENT = "section[data-person=client] [data-num=movement] b"


def test_movement_and_a_belts_breathing_second_are_lighter_until_their_row(server, page):
    sid, hub = open_idle_live_session(server, page)

    hub.submit("features", [{"t_s": t, "participant": "client", "hr_bpm": 70.0, "arousal": 0.2, "zone": "window",
                             "breathing_rpm": 14.0, "movement": 20.25} for t in range(1, 21)])
    hub.submit("sensors", {"t": 23.0, "streams": {}})
    page.wait_for_function(f"() => document.querySelector({BREATHING!r}).textContent === '14'", timeout=10_000)
    opaque = float(page.evaluate(f"getComputedStyle(document.querySelector({BREATHING!r})).opacity"))

    # the movement family's second 22 (accelerometer and belt in, the row waits for the heart)
    hub.submit("provisional", [{"participant": "client", "family": "movement", "t": 22.0, "movement": 3.5,
                                "breathing_rpm": 9.0}])
    page.wait_for_function(f"() => document.querySelector({BREATHING!r}).textContent === '9'", timeout=10_000)
    assert page.inner_text(MOVEMENT) == "3.50"
    for sel in (BREATHING, MOVEMENT):
        assert "provisional" in (page.get_attribute(sel, "class") or "")
        assert float(page.evaluate(f"getComputedStyle(document.querySelector({sel!r})).opacity")) < opaque
        assert page.get_attribute(sel, "title").startswith("provisional: this second's value")
    assert "milli-g" in page.get_attribute("section[data-person=client] [data-num=movement]", "title")
    page.screenshot(path=str(OUT / "live-provisional-movement.png"), full_page=True)
    assert page.inner_text(HR) == "70"  # no heart value came: the final one stays, not lighter
    assert "provisional" not in (page.get_attribute(HR, "class") or "")

    hub.submit("features", [{"t_s": t, "participant": "client", "hr_bpm": 71.0, "arousal": 0.2, "zone": "window",
                             "breathing_rpm": 9.0, "movement": 3.5} for t in (21, 22)])
    page.wait_for_function(f"() => document.querySelector({HR!r}).textContent === '71'", timeout=10_000)
    assert page.inner_text(BREATHING) == "9" and page.inner_text(MOVEMENT) == "3.50"
    for sel in (BREATHING, MOVEMENT):
        assert "provisional" not in (page.get_attribute(sel, "class") or "")
    server.http.post(f"/api/sessions/{sid}/stop")
    assert not page.errors, page.errors
