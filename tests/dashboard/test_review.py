"""Reviewing a recorded session in Chromium: the whole-session overview (seek by click, jump to a
later event), honest charts (y ticks, synchrony title and range, one HR scale for both people) and
an arousal chart that keeps the whole trace during the simulator's hyperarousal episode."""

from __future__ import annotations

import time

import pytest

from dashboard_helpers import OUT, SUP

pytestmark = pytest.mark.browser

# 600 s: the scripted client hyperarousal (300-340 s, stretched script) drives arousal well beyond
# the +-4 the chart used to be fixed at
DURATION_S = 600


@pytest.fixture(scope="module")
def recorded(server):
    if server.fake:
        pytest.skip("needs the real pipeline (the fake backends have no arousal or dyad rows)")
    r = server.http.post("/api/sessions", json={"source": {"kind": "simulator", "duration_s": DURATION_S}, "speed": "max",
                                                 "label": "review test"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    t = time.time()
    while server.http.get(f"/api/sessions/{sid}").json()["status"] == "running":
        assert time.time() - t < 300, "analysis did not finish"
        time.sleep(0.5)
    assert server.http.post(f"/api/sessions/{sid}/annotations", json={"t_s": 450, "text": "client looks away"}).status_code == 201
    events = server.http.get(f"/api/sessions/{sid}/events").json()["events"]
    features = server.http.get(f"/api/sessions/{sid}/features").json()["rows"]
    dyad = server.http.get(f"/api/sessions/{sid}/dyad").json()["rows"]
    bounds = server.http.get(f"/api/sessions/{sid}").json()["tolerance"]
    return {"id": sid, "events": sorted(events, key=lambda e: e["t_start"]), "features": features, "dyad": dyad,
            "bounds": bounds}


def _open_replay(server, page, sid: str) -> None:
    page.goto(f"{server.url}/#token={SUP}")
    page.wait_for_selector(f"tr[data-session='{sid}']")
    page.goto(f"{server.url}/#/replay/{sid}")
    page.wait_for_selector("canvas.overview")
    page.wait_for_selector("section[data-person=therapist] [data-chart=arousal] canvas")


def _clock_s(page) -> int:
    m, s = page.inner_text(".clock").split(":")
    return int(m) * 60 + int(s)


def _click_overview_at(page, t: float) -> None:
    # the overview maps [0, duration] onto its width minus the row names (70 px) and a margin (8 px)
    box = page.locator("canvas.overview").bounding_box()
    page.mouse.click(box["x"] + 70 + (box["width"] - 78) * t / DURATION_S, box["y"] + box["height"] - 20)


def test_overview_seeks_by_click_and_lists_the_whole_session(server, page, recorded):
    OUT.mkdir(parents=True, exist_ok=True)
    _open_replay(server, page, recorded["id"])
    # every event of the session is listed from the start, not only those before the cursor
    assert page.locator(".events li[data-kind]").count() == len(recorded["events"]) > 3
    _click_overview_at(page, 200)
    assert abs(_clock_s(page) - 200) <= 3
    # inside the baseline, replay shows the calibration as live does
    for who in ("client", "therapist"):
        calib = page.locator(f"[data-calibration={who}]")
        assert calib.is_visible() and "left" in calib.inner_text(), who
        assert page.locator(f"section[data-person={who}] .zone").inner_text() == "Calibrating (baseline)"
    # events after the cursor are listed (ahead) and one can jump to them
    later = [e for e in recorded["events"] if e["t_start"] > 330]
    assert later, recorded["events"]
    target = later[-1]
    item = page.locator(f".events li[data-t='{target['t_start']:g}']").first
    assert "ahead" in item.get_attribute("class")
    item.locator("button").click()
    assert _clock_s(page) == int(target["t_start"])
    assert "current" in item.get_attribute("class") and item.get_attribute("aria-current") == "true"
    # friendly names, not column names
    texts = page.locator(".events li .evkind").all_inner_texts()
    assert any(t.startswith("Client left the window (hyperarousal)") for t in texts), texts
    assert not any("_" in t for t in texts), texts
    # the keyboard: P goes to the previous event, and the shortcuts are listed on screen
    page.locator(".overview-box h3").click()
    page.keyboard.press("p")
    previous = max(e["t_start"] for e in recorded["events"] if e["t_start"] < target["t_start"] - 0.5)
    assert _clock_s(page) == int(previous)
    assert "previous / next event" in page.inner_text(".shortcuts")
    # drag on the overview moves the cursor along
    box = page.locator("canvas.overview").bounding_box()
    y = box["y"] + box["height"] - 20
    page.mouse.move(box["x"] + 70 + (box["width"] - 78) * 100 / DURATION_S, y)
    page.mouse.down()
    page.mouse.move(box["x"] + 70 + (box["width"] - 78) * 450 / DURATION_S, y, steps=5)
    page.mouse.up()
    assert abs(_clock_s(page) - 450) <= 3
    # play shows a pause button drawn as an icon (no missing-glyph box), then pauses
    page.click("button:has-text('Play')")
    pause = page.locator("button:has-text('Pause')")
    pause.wait_for()
    assert pause.locator("svg.icon rect").count() == 2 and "⏸" not in pause.inner_text()
    page.screenshot(path=str(OUT / "replay-overview.png"), full_page=True)
    pause.click()
    assert not page.errors, page.errors


def test_charts_have_ticks_an_honest_synchrony_title_and_a_shared_hr_scale(server, page, recorded):
    _open_replay(server, page, recorded["id"])
    _click_overview_at(page, 420)
    page.wait_for_timeout(500)
    # readable y ticks on every chart that has data
    for key in ("hr", "hrv", "ans", "arousal", "voice", "ecg"):  # (no microphone level in recordings)
        for who in ("client", "therapist"):
            holder = page.locator(f"section[data-person={who}] [data-chart={key}] [role=img]")
            assert int(holder.get_attribute("data-yticks")) >= 3, (who, key)
    for key in ("sync", "peak"):
        assert int(page.locator(f"[data-chart={key}] [role=img]").get_attribute("data-yticks")) >= 3, key
    # the synchrony chart plots the surrogate-based effect and says so; its range holds the data
    sync = page.locator("[data-chart=sync]")
    assert "pseudo" in sync.locator(".title").inner_text()
    effects = [r["sync_effect"] for r in recorded["dyad"] if 120 <= r["t_s"] <= 420 and r["sync_effect"] is not None]
    assert effects
    holder = sync.locator("[role=img]")
    lo, hi = float(holder.get_attribute("data-ymin")), float(holder.get_attribute("data-ymax"))
    assert lo <= min(effects) and hi >= max(effects) and hi - lo < 4 * (max(effects) - min(effects) + 1)
    assert "not tested" in page.locator("[data-chart=peak] .title").inner_text()

    def hr_ranges():
        return [(float(page.locator(f"section[data-person={w}] [data-chart=hr] [role=img]").get_attribute("data-ymin")),
                 float(page.locator(f"section[data-person={w}] [data-chart=hr] [role=img]").get_attribute("data-ymax")))
                for w in ("client", "therapist")]

    toggle = page.locator("#shared-hr")
    assert toggle.is_checked()
    shared = hr_ranges()
    assert shared[0] == shared[1]
    toggle.uncheck()
    own = hr_ranges()
    assert own[0] != own[1]
    # each scale still spans at least 10 bpm: a 1-bpm wobble does not fill the panel
    assert all(hi - lo >= 10 for lo, hi in own)
    page.screenshot(path=str(OUT / "replay-charts-own-hr-scale.png"), full_page=True)
    toggle.check()
    assert not page.errors, page.errors


# dark pixels inside the plot area of a chart (the arousal trace is the only black line there)
_TRACE_JS = """(sel) => {
  const wrap = document.querySelector(sel);
  const cv = wrap.querySelector('canvas'), over = wrap.querySelector('.u-over');
  const k = cv.width / cv.clientWidth;
  const x0 = Math.round(over.offsetLeft * k), y0 = Math.round(over.offsetTop * k);
  const w = Math.round(over.clientWidth * k), h = Math.round(over.clientHeight * k);
  const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
  let minY = Infinity, maxY = -Infinity, n = 0, outside = 0;
  for (let y = 0; y < cv.height; y++) for (let x = x0; x < x0 + w; x++) {
    const i = 4 * (y * cv.width + x);
    if (px[i + 3] > 200 && px[i] < 60 && px[i + 1] < 60 && px[i + 2] < 60) {
      if (y < y0 || y >= y0 + h) { outside++; continue; }
      n++; minY = Math.min(minY, y - y0); maxY = Math.max(maxY, y - y0);
    }
  }
  return {n, outside, minY, maxY, h};
}"""


def test_arousal_chart_keeps_the_whole_trace_during_hyperarousal(server, page, recorded):
    _open_replay(server, page, recorded["id"])
    client = [r for r in recorded["features"] if r["participant"] == "client" and r["arousal"] is not None]
    peak = max(client, key=lambda r: r["arousal"])
    # the episode crosses the hyperarousal bound the chart draws (the trace must stay inside it)
    assert peak["arousal"] > recorded["bounds"]["hyper_enter"]
    _click_overview_at(page, min(DURATION_S, peak["t_s"] + 30))
    page.wait_for_timeout(500)
    sel = "section[data-person=client] [data-chart=arousal]"
    holder = page.locator(f"{sel} [role=img]")
    shown = [r["arousal"] for r in client if _clock_s(page) - 300 <= r["t_s"] <= _clock_s(page)]
    assert float(holder.get_attribute("data-ymax")) > max(shown) and float(holder.get_attribute("data-ymin")) < min(shown)
    trace = page.evaluate(_TRACE_JS, sel)
    # the trace is drawn, never runs along the plot's top or bottom edge (clipped), and uses the height
    assert trace["n"] > 100, trace
    assert trace["minY"] > 2 and trace["maxY"] < trace["h"] - 3, trace
    assert trace["maxY"] - trace["minY"] > 0.5 * trace["h"], trace
    # the zones over time: a strip under the trace with the hyperarousal colour (vermillion)
    has_hyper_strip = page.evaluate("""(sel) => {
      const cv = document.querySelector(sel + ' canvas'), over = document.querySelector(sel + ' .u-over');
      const k = cv.width / cv.clientWidth, y = Math.round((over.offsetTop + over.clientHeight - 3) * k);
      const row = cv.getContext('2d').getImageData(0, y, cv.width, 1).data;
      for (let i = 0; i < row.length; i += 4) if (row[i] === 0xD5 && row[i + 1] === 0x5E && row[i + 2] === 0x00) return true;
      return false;
    }""", sel)
    assert has_hyper_strip
    page.locator(sel).screenshot(path=str(OUT / "arousal-hyper.png"))
    page.screenshot(path=str(OUT / "replay-hyper.png"), full_page=True)
    assert not page.errors, page.errors
