"""The dashboard in Debian's Chromium (Playwright, no downloaded browser): live view of a
simulated session, an event, an annotation, then the replay of the finished session."""

from __future__ import annotations

import time

import pytest

from dashboard_helpers import OUT, SUP, VIEW

pytestmark = pytest.mark.browser


def _num(page, who: str, label: str) -> str:
    return page.locator(f"section[data-person={who}] .num", has_text=label).locator("b").inner_text()


def test_live_view_event_annotation_then_replay(server, page):
    OUT.mkdir(parents=True, exist_ok=True)
    body = {"source": {"kind": "simulator", "duration_s": 40}, "speed": 2.0, "label": "browser test"} if server.fake else \
        {"source": {"kind": "simulator", "duration_s": 360, "audio": True}, "speed": 2.0, "baseline_speed": 16.0,
         "label": "browser test"}  # the baseline fast, then slow enough to annotate while the session runs
    r = server.http.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]

    # the link the server prints opens the one live session straight away
    page.goto(f"{server.url}/#token={SUP}")
    page.wait_for_url(f"**/#/live/{sid}")
    page.wait_for_selector("section[data-person=client]")
    page.goto(f"{server.url}/#/sessions")
    page.wait_for_selector(f"tr[data-session='{sid}']")
    assert "not a diagnostic device" in page.inner_text("header")
    page.click(f"tr[data-session='{sid}'] >> text=Watch live")
    page.wait_for_selector("section[data-person=client]")
    page.wait_for_selector("section[data-person=therapist]")
    # both people's traces update: their HR readings appear and change
    page.wait_for_function("""() => [...document.querySelectorAll('section[data-person] .num b')].filter(b => b.textContent !== '–').length >= 4""", timeout=60_000)
    first = (_num(page, "client", "HR"), _num(page, "therapist", "HR"), page.inner_text(".clock"))
    page.wait_for_function(f"""() => document.querySelector('.clock').textContent !== {first[2]!r}""", timeout=30_000)
    time.sleep(2)
    assert page.inner_text(".clock") != first[2]
    assert _num(page, "client", "HR") != "–" and _num(page, "therapist", "HR") != "–"
    assert page.locator("section[data-person=client] canvas").count() >= 5
    assert page.locator("#conn-badge").inner_text() == "Live"
    # an event appears in the timeline
    page.wait_for_selector(".events li[data-kind]", timeout=90_000)
    # zone in words, not only colour
    assert page.locator("section[data-person=client] .zone").inner_text().strip() != ""
    # annotate through the UI
    page.fill("input[aria-label='Annotation text']", "client looks away")
    page.click("text=Annotate now")
    page.wait_for_selector("text=saved at", timeout=10_000)
    # every viewer gets it over the websocket: it is listed and marked on the session overview
    page.wait_for_selector("ol[aria-label='Annotations of this session'] li:has-text('client looks away')", timeout=10_000)
    page.wait_for_function("() => document.querySelector('canvas.overview').dataset.annotations === '1'", timeout=5_000)
    assert int(page.locator("canvas.overview").get_attribute("data-events")) >= 1
    page.screenshot(path=str(OUT / "live.png"), full_page=True)

    # wait for the end of the session, then open its replay
    t = time.time()
    while server.http.get(f"/api/sessions/{sid}").json()["status"] == "running":
        assert time.time() - t < 120, "session did not finish"
        time.sleep(0.5)
    page.wait_for_selector("a:has-text('Open replay')", timeout=15_000)
    page.click("a:has-text('Open replay')")
    page.wait_for_selector("input[type=range][aria-label^='Session time']")
    ann = page.locator("ul.ann-list li")
    assert ann.count() == 1 and ann.locator("input").input_value() == "client looks away"
    # scrub: keyboard on the slider and a jump to the annotation
    slider = page.locator("input[type=range]")
    slider.focus()
    page.keyboard.press("Home")
    assert page.inner_text(".clock") == "0:00"
    for _ in range(12):
        page.keyboard.press("ArrowRight")
    assert page.inner_text(".clock") == "0:12"
    ann.locator("button").first.click()
    ann_t = server.http.get(f"/api/sessions/{sid}/annotations").json()[0]["t_s"]
    assert page.inner_text(".clock") == f"{int(ann_t) // 60}:{int(ann_t) % 60:02d}"
    # jump to an event (the replay lists the whole session in time order)
    page.locator(".events li[data-kind] button").first.click()
    ev_t = server.http.get(f"/api/sessions/{sid}/events").json()["events"][0]["t_start"]
    assert page.inner_text(".clock") == f"{int(ev_t) // 60}:{int(ev_t) % 60:02d}"
    # play at x16 moves the cursor
    page.select_option("select[aria-label='Replay speed']", "16")
    page.click("button:has-text('Play')")
    time.sleep(1.0)
    page.click("button:has-text('Pause')")
    assert page.inner_text(".clock") != f"{int(ev_t) // 60}:{int(ev_t) % 60:02d}"
    # edit the annotation
    ann.locator("input").fill("gaze aversion")
    ann.locator("button:has-text('Save')").click()
    t = time.time()
    while server.http.get(f"/api/sessions/{sid}/annotations").json()[0]["text"] != "gaze aversion":
        assert time.time() - t < 5
        time.sleep(0.1)
    page.screenshot(path=str(OUT / "replay.png"), full_page=True)
    assert not page.errors, page.errors


def test_viewer_token_is_read_only_and_bad_token_is_refused(server, page):
    page.goto(f"{server.url}/#token={VIEW}")
    page.wait_for_selector("#role-badge:has-text('Viewer')")
    assert page.locator("text=Start simulated session").count() == 0
    page.evaluate("sessionStorage.clear()")
    page.goto(f"{server.url}/#token=wrong-token-wrong-token")
    page.wait_for_selector("#token-gate:not([hidden])")
    assert "refused" in page.inner_text("#token-error")
    page.screenshot(path=str(OUT / "token-gate.png"))


def test_stale_data_alarm(server, page):
    # a session that was created but never started sends nothing: the live view must say so
    r = server.http.post("/api/sessions", json={"source": {"kind": "simulator", "duration_s": 330}, "start": False})
    sid = r.json()["id"]
    page.goto(f"{server.url}/#token={SUP}")
    page.wait_for_selector(f"tr[data-session='{sid}']")
    page.goto(f"{server.url}/#/live/{sid}")
    alarm = page.locator(".alarm[role=alert]")
    alarm.wait_for(state="visible", timeout=15_000)
    assert "No data for" in alarm.inner_text()
    page.screenshot(path=str(OUT / "stale-alarm.png"))
    server.http.post(f"/api/sessions/{sid}/stop")
