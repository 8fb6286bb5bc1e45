"""The session video in the replay view (Debian's Chromium via Playwright): the frame at the
cursor is shown, seeking moves the video, the offset control shifts it, and a viewer without
video permission sees no video (and is told why)."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from dashboard_helpers import OUT, SUP, VIEW, ServerThread, free_port

pytestmark = pytest.mark.browser

SECONDS = 60
OFFSET = 3.5  # the video's first frame is at session second 3.5 (targets fall mid-frame)


def grey_of_second(s: float) -> float:
    """Each second of the test video has its own brightness: the frame shown tells its time."""
    return 20.0 + 3.5 * int(s)


def write_clock_video(path, seconds=SECONDS, fps=10, size=(160, 120)) -> None:
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.options = {"preset": "ultrafast", "g": str(fps)}
        for k in range(seconds * fps):
            frame = np.full((size[1], size[0]), grey_of_second(k / fps)) + rng.normal(0, 1, (size[1], size[0]))
            vf = av.VideoFrame.from_ndarray(np.clip(frame, 0, 255).astype(np.uint8), format="gray")
            for p in vs.encode(vf):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)


@pytest.fixture(scope="module")
def video_server(tmp_path_factory):
    # requested before `browser` (conftest) by the tests: analyze runs its own event loop, which
    # must not start inside Playwright's
    from coregulate.server.offline.analysis import analyze_session
    from coregulate.server.web.app import Settings, create_app

    d = tmp_path_factory.mktemp("vb")
    write_clock_video(d / "clock.mp4")
    analyze_session([f"video:{d / 'clock.mp4'}?offset={OFFSET}"], d / "out", report=False)
    # one camera per person: the therapist's started 2 s after the client's
    write_clock_video(d / "client_cam.mp4", seconds=40)
    write_clock_video(d / "therapist_cam.mp4", seconds=40)
    analyze_session([f"client=video:{d / 'client_cam.mp4'}", f"therapist=video:{d / 'therapist_cam.mp4'}?offset=2"],
                    d / "two", report=False)
    (d / "data" / "sessions").mkdir(parents=True)
    shutil.copy(d / "out" / "session.sqlite", d / "data" / "sessions" / "vid.sqlite")
    shutil.copy(d / "two" / "session.sqlite", d / "data" / "sessions" / "two.sqlite")
    app = create_app(Settings(data_dir=d / "data", token=SUP, viewer_token=VIEW))
    with ServerThread(app, free_port()) as srv:
        yield srv


def _open_replay(browser, server, token, session="vid"):
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{server.url}/#token={token}")
    page.wait_for_selector("#role-badge")
    page.goto(f"{server.url}/#/replay/{session}")
    page.wait_for_selector("section[aria-label='Session video'] [data-video-status]")
    return ctx, page


SHOWN = """(label) => {
  const v = document.querySelector(`video[aria-label='${label}']`);
  const c = document.createElement("canvas"); c.width = 16; c.height = 12;
  const g = c.getContext("2d"); g.drawImage(v, 0, 0, 16, 12);
  const px = g.getImageData(0, 0, 16, 12).data; let s = 0;
  for (let i = 0; i < px.length; i += 4) s += px[i + 1];
  return { t: v.currentTime, grey: s / (px.length / 4), seeking: v.seeking, ready: v.readyState };
}"""


def _settled(page, want_t: float, timeout=15.0, label="Session video") -> dict:
    t0 = time.time()
    while True:
        shown = page.evaluate(SHOWN, label)
        if shown["ready"] >= 2 and not shown["seeking"] and abs(shown["t"] - want_t) < 0.05:
            return shown
        assert time.time() - t0 < timeout, shown
        time.sleep(0.1)


def _seek(page, t: float) -> None:
    page.evaluate("""(t) => { const s = document.querySelector("input[aria-label='Session time (scrub)']");
                              s.value = t; s.dispatchEvent(new Event('input')); }""", t)


def test_replay_shows_the_frame_at_the_cursor_and_follows_seeks_and_offset(video_server, browser):
    ctx, page = _open_replay(browser, video_server, SUP)
    try:
        page.wait_for_selector("video[aria-label='Session video']:visible", timeout=15000)
        assert "clock.mp4" in page.inner_text("[data-video-status]")
        # seeking moves the video to the session time minus the offset, and shows that frame
        for t in (13, 40, 24):  # the scrub slider moves in whole seconds
            _seek(page, t)
            shown = _settled(page, t - OFFSET)
            assert shown["grey"] == pytest.approx(grey_of_second(t - OFFSET), abs=2.5), (t, shown)
        # the offset control shifts it (and is remembered for this session and video)
        page.fill("input[aria-label='Video offset in seconds']", "10")
        page.dispatch_event("input[aria-label='Video offset in seconds']", "change")
        shown = _settled(page, 24 - 10)
        assert shown["grey"] == pytest.approx(grey_of_second(14), abs=2.5)
        page.click("button:has-text('Find from sound')")  # this test video has no soundtrack: said, offset kept
        page.wait_for_selector("[data-video-found]:has-text('no soundtrack')", timeout=15000)
        assert page.input_value("input[aria-label='Video offset in seconds']") == "10"
        # what the offset applies to is said: the picture; movement was aligned at analysis
        note = page.inner_text("[data-video-offset-note]")
        assert f"offset {OFFSET} s" in note and "picture only" in note and "video:clock.mp4?client=0,0,0.5,1&" in note
        assert "offset=10" in note
        page.screenshot(path=str(OUT / "replay-video.png"), full_page=True)
        page.reload()
        page.wait_for_selector("video[aria-label='Session video']:visible", timeout=15000)
        assert page.input_value("input[aria-label='Video offset in seconds']") == "10"
        assert not page.errors, page.errors
    finally:
        ctx.close()


def test_viewer_without_video_permission_sees_no_video(video_server, browser):
    ctx, page = _open_replay(browser, video_server, VIEW)
    try:
        page.wait_for_selector("[data-video-status]:has-text('not shared with viewers')", timeout=15000)
        assert page.locator("video").count() == 0  # no element, no link
        assert page.locator(".clock").count() == 1  # the replay itself works
        assert not page.errors, page.errors
    finally:
        ctx.close()


def test_each_persons_video_plays_beside_the_traces_at_its_own_offset(video_server, browser):
    ctx, page = _open_replay(browser, video_server, SUP, session="two")
    try:
        for who in ("client", "therapist"):
            page.wait_for_selector(f"video[aria-label='Session video ({who})']:visible", timeout=15000)
        statuses = page.locator("[data-video-status]").all_inner_texts()
        assert any("client_cam.mp4 (client)" in t for t in statuses) and any("therapist_cam.mp4 (therapist)" in t
                                                                              for t in statuses)
        for t in (12, 30):
            _seek(page, t)
            for who, offset in (("client", 0.0), ("therapist", 2.0)):
                shown = _settled(page, t - offset, label=f"Session video ({who})")
                assert shown["grey"] == pytest.approx(grey_of_second(t - offset), abs=2.5), (who, t, shown)
        box = "input[aria-label='Video offset in seconds (therapist)']"
        page.fill(box, "5")
        page.dispatch_event(box, "change")
        shown = _settled(page, 30 - 5, label="Session video (therapist)")
        assert shown["grey"] == pytest.approx(grey_of_second(25), abs=2.5)
        notes = page.locator("[data-video-offset-note]").all_inner_texts()
        assert "analyze again" not in notes[0] and "therapist=video:therapist_cam.mp4?offset=5" in notes[1]
        page.screenshot(path=str(OUT / "replay-two-videos.png"), full_page=True)
        assert not page.errors, page.errors
    finally:
        ctx.close()
